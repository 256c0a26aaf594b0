// A TCP proxy in front of the real Redis or PostgreSQL, to cut a service off from it and give
// it back, as a network outage or a restart would, without touching the shared server.
import net from "node:net";

export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  private down = false;
  private cutWhenSent: string | null = null;

  private constructor(private readonly server: net.Server, readonly port: number) {}

  static async start(target: string): Promise<TcpProxy> {
    const url = new URL(target);
    const host = url.hostname;
    const targetPort = Number(url.port || (url.protocol.startsWith("redis") ? 6379 : 5432));
    let proxy: TcpProxy;
    const server = net.createServer((client) => {
      if (proxy.down) return client.destroy();
      const upstream = net.connect(targetPort, host);
      for (const s of [client, upstream]) {
        proxy.sockets.add(s);
        s.on("close", () => proxy.sockets.delete(s));
        s.on("error", () => {});
      }
      client.on("data", (chunk: Buffer) => {
        // reset, not closed: what a server that died (or a network) leaves its clients with
        if (proxy.cutWhenSent !== null && chunk.includes(proxy.cutWhenSent)) for (const s of [client, upstream]) s.resetAndDestroy();
      });
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  /** The URL to give the service: the target's, pointed at this proxy. */
  url(target: string): string {
    const url = new URL(target);
    url.hostname = "127.0.0.1";
    url.port = String(this.port);
    return url.toString();
  }

  /** Drops every connection and refuses new ones. */
  cut(): void {
    this.down = true;
    for (const s of this.sockets) s.destroy();
  }

  /** From now on, resets any connection whose client sends `text` (null: none), the moment it does. */
  cutWhenClientSends(text: string | null): void {
    this.cutWhenSent = text;
  }

  restore(): void {
    this.down = false;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
