import { Elysia } from "elysia";
import type { Services } from "../services";

export const eventRoutes = (s: Services) =>
  // A bare array, as the original answered.
  new Elysia().get("/events", () => s.catalog.events());
