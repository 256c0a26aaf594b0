// The Server-Sent Events wire format (what the browser's EventSource reads), and the headers
// that keep proxies from buffering or caching a stream.
const encoder = new TextEncoder();

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no", // nginx: pass each message on at once
} as const;

export const sse = {
  /** One message. `data` must be one line (JSON.stringify without indentation is). */
  event: (id: number, name: string, data: string) => encoder.encode(`id: ${id}\nevent: ${name}\ndata: ${data}\n\n`),
  /** A comment line: ignored by EventSource, keeps proxies from closing a quiet connection. */
  comment: (text: string) => encoder.encode(`: ${text}\n\n`),
  /** How long EventSource waits before reconnecting once the connection is gone. */
  retry: (ms: number) => encoder.encode(`retry: ${ms}\n\n`),
};

/** The id a reconnecting EventSource sends back (Last-Event-ID), so ids keep growing; else 0. */
export function lastEventIdOf(header: string | null): number {
  if (header === null || !/^\d{1,15}$/.test(header)) return 0;
  return Number(header);
}
