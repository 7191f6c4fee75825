/**
 * A TCP proxy in front of a real server, for fault tests: `outage()` drops every connection through it and
 * refuses new ones, as a restarting database server does to its clients; `restore()` lets connections
 * through again.
 */
import { createServer, type Server, type Socket, connect } from 'node:net';

export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private down = false;
  private server!: Server;
  port = 0;

  constructor(
    private readonly host: string,
    private readonly targetPort: number,
  ) {}

  async listen(): Promise<this> {
    this.server = createServer((client) => {
      if (this.down) return void client.destroy();
      const upstream = connect(this.targetPort, this.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {}); // (a reset is what these tests make happen)
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  /** Every connection is cut, and new ones are refused until restore(). */
  outage(): void {
    this.down = true;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.down = false;
  }

  async close(): Promise<void> {
    this.outage();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
