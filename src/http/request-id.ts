// Every request's id: the client's X-Request-Id when it is sane (a proxy's or a caller's own,
// so one id follows a request across systems), otherwise one made here. It goes back in the
// answer's X-Request-Id, into the request's log lines and into every error body.
// every-request.ts asks first; whoever asks later (errors, logs, the audit) gets the same id.

export const REQUEST_ID_HEADER = "x-request-id";

/** What an id sent by a client may be: short, and nothing that could break a log line or a header. */
const SANE = /^[A-Za-z0-9._:-]{1,128}$/;

// This process' random prefix and a counter: unique without the cost of a random UUID a request.
const PREFIX = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => (b % 36).toString(36)).join("");
let counter = 0;

/** Where a request keeps its id: on the Request itself, which every hook and route is given. */
const ID = Symbol("request id");
type Tagged = Request & { [ID]?: string };

/** The request's id, made (and kept on it) on first asking. */
export function requestIdOf(request: Request): string {
  const tagged = request as Tagged;
  return (tagged[ID] ??= newId(request));
}

function newId(request: Request): string {
  const sent = request.headers.get(REQUEST_ID_HEADER);
  if (sent !== null && SANE.test(sent)) return sent;
  return `${PREFIX}-${(++counter).toString(36)}`;
}
