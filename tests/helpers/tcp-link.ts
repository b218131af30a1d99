/**
 * A TCP relay on loopback in front of a server: clients connect to the relay, and a test cuts
 * the link for real (every relayed connection destroyed, new ones refused) and restores it.
 * TLS passes through untouched. This is a network drop as the client's socket sees it.
 */
import net from 'node:net';

export interface TcpLink {
  /** The relay's port on 127.0.0.1. */
  readonly port: number;
  /** Destroys every relayed connection and refuses new ones until `restore()`. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpLink(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpLink> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  let up = true;
  const server = net.createServer((client) => {
    if (!up) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const cut = (): void => {
    up = false;
    for (const [client, upstream] of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };
  return {
    port,
    cut,
    restore: () => {
      up = true;
    },
    close: () => {
      cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
