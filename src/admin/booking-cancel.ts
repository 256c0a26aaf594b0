// POST /admin/bookings/:id/cancel: the operator cancels a booking, as the shop can
// (src/admin/cancel.ts): its tickets go back on sale once, the person may book again.
import type { Config } from "../config/config";
import { BookingParams, CancelBody, cancelBooking, type CancelDeps } from "./cancel";
import { auditContext } from "./audit";
import { adminScope } from "./auth";
import { pathId } from "./ids";
import { Type as t } from "@sinclair/typebox";
import { onlyKnownFields } from "./events";

export const adminCancelRoutes = (s: CancelDeps & { config: Config }) =>
  adminScope(s).post("/bookings/:id/cancel", ({ params, body, ...context }) =>
    cancelBooking(s, pathId(params.id), body?.reason ?? null, auditContext(s, context)), {
    params: BookingParams, body: t.Optional(CancelBody), transform: onlyKnownFields(CancelBody),
  });
