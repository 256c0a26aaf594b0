// Request bodies: JSON whatever the content type says (clients of the original sent it without
// one), never more than 64 KiB (counted while reading, so a chunked upload cannot dodge it),
// strict UTF-8 (a lossy decode would turn different bytes into one U+FFFD, and so different
// user ids into one user), and at most MAX_BODY_DEPTH levels deep (validating a deeply nested
// body costs the validator seconds and gigabytes: one request could stall every other). Every
// body is read here: Elysia's own parser decodes lossily, and ours costs under a microsecond more.
import { fail } from "../core/errors";

export const BODY_LIMIT_BYTES = 64 * 1024;
/** Our bodies are flat objects; anything nested deeper than this is not one of them. */
export const MAX_BODY_DEPTH = 8;

export class BodyTooLarge extends Error {
  constructor() {
    super(`request body is larger than ${BODY_LIMIT_BYTES / 1024} KiB`);
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Elysia's parse hook. */
export function parseBody(request: Request): Promise<unknown> {
  const declared = request.headers.get("content-length");
  if (Number(declared ?? 0) > BODY_LIMIT_BYTES) throw new BodyTooLarge();
  return readJsonBody(request);
}

export async function readJsonBody(request: Request): Promise<unknown> {
  if (!request.body) return {};
  // With a declared length the body is read at once; a chunked upload is counted as it streams.
  const bytes = request.headers.get("content-length") !== null ? await request.arrayBuffer() : await readCapped(request.body);
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw fail("invalid_json");
  }
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw fail("invalid_json");
  }
  if (deeperThan(value, MAX_BODY_DEPTH)) {
    throw fail("invalid_input", `body: nested more than ${MAX_BODY_DEPTH} levels deep`);
  }
  return value;
}

/** Whether a JSON value nests objects or arrays more than `max` levels; stops at the first too deep. */
export function deeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    if (depth >= max) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

async function readCapped(body: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > BODY_LIMIT_BYTES) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
