// What POST and PATCH /admin/webhooks take, and what their schemas cannot say: a url that is
// http or https, without credentials, at most 2,048 characters once normalized (as stored and
// fetched). Each description is what a refusal says about its field (src/app.ts): nothing a
// client sends is echoed.
import { Type, type Static } from "@sinclair/typebox";
import { fail } from "../core/errors";
import { LINES, ONE_LINE } from "../admin/events";
import { SUBSCRIBABLE } from "./event-types";

export const MAX_URL_LENGTH = 2048; // the column's check (sql/0012)

const fields = {
  url: Type.String({
    minLength: 1, maxLength: MAX_URL_LENGTH, pattern: ONE_LINE,
    description: `expected an http or https URL of at most ${MAX_URL_LENGTH} characters, without user name or password`,
  }),
  events: Type.Array(Type.Union(SUBSCRIBABLE.map((e) => Type.Literal(e))), {
    minItems: 1, maxItems: 100,
    description: `expected a non-empty array of event types: ${SUBSCRIBABLE.join(", ")} (* for all)`,
  }),
  description: Type.String({
    maxLength: 500, pattern: LINES, description: "expected a text of at most 500 characters, without control characters but line breaks and tabs",
  }),
  enabled: Type.Boolean({ description: "expected true or false" }),
};
const strict = { additionalProperties: false } as const;

export const CreateWebhookBody = Type.Object(
  { url: fields.url, events: fields.events, description: Type.Optional(fields.description) },
  { ...strict, description: "expected a JSON object {url, events, description?} and nothing else" },
);
export const UpdateWebhookBody = Type.Partial(Type.Object({ ...fields }), {
  ...strict,
  minProperties: 1,
  description: "expected a JSON object with at least one of {url, events, enabled, description} and nothing else",
});

export type WebhookInput = Static<typeof CreateWebhookBody>;
export type WebhookPatch = Static<typeof UpdateWebhookBody>;

/** The input as stored: the url normalized (WHATWG), events each once; throws 400 invalid_input. */
export function checked<T extends WebhookPatch>(input: T): T {
  const out = { ...input };
  if (input.url !== undefined) out.url = normalizedUrl(input.url);
  if (input.events !== undefined) out.events = [...new Set(input.events)];
  // a lone surrogate ("\ud800" in JSON) would be stored as U+FFFD: refused, not changed
  if (input.description !== undefined && !input.description.isWellFormed()) {
    throw fail("invalid_input", `description: ${fields.description.description}`);
  }
  return out;
}

function normalizedUrl(text: string): string {
  const refused = () => fail("invalid_input", `url: ${fields.url.description}`);
  if (!text.isWellFormed() || !URL.canParse(text)) throw refused();
  const url = new URL(text);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw refused();
  if (url.username !== "" || url.password !== "" || url.hostname === "") throw refused();
  // percent-encoding may lengthen it: the stored form must fit too
  if (url.href.length > MAX_URL_LENGTH) throw refused();
  return url.href;
}
