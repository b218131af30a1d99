/**
 * The SDK's room view, without a server: one applySnapshot for the join, resume and rejoin acks.
 * A join snapshot, then a resume snapshot in which peers, producers, data channels, pause states,
 * the active speaker and the grants changed, must give the app the usual events (as if it had seen
 * the changes live) and leave the view exactly as a fresh view given the resume snapshot alone —
 * a field that only a join applied would show here. The view drives the real Subscriber and
 * DataChannels, over mediasoup-client's fake handler, on a connection that is down: every request
 * is recorded and fails with DISCONNECTED, as while reconnecting, so the test also sees which
 * publications each snapshot subscribes to.
 */
import { Device, FakeHandler, testFakeParameters } from 'mediasoup-client';
import type {
  Grants,
  Joined,
  NotificationMap,
  NotificationName,
  RequestName,
  RequestPayload,
  ResponseMap,
  Resumed,
} from '../../../shared/contract';
import { RoomClientError, type RemotePublication, type RemoteTrack, type RoomClientEvents } from '../../../client/sdk';
import { DataChannels } from '../../../client/sdk/data';
import { RoomView } from '../../../client/sdk/room-view';
import type { Requests } from '../../../client/sdk/signalling';
import { Subscriber } from '../../../client/sdk/subscriber';

const ROOM_ID = 'unit-room';
const ALL_GRANTS: Grants = { join: true, publish: true, subscribe: true, publishData: true, admin: false, plain: false };

/** A connection that is down: requests are recorded and fail as they do while reconnecting. */
class DownConnection implements Requests {
  readonly connected = false;
  readonly sent: { event: RequestName; payload: unknown }[] = [];

  request<E extends RequestName>(event: E, payload: RequestPayload<E>): Promise<ResponseMap[E]> {
    this.sent.push({ event, payload });
    return Promise.reject(new RoomClientError('DISCONNECTED', `cannot send '${event}': not connected`, event));
  }

  /** Producer / data producer ids of the consume requests so far, in order. */
  consumed(): string[] {
    return this.sent.flatMap(({ event, payload }) =>
      event === 'consume'
        ? [(payload as RequestPayload<'consume'>).producerId]
        : event === 'consumeData'
          ? [(payload as RequestPayload<'consumeData'>).dataProducerId]
          : [],
    );
  }
}

interface Harness {
  view: RoomView;
  subscriber: Subscriber;
  connection: DownConnection;
  /** Every event the app would get, as `name subject`, in order. */
  events: string[];
  /** The handlers `listen` registered, by notification name. */
  handlers: Map<NotificationName, (payload: unknown) => void>;
  ownPaused: string[];
  errors: RoomClientError[];
}

async function harness(): Promise<Harness> {
  const device = await Device.factory({ handlerFactory: FakeHandler.createFactory(testFakeParameters) });
  await device.load({ routerRtpCapabilities: testFakeParameters.generateRouterRtpCapabilities() });
  const recv = device.createRecvTransport(testFakeParameters.generateTransportRemoteParameters());
  const send = device.createSendTransport(testFakeParameters.generateTransportRemoteParameters());
  const connection = new DownConnection();
  const events: string[] = [];
  const errors: RoomClientError[] = [];
  const ownPaused: string[] = [];
  const publicationEvent = (name: string) => (p: RemotePublication | RemoteTrack) => void events.push(`${name} ${p.producerId}`);
  const subscriber = new Subscriber({
    signalling: connection,
    recvRtpCapabilities: () => device.recvRtpCapabilities as never,
    recvTransport: () => Promise.resolve(recv),
    events: {
      published: publicationEvent('trackPublished'),
      unpublished: publicationEvent('trackUnpublished'),
      added: publicationEvent('trackAdded'),
      removed: publicationEvent('trackRemoved'),
      paused: publicationEvent('trackPaused'),
      resumed: publicationEvent('trackResumed'),
      serverPaused: publicationEvent('trackServerPaused'),
      serverResumed: publicationEvent('trackServerResumed'),
      layersChanged: publicationEvent('trackLayersChanged'),
      scoreChanged: publicationEvent('trackScoreChanged'),
      failed: (error) => void errors.push(error),
    },
    autoSubscribe: true,
    attach: () => () => undefined,
  });
  const data = new DataChannels(
    connection,
    () => Promise.resolve(send),
    () => Promise.resolve(recv),
    { message: () => undefined, failed: (error) => void errors.push(error) },
    1_000,
  );
  const view = new RoomView({
    publications: subscriber,
    data,
    ownProducerPaused: (producerId) => void ownPaused.push(producerId),
    emit: <E extends keyof RoomClientEvents>(event: E, payload: RoomClientEvents[E]) => void events.push(summary(event, payload)),
  });
  const handlers = new Map<NotificationName, (payload: unknown) => void>();
  view.listen((name, handle) => void handlers.set(name, handle as (payload: unknown) => void));
  return { view, subscriber, connection, events, handlers, ownPaused, errors };
}

