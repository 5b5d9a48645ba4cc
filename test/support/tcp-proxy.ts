import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy a test controls, to break connections to a shared server (RabbitMQ) without
 * touching the server: cutAll() destroys both ends of every proxied connection, as a network
 * failure would; refuseConnections() makes new connections fail until it is turned off.
 */
export class TcpProxy {
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private refusing = false;
  private accepted = 0;
  private refused = 0;
  private readonly refusalWaiters = new Set<() => void>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy did not get a TCP port');
    const proxy = new TcpProxy(server, address.port);
    server.on('connection', (client) => proxy.accept(client, target));
    return proxy;
  }

  /** Connections accepted and forwarded so far. */
  get connectionsAccepted(): number {
    return this.accepted;
  }

  /** Resolves once `count` connections in all have been refused. */
  refusals(count: number): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.refused < count) return;
        this.refusalWaiters.delete(check);
        resolve();
      };
      this.refusalWaiters.add(check);
      check();
    });
  }

  cutAll(): void {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  refuseConnections(refuse: boolean): void {
    this.refusing = refuse;
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, target: { host: string; port: number }): void {
    if (this.refusing) {
      client.destroy();
      this.refused += 1;
      for (const wake of this.refusalWaiters) wake();
      return;
    }
    this.accepted += 1;
    const upstream = createConnection(target);
    const pair = { client, upstream };
    this.pairs.add(pair);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
