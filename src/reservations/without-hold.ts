// Confirm and release of a token PostgreSQL has no hold for: Redis says why.
import { AppError, conflict, during, gone, RETRY_AFTER_SECONDS } from "../errors";
import type { Services } from "../services";
import type { TokenParts } from "../tokens";

export async function redisState(s: Services, parts: TokenParts): Promise<string> {
  const k = s.keys(parts.ticketTypeId);
  return (await during("Redis", () => s.redis.hget(k.record(parts.id), "state"))) ?? "";
}

export function refuseWithoutHold(state: string, action: "confirm" | "release"): never {
  switch (state) {
    case "queued":
      throw conflict("not_reserved", `nothing to ${action} yet: you are still in the queue`);
    case "pending":
      throw new AppError(409, "in_progress", "your turn is being served right now; try again in a moment", {
        "retry-after": String(RETRY_AFTER_SECONDS),
      });
    case "sold_out":
      throw conflict("sold_out", "sold out: no tickets were held for this token");
    case "duplicate":
      throw conflict("duplicate", "you already hold tickets of this type with another token");
    case "released":
      throw conflict("released", "this place was given back");
    case "invalid":
      throw conflict("invalid", "this place could not be served (its request was damaged); join the queue again");
    case "limit_reached":
      throw conflict("limit_reached", "you already booked as many tickets of this type as one person may");
    default:
      throw gone("place_lost", "this token's place in the queue was lost; join the queue again");
  }
}