function summary<E extends keyof RoomClientEvents>(event: E, payload: RoomClientEvents[E]): string {
  const p = payload as RoomClientEvents['joined'] & RoomClientEvents['peerJoined'] & RoomClientEvents['activeSpeaker'];
  if (event === 'joined') return `joined ${p.peerId} [${p.peers.map((peer) => peer.peerId).join(',')}]`;
  return `${String(event)} ${p.peerId}`;
}

/** Lets background subscriptions reach the connection and fail (they are silent: DISCONNECTED). */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));

const peer = (peerId: string) => ({ peerId, displayName: peerId.toUpperCase() });
const producer = (producerId: string, peerId: string, kind: 'audio' | 'video', paused = false) => ({
  producerId,
  peerId,
  kind,
  paused,
  appData: { source: kind === 'audio' ? 'microphone' : producerId.endsWith('screen') ? 'screen' : 'camera' },
});
const dataProducer = (dataProducerId: string, peerId: string) => ({
  dataProducerId,
  peerId,
  label: 'chat',
  protocol: '',
  appData: {},
});

/** Ada and Bo are here with their tracks and Ada's chat channel; Ada speaks. Our own producer is listed too. */
const JOIN: Joined = {
  peerId: 'me',
  roomId: ROOM_ID,
  peers: [peer('ada'), peer('bo')],
  producers: [
    producer('ada-mic', 'ada', 'audio'),
    producer('ada-cam', 'ada', 'video'),
    producer('bo-mic', 'bo', 'audio'),
    producer('me-mic', 'me', 'audio'),
  ],
  dataProducers: [dataProducer('ada-chat', 'ada'), dataProducer('me-chat', 'me')],
  activeSpeakerPeerId: 'ada',
  resumeToken: 'token-1',
  reconnectGraceMs: 10_000,
  grants: ALL_GRANTS,
};

/**
 * While we were away: Bo left, Cy came and speaks; Ada stopped her camera, shared her screen and
 * muted; Ada's chat closed and Cy opened one; our data grant was taken away.
 */
const RESUME: Resumed = {
  ...JOIN,
  peers: [peer('ada'), peer('cy')],
  producers: [
    producer('ada-mic', 'ada', 'audio', true),
    producer('ada-screen', 'ada', 'video'),
    producer('cy-mic', 'cy', 'audio'),
    producer('me-mic', 'me', 'audio'),
  ],
  dataProducers: [dataProducer('cy-chat', 'cy')],
  activeSpeakerPeerId: 'cy',
  resumeToken: 'token-2',
  grants: { ...ALL_GRANTS, publishData: false },
  transportIds: [],
  producerIds: ['me-mic'],
  consumerIds: [],
  dataProducerIds: [],
  dataConsumerIds: [],
  serverPausedConsumerIds: [],
};

/** What the app can read of the view. */
function stateOf({ view, subscriber }: Harness): unknown {
  return {
    peerId: view.peerId,
    grants: view.grants,
    peers: view.peers,
    activeSpeakerPeerId: view.activeSpeakerPeerId,
    publications: subscriber.publications().sort((a, b) => a.producerId.localeCompare(b.producerId)),
  };
}

