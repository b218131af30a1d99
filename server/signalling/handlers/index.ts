/**
 * Every request of the contract → its handler. The mapped type makes the compiler reject a
 * missing handler or a wrong response shape. Handlers are thin: the payload is already
 * validated; they call the room domain and return the ack data.
 */
import type { RequestName } from '../../../shared/contract';
import { closeConsumer } from './close-consumer';
import { consume } from './consume';
import { pauseConsumer } from './pause-consumer';
import { resumeConsumer } from './resume-consumer';
import { getRouterRtpCapabilities } from './get-router-rtp-capabilities';
import { join } from './join';
import { leave } from './leave';
import { closeProducer } from './close-producer';
import { pauseProducer } from './pause-producer';
import { produce } from './produce';
import { resumeProducer } from './resume-producer';
import { resume } from './resume';
import { closeTransport } from './close-transport';
import { connectTransport } from './connect-transport';
import { createTransport } from './create-transport';
import { restartIce } from './restart-ice';
import type { HandlerEntry } from './types';

export const handlers: { readonly [E in RequestName]: HandlerEntry<E> } = {
  getRouterRtpCapabilities,
  join,
  resume,
  createTransport,
  connectTransport,
  closeTransport,
  restartIce,
  produce,
  pauseProducer,
  resumeProducer,
  closeProducer,
  consume,
  pauseConsumer,
  resumeConsumer,
  closeConsumer,
  leave,
};

export type { AfterAck, Member, SessionView } from './types';
