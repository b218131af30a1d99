/**
 * Every request of the contract → its handler, grouped by what it is about. The `Handlers` type
 * makes the compiler reject a missing handler, a handler of the wrong scope (contract.ts says
 * whether a request is a peer's or the session's) or a wrong response shape. Handlers are thin:
 * the payload is already validated; they call the room domain and return the ack data.
 */
import { consumerHandlers } from './consumers';
import { dataHandlers } from './data';
import { producerHandlers } from './producers';
import { sessionHandlers } from './session';
import { transportHandlers } from './transports';
import type { Handlers } from './types';

export const handlers: Handlers = {
  ...sessionHandlers,
  ...transportHandlers,
  ...producerHandlers,
  ...consumerHandlers,
  ...dataHandlers,
};

export type { AfterAck, Member, SessionView } from './types';