describe('RoomView.applySnapshot', () => {
  test('join snapshot: joined, then the others, their publications and the speaker; ours are left out', async () => {
    const h = await harness();
    h.view.applySnapshot(JOIN);
    await settle();

    expect(h.events).toEqual([
      'joined me [ada,bo]',
      'peerJoined ada',
      'peerJoined bo',
      'trackPublished ada-mic',
      'trackPublished ada-cam',
      'trackPublished bo-mic',
      'activeSpeaker ada',
    ]);
    expect(h.view.peerId).toBe('me');
    expect(h.view.peers.map((p) => p.peerId)).toEqual(['ada', 'bo']);
    expect(h.view.activeSpeakerPeerId).toBe('ada');
    expect(h.view.grants).toEqual(ALL_GRANTS);
    // Everything of the others is subscribed (autoSubscribe), nothing of ours; the failures (no connection) are silent.
    expect(h.connection.consumed().sort()).toEqual(['ada-cam', 'ada-chat', 'ada-mic', 'bo-mic']);
    expect(h.errors).toEqual([]);
  });

  test('resume snapshot: what came and went while away arrives as the usual events, and nothing else', async () => {
    const h = await harness();
    h.view.applySnapshot(JOIN);
    await settle();
    h.events.length = 0;
    const consumedAtJoin = h.connection.consumed().length;

    h.view.applySnapshot(RESUME);
    await settle();

    expect(h.events).toEqual([
      // Bo left: his publication ends before he does.
      'trackUnpublished bo-mic',
      'peerLeft bo',
      'peerJoined cy',
      'trackUnpublished ada-cam',
      'trackPaused ada-mic',
      'trackPublished ada-screen',
      'trackPublished cy-mic',
      'activeSpeaker cy',
    ]);
    expect(h.view.peerId).toBe('me');
    expect(h.view.peers.map((p) => p.peerId)).toEqual(['ada', 'cy']);
    expect(h.view.grants).toEqual({ ...ALL_GRANTS, publishData: false });
    const pausedOf = Object.fromEntries(h.subscriber.publications().map((p) => [p.producerId, p.paused]));
    expect(pausedOf).toEqual({ 'ada-mic': true, 'ada-screen': false, 'cy-mic': false });
    // Only what is new is subscribed; what went is not asked for again.
    expect(h.connection.consumed().slice(consumedAtJoin).sort()).toEqual(['ada-screen', 'cy-chat', 'cy-mic']);
    expect(h.errors).toEqual([]);
  });

  test('a view that saw the join and then the resume snapshot equals a fresh view given the resume snapshot', async () => {
    const updated = await harness();
    updated.view.applySnapshot(JOIN);
    updated.view.applySnapshot(RESUME);
    const fresh = await harness();
    fresh.view.applySnapshot(RESUME);
    await settle();
    expect(stateOf(updated)).toEqual(stateOf(fresh));
  });

  test('the same snapshot twice changes nothing', async () => {
    const h = await harness();
    h.view.applySnapshot(JOIN);
    await settle();
    h.events.length = 0;
    const sent = h.connection.sent.length;
    h.view.applySnapshot(JOIN);
    await settle();
    expect(h.events).toEqual([]);
    expect(h.connection.sent.length).toBe(sent);
  });

  test('a speaker who left while we were away is cleared by a snapshot that names none', async () => {
    const h = await harness();
    h.view.applySnapshot(JOIN);
    h.events.length = 0;
    h.view.applySnapshot({ ...JOIN, peers: [peer('bo')], producers: [producer('bo-mic', 'bo', 'audio')], activeSpeakerPeerId: undefined });
    expect(h.events).toEqual(['trackUnpublished ada-mic', 'trackUnpublished ada-cam', 'activeSpeaker null', 'peerLeft ada']);
    expect(h.view.activeSpeakerPeerId).toBeNull();
  });

  test('rejoin: the lost room empties the view, the new snapshot makes us a new peer without a second joined', async () => {
    const h = await harness();
    h.view.applySnapshot(JOIN);
    await settle();
    h.events.length = 0;

    h.subscriber.clear();
    h.view.roomLost();
    h.view.applySnapshot({
      ...JOIN,
      peerId: 'me-again',
      peers: [peer('ada-again')],
      producers: [producer('ada-mic-2', 'ada-again', 'audio')],
      dataProducers: [],
      activeSpeakerPeerId: undefined,
    });

    expect(h.events).toEqual([
      'trackUnpublished ada-mic',
      'trackUnpublished ada-cam',
      'trackUnpublished bo-mic',
      'activeSpeaker null',
      'peerLeft ada',
      'peerLeft bo',
      'peerJoined ada-again',
      'trackPublished ada-mic-2',
    ]);
    expect(h.view.peerId).toBe('me-again');
    expect(h.view.activeSpeakerPeerId).toBeNull();
  });
});

describe('RoomView notifications', () => {
  test('between snapshots: ours are told apart by the peer id, the others reach the view', async () => {
    const h = await harness();
    h.view.applySnapshot(JOIN);
    await settle();
    h.events.length = 0;
    const notify = <N extends NotificationName>(name: N, payload: NotificationMap[N]): void => h.handlers.get(name)?.(payload);

    notify('newProducer', { producerId: 'me-cam', peerId: 'me', kind: 'video', appData: { source: 'camera' } });
    notify('producerPaused', { producerId: 'me-mic', peerId: 'me' });
    notify('producerPaused', { producerId: 'ada-cam', peerId: 'ada' });
    notify('peerJoined', peer('dee'));
    notify('newProducer', { producerId: 'dee-mic', peerId: 'dee', kind: 'audio', appData: { source: 'microphone' } });
    notify('peerLeft', { peerId: 'ada' });

    expect(h.ownPaused).toEqual(['me-mic']);
    expect(h.events).toEqual([
      'trackPaused ada-cam',
      'peerJoined dee',
      'trackPublished dee-mic',
      'trackUnpublished ada-mic',
      'trackUnpublished ada-cam',
      'activeSpeaker null',
      'peerLeft ada',
    ]);
    expect(h.subscriber.publications().map((p) => p.producerId)).not.toContain('me-cam');
  });
});
