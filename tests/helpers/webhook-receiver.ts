/**
 * A real HTTP webhook receiver on loopback for tests: records every request (headers, raw body)
 * and answers each one as `answer(n)` says — a status, a status after a delay (a slow receiver), or
 * 'hang' (never answers).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebhookEvent } from '../../server/webhooks/webhook-events';

export interface ReceivedRequest {
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: WebhookEvent;
}

export type Answer = number | { status: number; afterMs: number } | 'hang';

export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  /** Requests left without an answer. */
  hanging = 0;
  /** Where the server posts (the query token stands for a receiver's own secret in its URL). */
  url = '';
  readonly #server: http.Server;

  /** `answer(n)` decides the answer to the n-th request (0-based); default 200. */
  static async start(answer: (n: number) => Answer = () => 200): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(answer);
    await new Promise<void>((resolve) => receiver.#server.listen(0, '127.0.0.1', () => resolve()));
    receiver.url = `http://127.0.0.1:${(receiver.#server.address() as AddressInfo).port}/hooks/confsfu?token=receiver-own-token`;
    return receiver;
  }

  private constructor(answer: (n: number) => Answer) {
    this.#server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      req.on('end', () => {
        const reply = answer(this.requests.length);
        this.requests.push({ headers: req.headers, raw, body: JSON.parse(raw) as WebhookEvent });
        if (reply === 'hang') this.hanging++;
        else if (typeof reply === 'number') res.writeHead(reply).end();
        else setTimeout(() => res.writeHead(reply.status).end(), reply.afterMs);
      });
    });
  }

  /** The event names of every request received, in order (retries included). */
  events(): string[] {
    return this.requests.map((r) => r.body.event);
  }

  /** Stops listening and drops open connections (a hanging request then fails at the sender). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
