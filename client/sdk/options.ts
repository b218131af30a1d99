/**
 * What an app configures of a RoomClient, and the state it reports.
 */
import type { types as ms } from 'mediasoup-client';
import type { AdaptiveStreamOptions } from './adaptive-stream';
import type { SimulcastOption, VideoLayer } from './encodings';
import type { ReconnectPolicy } from './reconnect-policy';
import type { SignallingOptions } from './signalling';

export interface RoomClientOptions {
  /** Room to join: `^[A-Za-z0-9_-]{1,64}$`. */
  roomId: string;
  /** Name the others see. Default: the server's choice. A `name` in the access token wins. */
  displayName?: string;
  /** Access token for this room (`npm run token`), required when the server has AUTH_SECRET. */
  token?: string;
  /**
   * Returns a fresh access token for this room and identity (e.g. from the app's backend). With
   * it the client outlives its tokens: it sends a fresh one before the current one expires, and
   * reconnects with a fresh one. Asked for the first token too when `token` is not given.
   * Without it the session ends when the token expires (`closed { reason: 'TOKEN_EXPIRED' }`).
   */
  tokenProvider?: () => Promise<string>;
  /** Server origin. Default: the page's origin. */
  serverUrl?: string;
  /** Receive every remote track as soon as it is published. Default true. */
  autoSubscribe?: boolean;
  /** Deadline of each server request, in ms. Default 10,000. */
  requestTimeoutMs?: number;
  /** Deadline of the socket handshake, in ms. Default 10,000. */
  connectTimeoutMs?: number;
  /** Passed to socket.io-client (e.g. `{ transports: ['websocket'] }`). */
  socketOptions?: SignallingOptions['socketOptions'];
  /** mediasoup-client Device options: a handler for React Native, or a fake one in tests. Default: detected. */
  device?: ms.DeviceOptions;
  /**
   * 'relay' sends all media through the TURN servers the room gives (for networks that block
   * everything else, or to hide the person's address). Default 'all'.
   */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /**
   * Camera simulcast: `true` (default) sends three VP8 layers (¼, ½ and full resolution: 180p /
   * 360p / 720p from a 720p camera) so each receiver gets the one its screen needs; `false` one
   * layer; or the app's own layers, lowest first. `publishCamera(…, { simulcast })` overrides it.
   */
  simulcast?: SimulcastOption;
  /** Encoding of screen shares: one high layer. Default 2.5 Mbit/s at full resolution. */
  screenLayer?: VideoLayer;
  /**
   * Adaptive stream (default on): a remote video shown with `attach()` is received at the
   * simulcast layer its element's size needs, and paused on the server while every element
   * showing it is hidden or detached (resumed with a key frame when shown again). `false`: the
   * server sends what bandwidth allows, whatever the elements.
   */
  adaptiveStream?: boolean | AdaptiveStreamOptions;
  /**
   * Data messages (default on): transports open an SCTP association, the others' data channels
   * are received (`data` event), and `sendData` works (with the `publishData` grant).
   */
  data?: boolean;
  /**
   * When to try again after the connection dropped: `nextRetryDelayInMs({ retryCount, elapsedMs,
   * graceMs, lastError })` returns the wait before the next attempt, or null to give up. Default
   * `new DefaultReconnectPolicy()`: at once, then 250 ms doubling to 2 s. Either way the client
   * stops when the server's grace has passed or it refuses the resume.
   */
  reconnectPolicy?: ReconnectPolicy;
}

/** Per-publication options of `publishCamera` / `publishTrack`. */
export interface PublishTrackOptions {
  /** Overrides the client's `simulcast` option for this camera (ignored for other sources). */
  simulcast?: SimulcastOption;
}

/** 'reconnecting': the connection dropped and the client is coming back by itself; requests wait. */
export type RoomClientState = 'new' | 'joining' | 'joined' | 'reconnecting' | 'closed';
