/**
 * React with @confsfu/client: a `useRoom` hook that joins a room, publishes camera and microphone,
 * and keeps the remote tracks, the active speaker and the chat in state; `<RemoteMedia>` renders a
 * track through the SDK's attach() (adaptive stream: the server sends the layer the element's size
 * needs, and nothing while it is hidden); `<Room>` puts them together. Type-checked against the
 * packed SDK by tests/sdk-package.test.ts.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { RoomClient, RoomClientError, type RemoteTrack, type RoomClientOptions } from '@confsfu/client';

export interface ChatMessage {
  /** Sender's peer id; undefined for our own messages. */
  peerId?: string;
  text: string;
}

export interface RoomState {
  /** Set once joined. */
  client?: RoomClient;
  tracks: RemoteTrack[];
  /** Peer id of the active speaker (ours when it is us). */
  activeSpeaker: string | null;
  messages: ChatMessage[];
  error?: RoomClientError;
  /** Sends a chat message to the room (data channel 'chat'). */
  send: (text: string) => Promise<void>;
}

export function useRoom(roomId: string, displayName: string, options: Omit<RoomClientOptions, 'roomId' | 'displayName'> = {}): RoomState {
  const [client, setClient] = useState<RoomClient>();
  const [tracks, setTracks] = useState<RemoteTrack[]>([]);
  const [activeSpeaker, setActiveSpeaker] = useState<string | null>(null);
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [error, setError] = useState<RoomClientError>();

  useEffect(() => {
    let cancelled = false;
    const c = new RoomClient({ roomId, displayName, ...options }); // serverUrl defaults to the page's origin
    const refresh = (): void => setTracks(c.remoteTracks);
    const events = ['trackAdded', 'trackRemoved', 'trackPaused', 'trackResumed', 'trackServerPaused', 'trackServerResumed'] as const;
    for (const event of events) c.on(event, refresh);
    c.on('activeSpeaker', ({ peerId }) => setActiveSpeaker(peerId));
    c.on('data', ({ peerId, label, payload }) => {
      if (label === 'chat' && typeof payload === 'string') setMessages((list) => [...list, { peerId, text: payload }]);
    });
    c.on('error', setError);
    c.join()
      .then(async () => {
        if (cancelled) return;
        setClient(c);
        await c.openDataChannel({ label: 'chat' }); // opened ahead: the others receive it before the first message
        await c.publishCameraAndMicrophone(); // camera in three simulcast layers
      })
      .catch((e: RoomClientError) => {
        if (!cancelled) setError(e); // e.code === 'ROOM_FULL', 'UNAUTHORIZED', …
      });
    return () => {
      cancelled = true;
      c.removeAllListeners();
      void c.leave();
    };
    // The client is made again only for another room or name; options are read once.
  }, [roomId, displayName]);

  const send = async (text: string): Promise<void> => {
    if (!client) return;
    await client.sendData(text, { label: 'chat' });
    setMessages((list) => [...list, { text }]);
  };
  return { client, tracks, activeSpeaker, messages, error, send };
}

/** One remote track in a <video> (video) or <audio> (audio) element, through attach(). */
export function RemoteMedia({ client, track }: { client: RoomClient; track: RemoteTrack }) {
  const video = useRef<HTMLVideoElement>(null);
  const audio = useRef<HTMLAudioElement>(null);
  const { producerId, kind } = track;
  useEffect(() => {
    const element = kind === 'video' ? video.current : audio.current;
    // attach() returns its detach function: React calls it on unmount or when the track changes.
    return element ? client.attach(producerId, element) : undefined;
  }, [client, producerId, kind]);
  return kind === 'video' ? <video ref={video} autoPlay playsInline muted /> : <audio ref={audio} autoPlay />;
}

export function Room({ roomId, displayName }: { roomId: string; displayName: string }) {
  const { client, tracks, activeSpeaker, messages, error, send } = useRoom(roomId, displayName);
  const [draft, setDraft] = useState('');
  if (error) return <p role="alert">{error.message}</p>;
  if (!client) return <p>Joining…</p>;
  const onSubmit = (event: FormEvent): void => {
    event.preventDefault();
    void send(draft).then(() => setDraft(''));
  };
  const nameOf = (peerId?: string): string => (peerId ? (client.peers.find((p) => p.peerId === peerId)?.displayName ?? 'Guest') : 'You');
  return (
    <main>
      <section className="tiles">
        {tracks
          .filter((track) => track.kind === 'video')
          .map((track) => (
            <figure key={track.producerId} className={track.peerId === activeSpeaker ? 'speaking' : undefined}>
              <RemoteMedia client={client} track={track} />
              <figcaption>
                {nameOf(track.peerId)}
                {track.serverPaused ? ' (not among the latest speakers)' : ''}
              </figcaption>
            </figure>
          ))}
      </section>
      {tracks
        .filter((track) => track.kind === 'audio')
        .map((track) => (
          <RemoteMedia key={track.producerId} client={client} track={track} />
        ))}
      <button onClick={() => void client.setMicrophoneEnabled(client.localTracks.some((t) => t.source === 'microphone' && t.paused))}>
        Mute / unmute
      </button>
      <ol>
        {messages.map((message, index) => (
          <li key={index}>
            <b>{nameOf(message.peerId)}</b> {message.text}
          </li>
        ))}
      </ol>
      <form onSubmit={onSubmit}>
        <label>
          Message <input value={draft} onChange={(event) => setDraft(event.target.value)} />
        </label>
        <button type="submit">Send</button>
      </form>
    </main>
  );
}
