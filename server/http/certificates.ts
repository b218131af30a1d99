/**
 * TLS material for the HTTPS server, in this order:
 *  1. TLS_CERT_FILE + TLS_KEY_FILE when given;
 *  2. mkcert's files in CERTS_DIR (`mkcert localhost 127.0.0.1 ::1` → localhost+2.pem, localhost+2-key.pem);
 *  3. a self-signed development certificate in CERTS_DIR, generated on first start.
 */
import fs from 'node:fs';
import path from 'node:path';
import { generate } from 'selfsigned';
import type { Config } from '../config';
import type { Logger } from '../logger';

export interface TlsMaterial {
  cert: string;
  key: string;
  source: 'configured' | 'mkcert' | 'self-signed' | 'generated';
  certFile: string;
}

export const MKCERT_CERT = 'localhost+2.pem';
export const MKCERT_KEY = 'localhost+2-key.pem';
export const DEV_CERT = 'dev-selfsigned.pem';
export const DEV_KEY = 'dev-selfsigned-key.pem';

function read(certFile: string, keyFile: string, source: TlsMaterial['source']): TlsMaterial {
  return { cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8'), source, certFile };
}

export async function loadTlsMaterial(config: Config['http'], logger: Logger): Promise<TlsMaterial> {
  if (config.certFile && config.keyFile) return read(config.certFile, config.keyFile, 'configured');

  const dir = config.certsDir;
  const mkcert = [path.join(dir, MKCERT_CERT), path.join(dir, MKCERT_KEY)] as const;
  if (mkcert.every((f) => fs.existsSync(f))) return read(...mkcert, 'mkcert');

  const dev = [path.join(dir, DEV_CERT), path.join(dir, DEV_KEY)] as const;
  if (dev.every((f) => fs.existsSync(f))) return read(...dev, 'self-signed');

  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(dev[1], pems.private, { mode: 0o600 });
  fs.writeFileSync(dev[0], pems.cert);
  logger.warn('loadTlsMaterial() | no certificate found: generated a self-signed development certificate', {
    certFile: dev[0],
    keyFile: dev[1],
    hint: 'browsers will warn; use mkcert for a trusted local certificate (certs/README.md)',
  });
  return { cert: pems.cert, key: pems.private, source: 'generated', certFile: dev[0] };
}
