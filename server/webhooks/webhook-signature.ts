/**
 * Webhook signatures: HMAC-SHA256, keyed with WEBHOOK_SECRET, over `<timestamp>.<raw body>`
 * (the timestamp is signed too, so a captured request cannot be replayed later with a fresh
 * one). Headers: `X-Confsfu-Timestamp: <unix seconds>`, `X-Confsfu-Signature: sha256=<hex>`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-confsfu-signature';
export const TIMESTAMP_HEADER = 'x-confsfu-timestamp';
export const EVENT_HEADER = 'x-confsfu-event';

export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * What a receiver does (written for receivers in Node; README shows it): the signature matches,
 * in constant time, and the timestamp is within `toleranceSeconds` of now.
 */
export function verifyWebhook(
  secret: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  rawBody: string,
  { toleranceSeconds = 300, nowSeconds = Math.floor(Date.now() / 1000) } = {},
): boolean {
  const timestamp = Number(headers.timestamp);
  if (!headers.signature || !Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, rawBody));
  const given = Buffer.from(headers.signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
