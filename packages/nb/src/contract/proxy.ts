import { type Server, type Socket, createConnection, createServer } from 'node:net';

/**
 * A TCP forwarder between a client and a DB server. The contract suite points
 * drivers at it so it can cut every connection at once (a network failure) while the
 * server keeps running; it forwards to the same port after a server restart.
 */
export class TcpProxy {
  private readonly pairs = new Set<Socket>();
  private server: Server | undefined;
  port = 0;

  private constructor(private readonly target: { host: string; port: number }) {}

  static async start(target: { host: string; port: number }, listenPort = 0): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    await proxy.listen(listenPort);
    return proxy;
  }

  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Destroys every forwarded connection; new connections are accepted at once. */
  dropConnections(): void {
    for (const s of this.pairs) s.destroy();
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.dropConnections();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  private async listen(port: number): Promise<void> {
    const server = createServer((client) => this.forward(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : port;
    this.server = server;
  }

  private forward(client: Socket): void {
    const upstream = createConnection(this.target.port, this.target.host);
    this.pairs.add(client);
    this.pairs.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(client);
      this.pairs.delete(upstream);
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  }
}
