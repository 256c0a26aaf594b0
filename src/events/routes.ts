import { Elysia } from "elysia";
import type { Catalog } from "../events/catalog";

export const eventRoutes = (s: { catalog: Catalog }) =>
  // A bare array, as the original answered.
  new Elysia().get("/events", () => s.catalog.events());
