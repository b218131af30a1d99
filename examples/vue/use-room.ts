/**
 * Vue 3 with @confsfu/client: a `useRoom` composable that joins a room, publishes camera and
 * microphone, and keeps the remote tracks, the active speaker and the chat in refs; a `vAttach`
 * directive renders a remote track through the SDK's attach() (adaptive stream: the server sends the
 * layer the element's size needs, and nothing while it is hidden):
 *
 *   <video v-for="t in videos" :key="t.producerId" v-attach="{ client, producerId: t.producerId }" autoplay playsinline muted />
 *
 * Type-checked against the packed SDK by tests/sdk-package.test.ts.
 */
import { computed, onUnmounted, ref, shallowRef, type Directive } from 'vue';
import { RoomClient, RoomClientError, type RemoteTrack, type RoomClientOptions } from '@confsfu/client';

export interface ChatMessage {
  /** Sender's peer id; undefined for our own messages. */
  peerId?: string;
  text: string;
}

export function useRoom(roomId: string, displayName: string, options: Omit<RoomClientOptions, 'roomId' | 'displayName'> = {}) {
  const client = new RoomClient({ roomId, displayName, ...options }); // serverUrl defaults to the page's origin
  const joined = ref(false);
  const tracks = shallowRef<RemoteTrack[]>([]);
  const activeSpeaker = ref<string | null>(null);
  const messages = ref<ChatMessage[]>([]);
  const error = shallowRef<RoomClientError>();

  const refresh = (): void => {
    tracks.value = client.remoteTracks;
  };
  const events = ['trackAdded', 'trackRemoved', 'trackPaused', 'trackResumed', 'trackServerPaused', 'trackServerResumed'] as const;
  for (const event of events) client.on(event, refresh);
  client.on('activeSpeaker', ({ peerId }) => (activeSpeaker.value = peerId));
  client.on('data', ({ peerId, label, payload }) => {
    if (label === 'chat' && typeof payload === 'string') messages.value.push({ peerId, text: payload });
  });
  client.on('error', (e) => (error.value = e));

  client
    .join()
    .then(async () => {
      joined.value = true;
      await client.openDataChannel({ label: 'chat' }); // opened ahead: the others receive it before the first message
      await client.publishCameraAndMicrophone(); // camera in three simulcast layers
    })
    .catch((e: RoomClientError) => (error.value = e)); // e.code === 'ROOM_FULL', 'UNAUTHORIZED', …
  onUnmounted(() => {
    client.removeAllListeners();
    void client.leave();
  });

  async function send(text: string): Promise<void> {
    await client.sendData(text, { label: 'chat' });
    messages.value.push({ text });
  }
  const videos = computed(() => tracks.value.filter((t) => t.kind === 'video'));
  const audios = computed(() => tracks.value.filter((t) => t.kind === 'audio'));
  return { client, joined, tracks, videos, audios, activeSpeaker, messages, error, send };
}

/** `v-attach="{ client, producerId }"` on a <video> or <audio>: attached while mounted, detached after. */
const detachers = new WeakMap<HTMLMediaElement, { producerId: string; detach: () => void }>();
export const vAttach: Directive<HTMLMediaElement, { client: RoomClient; producerId: string }> = {
  mounted(element, { value }) {
    detachers.set(element, { producerId: value.producerId, detach: value.client.attach(value.producerId, element) });
  },
  updated(element, { value }) {
    const current = detachers.get(element);
    if (current?.producerId === value.producerId) return;
    current?.detach();
    detachers.set(element, { producerId: value.producerId, detach: value.client.attach(value.producerId, element) });
  },
  beforeUnmount(element) {
    detachers.get(element)?.detach();
    detachers.delete(element);
  },
};
