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
import { getIceServers } from './get-ice-servers';
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
import { closeDataConsumer } from './close-data-consumer';
import { closeDataProducer } from './close-data-producer';
import { consumeData } from './consume-data';
import { pinPeers } from './pin-peers';
import { produceData } from './produce-data';
import { requestKeyFrame } from './request-key-frame';
import { refreshToken } from './refresh-token';
import { setAudioLevels } from './set-audio-levels';
import { setConsumerPreferredLayers } from './set-consumer-preferred-layers';
import { setConsumerPriority } from './set-consumer-priority';
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
  setConsumerPreferredLayers,
  setConsumerPriority,
  requestKeyFrame,
  produceData,
  consumeData,
  closeDataProducer,
  closeDataConsumer,
  pinPeers,
  setAudioLevels,
  refreshToken,
  getIceServers,
  leave,
};

export type { AfterAck, Member, SessionView } from './types';
