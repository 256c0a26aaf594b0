// Change notices across instances. settle-4.lua, finish-2.lua, leave-1.lua and cancel-2.lua
// publish, on the type's changes:{T} channel, the ids of tokens whose state changed where the
// served mark does not show it (a confirm, release, expiry or cancel, on any instance). One subscriber connection per
// instance listens to the types it holds streams of. A notice lost while disconnected is made
// good on reconnecting: every channel is subscribed again and `subscribed` is called for each
// type, whose streams then look themselves up.
// On a Redis Cluster every node hears every PUBLISH (classic pub/sub goes over the cluster
// bus), so the subscriber is one connection to any node; when that node goes, another is
// taken and everything is subscribed again, as after a reconnect.
import Redis, { type RedisOptions } from "ioredis";
import { throttled, type Logger } from "../core/log";

/** Where the subscriber connects: one Redis's URL, or (a cluster) the nodes known now, to try in turn. */
export type NoticeSource = { url: string } | { nodes: () => { host: string; port: number }[] };

/** A notice naming no token but the whole ticket type: the operator paused, resumed or moved its sale (src/admin/events.ts). */
export const EVERY_STREAM = "*";

export type NoticeHandlers = {
  /** Tokens of this type changed. */
  notice(ticketTypeId: number, ids: string[]): void;
  /** The type's channel is listened to from now on (first time, or again after a reconnect). */
  subscribed(ticketTypeId: number): void;
};

export class ChangeNotices {
  private subscriber: Redis | null = null;
  /** channel -> ticket type */
  private readonly channels = new Map<string, number>();
  /** At most one line every 5 s: ioredis repeats its error on every reconnect attempt. */
  private readonly warn = throttled((message: string, err: unknown) => this.log.warn(message, { error: err }));
  /** Connections made to cluster nodes, to take the next node each time. */
  private attempts = 0;

  constructor(
    private readonly source: NoticeSource,
    private readonly channelOf: (ticketTypeId: number) => string,
    private readonly handlers: NoticeHandlers,
    private readonly log: Logger,
  ) {}

  watch(ticketTypeId: number): void {
    const channel = this.channelOf(ticketTypeId);
    if (this.channels.has(channel)) return;
    this.channels.set(channel, ticketTypeId);
    const subscriber = this.connection();
    if (subscriber.status === "ready") this.subscribe(subscriber, [channel]);
    // otherwise 'ready' subscribes to every channel
  }

  unwatch(ticketTypeId: number): void {
    const channel = this.channelOf(ticketTypeId);
    if (!this.channels.delete(channel)) return;
    if (this.subscriber?.status === "ready") this.subscriber.unsubscribe(channel).catch(() => {});
  }

  close(): void {
    this.subscriber?.disconnect();
    this.subscriber = null;
    this.channels.clear();
  }

  private connection(): Redis {
    if (this.subscriber) return this.subscriber;
    const options: RedisOptions = {
      lazyConnect: true,
      autoResubscribe: false, // 'ready' does it, and tells the hub which types to look up again
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 3000,
      retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    };
    let subscriber: Redis;
    if ("url" in this.source) {
      subscriber = new Redis(this.source.url, options);
    } else {
      const nodes = this.source.nodes();
      const node = nodes[this.attempts++ % nodes.length]!;
      // no reconnecting to a node that went away: 'end' below moves on to the next one
      subscriber = new Redis({ ...options, ...node, retryStrategy: () => null });
      subscriber.on("end", () => {
        if (this.subscriber !== subscriber) return;
        this.subscriber = null;
        setTimeout(() => {
          if (!this.subscriber && this.channels.size > 0) this.connection();
        }, Math.min(this.attempts * 100, 1000));
      });
    }
    subscriber.on("message", (channel: string, message: string) => {
      const ticketTypeId = this.channels.get(channel);
      if (ticketTypeId !== undefined) this.handlers.notice(ticketTypeId, message.split(","));
    });
    subscriber.on("ready", () => this.subscribe(subscriber, [...this.channels.keys()]));
    subscriber.on("error", (err) => this.warn("live streams' notice connection problem", err));
    subscriber.connect().catch(() => {}); // it keeps trying; 'ready' says when it is there
    this.subscriber = subscriber;
    return subscriber;
  }

  private subscribe(subscriber: Redis, channels: string[]): void {
    if (channels.length === 0) return;
    subscriber.subscribe(...channels).then(
      () => {
        for (const channel of channels) {
          const ticketTypeId = this.channels.get(channel);
          if (ticketTypeId !== undefined) this.handlers.subscribed(ticketTypeId);
        }
      },
      (err) => this.warn("could not subscribe to change notices; retried on reconnect", err),
    );
  }
}
