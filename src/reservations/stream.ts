// GET /reservation/stream?token=: the status answer as Server-Sent Events, pushed whenever it
// changes (src/reservations/stream-hub.ts decides when), closed after a final status (a booking's stays
// open: it may still be cancelled). The token is checked
// and the first answer made before the stream starts, so refusals are the status route's JSON.
import type { Server } from "bun";
import type { StreamHub } from "./stream-hub";
import { lastEventIdOf, SSE_HEADERS } from "../streams/sse";
import type { TokenParts } from "../domain/tokens";

/** `closed` is called once the stream is gone (or never started): its client's open-stream count (src/rate-limit). */
export async function openStream(
  s: { streams: StreamHub }, parts: TokenParts, token: string, request: Request, server: Server<unknown> | null, closed: () => void = () => {},
): Promise<Response> {
  let stream;
  try {
    stream = await s.streams.open(parts, token, lastEventIdOf(request.headers.get("last-event-id")));
  } catch (err) {
    closed();
    throw err;
  }
  stream.whenGone(closed);
  // The body's cancel() tells of a client gone while streaming; this, of one gone before.
  if (request.signal.aborted) stream.close();
  else request.signal.addEventListener("abort", () => stream.close(), { once: true });
  // Bun's idle timeout counts only what the client sends, so it would cut off a quiet stream.
  // The keep-alive comments find a dead client instead.
  server?.timeout(request, 0);
  return new Response(stream.body, { headers: SSE_HEADERS });
}
