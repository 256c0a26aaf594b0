// Request bodies: JSON whatever the content type says (clients of the original sent it without
// one), and never more than 64 KiB, counted while reading so a chunked upload cannot dodge it.
import { badRequest } from "./errors";

export const BODY_LIMIT_BYTES = 64 * 1024;

export class BodyTooLarge extends Error {
  constructor() {
    super(`request body is larger than ${BODY_LIMIT_BYTES / 1024} KiB`);
  }
}

export async function readJsonBody(request: Request): Promise<unknown> {
  if (Number(request.headers.get("content-length") ?? 0) > BODY_LIMIT_BYTES) throw new BodyTooLarge();
  if (!request.body) return {};
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > BODY_LIMIT_BYTES) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest("invalid_json", "request body is not valid JSON");
  }
}
