// The hand-off to the shop's checkout: a reserved status carries checkout_url, CHECKOUT_URL with
// hold=<JWT>. The JWT (EdDSA) says who holds what, for how much, until when; the shop verifies
// it offline against GET /.well-known/jwks.json and confirms through /shop with its queue_token.
// Its claims are read from PostgreSQL (the hold's truth, as GET /shop/holds/:token reads them),
// once per hold and deadline: the URL is kept, so polls and streams repeat the same text.
import type { KeyObject } from "node:crypto";
import { SignJWT } from "jose";
import type { Config } from "../config/config";
import type { Sql } from "../store/db";
import type { Logger } from "../core/log";
import type { Tokens } from "../domain/tokens";
import { shopHold } from "../holds/shop-hold";
import { checkoutSigningKey, checkoutVerifyingKey, publishedKey, type PublishedKey } from "../config/checkout-keys";

/** The claims a shop reads (RFC 7519 names, and the hold's own). */
export type CheckoutClaims = {
  iss: string;
  aud: string;
  sub: string;
  jti: string;
  queue_token: string;
  ticket_type_id: number;
  quantity: number;
  amount: number;
  currency: string;
  iat: number;
  exp: number;
};

/** Hand-offs kept per instance thread: more than the holds of a big sale; the oldest go first. */
const KEPT_URLS = 50_000;

export class CheckoutHandOff {
  private readonly signingKey: KeyObject;
  private readonly kid: Promise<string>;
  private readonly published: Promise<PublishedKey[]>;
  /** "<token> <expires_at>" -> its URL (a promise: concurrent readers of one hold sign once). */
  private readonly urls = new Map<string, Promise<string | null>>();

  /** null without CHECKOUT_URL: no hand-off, statuses carry no checkout_url. */
  static fromConfig(config: Config, sql: Sql, log: Logger, tokens: Tokens): CheckoutHandOff | null {
    return config.CHECKOUT_URL && config.CHECKOUT_SIGNING_KEY ? new CheckoutHandOff(config, sql, log, tokens) : null;
  }

  private constructor(
    private readonly config: Config, private readonly sql: Sql, private readonly log: Logger, private readonly tokens: Tokens,
  ) {
    this.signingKey = checkoutSigningKey(config.CHECKOUT_SIGNING_KEY!)!; // checked by loadEnv
    const current = publishedKey(checkoutVerifyingKey(config.CHECKOUT_SIGNING_KEY!)!);
    const previous = config.CHECKOUT_SIGNING_KEY_PREVIOUS ? [publishedKey(checkoutVerifyingKey(config.CHECKOUT_SIGNING_KEY_PREVIOUS)!)] : [];
    this.published = Promise.all([current, ...previous]);
    this.kid = current.then((key) => key.kid);
  }

  /** The JWK Set: the current key first, then the previous one while keys rotate. */
  async jwks(): Promise<{ keys: PublishedKey[] }> {
    return { keys: await this.published };
  }

  /**
   * The checkout URL of a hold with this deadline, or null when PostgreSQL no longer has it
   * reserved (confirmed or ended meanwhile) or cannot be reached (the next status asks again).
   */
  urlFor(token: string, expiresAt: string): Promise<string | null> {
    const key = `${token} ${expiresAt}`;
    let url = this.urls.get(key);
    if (!url) {
      url = this.sign(token).catch((err) => {
        this.urls.delete(key);
        this.log.warn("could not sign a checkout hand-off", { error: err });
        return null;
      });
      if (this.urls.size >= KEPT_URLS) this.urls.delete(this.urls.keys().next().value!);
      this.urls.set(key, url);
    }
    return url;
  }

  private async sign(token: string): Promise<string | null> {
    const hold = await shopHold(this.sql, token);
    if (hold.status !== "reserved") return null;
    const claims: Omit<CheckoutClaims, "iat"> = {
      iss: this.config.PUBLIC_URL!,
      aud: this.config.CHECKOUT_AUDIENCE,
      sub: hold.user_id,
      jti: this.tokens.verify(token)!.id, // (verified by the caller; only a new hand-off reads it) the hold's own id: a shop may keep it to refuse a hand-off used twice
      queue_token: token,
      ticket_type_id: hold.ticket_type_id,
      quantity: hold.quantity,
      amount: hold.amount,
      currency: hold.currency,
      exp: Math.floor(Date.parse(hold.expires_at) / 1000), // never past the hold
    };
    const jwt = await new SignJWT(claims)
      .setProtectedHeader({ alg: "EdDSA", typ: "JWT", kid: await this.kid })
      .setIssuedAt()
      .sign(this.signingKey);
    const url = new URL(this.config.CHECKOUT_URL!);
    url.searchParams.set("hold", jwt);
    return url.href;
  }
}
