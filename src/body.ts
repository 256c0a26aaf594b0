// Request bodies: JSON whatever the content type says (clients of the original sent it without
// one), and never more than 64 KiB, counted while reading so a chunked upload cannot dodge it.
// Declared JSON of a declared length, nearly every request, goes to Elysia's own parser, which
// is the fastest; this module reads the rest. Elysia's parser only takes a content type that,
// cut at its first ";", is exactly "application/json" (no space, no capitals, no +json): any
// other goes by it unread and the body would be missing.
import { badRequest } from "./errors";

export const BODY_LIMIT_BYTES = 64 * 1024;

export class BodyTooLarge extends Error {
  constructor() {
    super(`request body is larger than ${BODY_LIMIT_BYTES / 1024} KiB`);
  }
}

/**
 * Elysia's parse hook: undefined leaves the body to Elysia's own JSON parser. `contentType` is
 * what Elysia passes, the header cut at its first ";", which its parser then matches exactly.
 */
export function parseBody(request: Request, contentType: string): Promise<unknown> | undefined {
  const declared = request.headers.get("content-length");
  if (Number(declared ?? 0) > BODY_LIMIT_BYTES) throw new BodyTooLarge();
  if (declared !== null && contentType === "application/json") return undefined;
  return readJsonBody(request);
}

export async function readJsonBody(request: Request): Promise<unknown> {
  if (!request.body) return {};
  // With a declared length the body is read at once; a chunked upload is counted as it streams.
  const declared = request.headers.get("content-length");
  const text = declared !== null ? await request.text() : await readCapped(request.body);
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest("invalid_json", "request body is not valid JSON");
  }
}

async function readCapped(body: ReadableStream<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > BODY_LIMIT_BYTES) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}
