/** HTTPS server over the Express app; resolves once listening with the bound port. */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { TlsMaterial } from './certificates';

export async function listenHttps(
  app: Express,
  tls: TlsMaterial,
  host: string,
  port: number,
): Promise<{ server: https.Server; port: number }> {
  const server = https.createServer({ cert: tls.cert, key: tls.key }, app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}
