// Ids in admin paths: whole numbers PostgreSQL's integer can hold.
import { Type } from "@sinclair/typebox";

/** A path id, or null for anything else (past 2147483647 too): the caller answers 404 or 400. */
export function pathId(text: string): number | null {
  if (!/^[1-9][0-9]{0,9}$/.test(text)) return null;
  const id = Number(text);
  return id <= 2147483647 ? id : null;
}

/** Routes that answer a malformed id 400 (rather than 404) validate it with this. */
export const IdParams = Type.Object(
  { id: Type.String({ pattern: "^[1-9][0-9]{0,9}$", description: "expected a whole number from 1 to 2147483647" }) },
  { description: "expected an id" },
);
