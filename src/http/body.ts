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

/**
 * Elysia's parse hook. A declared length is checked before reading and read at once; without
 * one (chunked), the body is counted as it streams.
 */
export function parseBody(request: Request): unknown {
  const declared = request.headers.get("content-length");
  if (declared === null) {
    const stream = request.body;
    return stream === null ? {} : readCapped(stream).then(jsonOf);
  }
  if (Number(declared) > BODY_LIMIT_BYTES) throw new BodyTooLarge();
  return request.arrayBuffer().then(jsonOf);
}

function jsonOf(bytes: ArrayBuffer | Uint8Array): unknown {
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
  if (max >= 1 && isFlatObject(value)) return false; // every body we take: no walk
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    if (depth >= max) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

/** A value that is no object, or an object none of whose values is one: one level at most. */
function isFlatObject(value: unknown): boolean {
  if (value === null || typeof value !== "object") return true;
  if (Array.isArray(value)) return false;
  for (const key in value) {
    const child = (value as Record<string, unknown>)[key];
    if (child !== null && typeof child === "object") return false;
  }
  return true;
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
