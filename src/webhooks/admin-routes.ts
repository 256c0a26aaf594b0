// The operator's webhook routes (/admin/webhooks...), behind the admin token like every /admin
// route: endpoints (register, list, read, change, delete, rotate the secret) and their
// deliveries (list, retry). A path id that is no id is 404 as an unknown one. A secret is
// answered twice only: on registering and on rotating.
import { Type } from "@sinclair/typebox";
import type { Sql } from "../store/db";
import { during, fail } from "../core/errors";
import type { Config } from "../config/config";
import type { Logger } from "../core/log";
import { adminScope } from "../admin/auth";
import { auditContext, logChange, type AuditContext } from "../admin/audit";
import { DEFAULT_LIMIT, MAX_LIMIT, pagingFields } from "../admin/bookings";
import { onlyKnownFields } from "../admin/events";
import { pathId } from "../admin/ids";
import { checked, CreateWebhookBody, UpdateWebhookBody } from "./admin-input";
import { createWebhook, deleteWebhook, findWebhook, listWebhooks, rotateSecret, unknownWebhook, updateWebhook } from "./endpoints";
import { cursor, deliveriesPage, deliveryIdOf, retryDelivery } from "./deliveries";

const DeliveriesQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([Type.Literal("pending"), Type.Literal("delivered"), Type.Literal("failed")], {
      description: "expected pending, delivered or failed",
    })),
    ...pagingFields,
  },
  { description: "expected status, cursor and limit" },
);

/** The endpoint a path names: its id, or 404 unknown_webhook for anything that is none. */
const endpointId = (text: string): number => pathId(text) ?? (() => { throw unknownWebhook(); })();

export const adminWebhookRoutes = (s: { config: Config; log: Logger; sql: Sql }) => {
  // a change's log line once it committed (src/admin/audit.ts)
  const db = <T>(audit: AuditContext, step: () => Promise<T>) =>
    during("PostgreSQL", step).then((result) => (logChange(s.log, audit), result));
  return adminScope(s)
    .post(
      "/webhooks",
      async ({ body, set, ...context }) => {
        const input = checked(body);
        const audit = auditContext(s, context);
        const created = await db(audit, () => createWebhook(s.sql, input, audit));
        set.status = 201;
        return created;
      },
      { body: CreateWebhookBody, transform: onlyKnownFields(CreateWebhookBody) },
    )
    .get("/webhooks", async () => ({ webhooks: await during("PostgreSQL", () => listWebhooks(s.sql)) }))
    .get("/webhooks/:id", async ({ params }) => {
      const id = endpointId(params.id);
      const webhook = await during("PostgreSQL", () => findWebhook(s.sql, id));
      if (!webhook) throw unknownWebhook();
      return webhook;
    })
    .patch(
      "/webhooks/:id",
      ({ body, params, ...context }) => {
        const id = endpointId(params.id);
        const patch = checked(body);
        const audit = auditContext(s, context);
        return db(audit, () => updateWebhook(s.sql, id, patch, audit));
      },
      { body: UpdateWebhookBody, transform: onlyKnownFields(UpdateWebhookBody) },
    )
    .delete("/webhooks/:id", ({ params, ...context }) => {
      const id = endpointId(params.id);
      const audit = auditContext(s, context);
      return db(audit, () => deleteWebhook(s.sql, id, audit));
    })
    .post("/webhooks/:id/rotate-secret", ({ params, ...context }) => {
      const id = endpointId(params.id);
      const audit = auditContext(s, context);
      return db(audit, () => rotateSecret(s.sql, id, audit));
    })
    .get(
      "/webhooks/:id/deliveries",
      async ({ params, query }) => {
        const limit = query.limit === undefined ? DEFAULT_LIMIT : Number(query.limit);
        if (limit > MAX_LIMIT) throw fail("invalid_input", `limit: expected a whole number from 1 to ${MAX_LIMIT}`);
        const id = endpointId(params.id);
        let before: number | null = null;
        if (query.cursor !== undefined) {
          before = cursor.decode(id, query.cursor);
          if (before === null) throw fail("invalid_cursor", "this endpoint's deliveries");
        }
        const page = await during("PostgreSQL", () => deliveriesPage(s.sql, id, query.status, before, limit));
        if (!page) throw unknownWebhook();
        return { deliveries: page.deliveries, next_cursor: page.more ? cursor.encode(id, page.deliveries.at(-1)!.id) : null };
      },
      { query: DeliveriesQuery },
    )
    .post("/webhooks/deliveries/:id/retry", ({ params, ...context }) => {
      const audit = auditContext(s, context);
      return db(audit, () => retryDelivery(s.sql, deliveryIdOf(params.id), audit));
    });
};
