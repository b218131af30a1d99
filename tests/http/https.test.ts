/**
 * HTTPS: with no certificate present the server generates a self-signed one, serves over TLS,
 * and the probes answer JSON with the worker count.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { DEV_CERT, DEV_KEY } from '../../server/http/certificates';
import { startTestServer, type TestServer } from '../helpers/server';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ MEDIASOUP_WORKERS: '2' });
});
afterAll(() => server.close());

function get(url: string): Promise<{ status: number; type: string; body: unknown; peerCert: Buffer }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { rejectUnauthorized: false }, (res) => {
        const peerCert = (res.socket as TLSSocket).getPeerCertificate().raw;
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: JSON.parse(text), peerCert }),
        );
      })
      .on('error', reject);
  });
}

test('a self-signed certificate is generated when certs/ has none, key not world-readable', () => {
  const certFile = path.join(server.certsDir, DEV_CERT);
  const keyFile = path.join(server.certsDir, DEV_KEY);
  expect(fs.existsSync(certFile)).toBe(true);
  expect(fs.statSync(keyFile).mode & 0o077).toBe(0);
  const cert = new crypto.X509Certificate(fs.readFileSync(certFile));
  expect(cert.subjectAltName).toContain('DNS:localhost');
  expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
});

test('GET /healthz over TLS returns JSON with the worker count, served with that certificate', async () => {
  const res = await get(`${server.url}/healthz`);
  expect(res.status).toBe(200);
  expect(res.type).toMatch(/application\/json/);
  expect(res.body).toMatchObject({ status: 'ok', workers: { alive: 2, configured: 2 } });
  const onDisk = new crypto.X509Certificate(fs.readFileSync(path.join(server.certsDir, DEV_CERT)));
  expect(new crypto.X509Certificate(res.peerCert).fingerprint256).toBe(onDisk.fingerprint256);
});

test('GET /readyz is 200 while workers are up; unknown routes are JSON 404s', async () => {
  expect(await get(`${server.url}/readyz`)).toMatchObject({ status: 200, body: { status: 'ready' } });
  expect(await get(`${server.url}/nope`)).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
});

test('a second start reuses the generated certificate instead of making a new one', async () => {
  const before = fs.readFileSync(path.join(server.certsDir, DEV_CERT), 'utf8');
  const second = await startTestServer({ CERTS_DIR: server.certsDir });
  try {
    const res = await get(`${second.url}/healthz`);
    expect(new crypto.X509Certificate(res.peerCert).toString()).toBe(new crypto.X509Certificate(before).toString());
  } finally {
    await second.close();
  }
});
