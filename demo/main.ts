/**
 * The demo page: join a room by name, see everyone's tiles, mute, camera off, share screen, chat,
 * leave. The active speaker's tile is highlighted; remote videos are attached through the SDK's
 * adaptive stream (each received at its tile's size, paused while scrolled away or hidden).
 * Plain DOM on top of the SDK; every element a test touches has a data-testid.
 * The call survives network blips and media resets: a banner says so while the SDK recovers.
 * `?relay=1` sends media through the server's TURN relay only.
 */
import { ROOM_ID_PATTERN } from '../shared/ids';
import { RoomClient, RoomClientError, type LocalTrack, type RemotePublication, type RemoteTrack } from '../client/sdk';
import { ChatPanel } from './chat';
import { installDebugHook } from './debug-hook';
import { ConnectionBanner } from './connection-banner';
import { describeCallProblem, describeClosed, describeJoinError } from './messages';
import { TileGrid } from './tiles';

const LOCAL_TILE = 'local';
const screenTileKey = (owner: string): string => `${owner}:screen`;

function byTestId<T extends HTMLElement>(testId: string): T {
  const element = document.querySelector<T>(`[data-testid="${testId}"]`);
  if (!element) throw new Error(`page is missing [data-testid="${testId}"]`);
  return element;
}

const ui = {
  form: byTestId<HTMLFormElement>('join-form'),
  roomInput: byTestId<HTMLInputElement>('room-input'),
  nameInput: byTestId<HTMLInputElement>('name-input'),
  joinButton: byTestId<HTMLButtonElement>('join-button'),
  alert: byTestId<HTMLElement>('error-message'),
  banner: byTestId<HTMLElement>('reconnecting-banner'),
  roomLabel: byTestId<HTMLElement>('room-label'),
  call: byTestId<HTMLElement>('call'),
  micButton: byTestId<HTMLButtonElement>('toggle-mic'),
  cameraButton: byTestId<HTMLButtonElement>('toggle-camera'),
  screenButton: byTestId<HTMLButtonElement>('toggle-screen'),
  leaveButton: byTestId<HTMLButtonElement>('leave-button'),
  chatMessages: byTestId<HTMLOListElement>('chat-messages'),
  chatForm: byTestId<HTMLFormElement>('chat-form'),
  chatInput: byTestId<HTMLInputElement>('chat-input'),
};

const params = new URLSearchParams(location.search);
/** `?relay=1`: media only through the TURN relay (to try TURN, or to hide one's address). */
const forceRelay = params.get('relay') === '1';

const grid = new TileGrid(byTestId('tiles'));
const banner = new ConnectionBanner(ui.banner);
const chat = new ChatPanel(ui.chatMessages, ui.chatForm, ui.chatInput, (error) => {
  if (error instanceof RoomClientError) showAlert(describeCallProblem(error), { severity: 'warning', code: error.code });
});
let client: RoomClient | undefined;
let myName = '';

function showAlert(
  message: string | undefined,
  { severity = 'error', code }: { severity?: 'error' | 'warning'; code?: string } = {},
): void {
  ui.alert.hidden = !message;
  ui.alert.textContent = message ?? '';
  ui.alert.dataset.severity = severity;
  if (code) ui.alert.dataset.code = code;
  else delete ui.alert.dataset.code;
}

function showCallView(inCall: boolean, roomId = ''): void {
  ui.form.hidden = inCall;
  ui.call.hidden = !inCall;
  ui.roomLabel.hidden = !inCall;
  ui.roomLabel.textContent = inCall ? `Room: ${roomId}` : '';
}

async function join(roomId: string, displayName: string): Promise<void> {
  showAlert(undefined);
  if (!ROOM_ID_PATTERN.test(roomId)) {
    showAlert('Room names may use letters, digits, - and _ (up to 64 characters).', { code: 'BAD_REQUEST' });
    return;
  }
  ui.joinButton.disabled = true;
  const joining = new RoomClient({
    roomId,
    displayName,
    token: params.get('token') ?? undefined,
    ...(forceRelay ? { iceTransportPolicy: 'relay' as const } : {}),
  });
  client = joining;
  wireEvents(joining);
  try {
    await joining.join();
  } catch (error) {
    client = undefined;
    ui.joinButton.disabled = false;
    showAlert(describeJoinError(error), { code: error instanceof RoomClientError ? error.code : undefined });
    return;
  }
  myName = displayName;
  history.replaceState(null, '', `?room=${encodeURIComponent(roomId)}${forceRelay ? '&relay=1' : ''}`);
  showCallView(true, roomId);
  grid.ensure(LOCAL_TILE, `${displayName} (you)`, true);
  chat.start(joining, peerName);
  try {
    await joining.publishCameraAndMicrophone();
  } catch (error) {
    if (error instanceof RoomClientError) showAlert(describeCallProblem(error), { severity: 'warning', code: error.code });
  }
  refreshControls();
}

function wireEvents(c: RoomClient): void {
  c.on('peerJoined', ({ peerId, displayName }) => grid.ensure(peerId, displayName, false));
  c.on('peerLeft', ({ peerId }) => {
    grid.remove(peerId);
    grid.remove(screenTileKey(peerId));
  });
  c.on('trackAdded', showRemoteTrack);
  c.on('trackRemoved', hideRemoteTrack);
  c.on('trackUnpublished', ({ peerId, kind, source }) => {
    if (source !== 'screen') grid.get(peerId)?.detachRemote(kind);
  });
  c.on('activeSpeaker', ({ peerId }) => grid.setActiveSpeaker(peerId === c.peerId ? LOCAL_TILE : (peerId ?? undefined)));
  c.on('trackPaused', (publication) => showRemotePaused(publication, true));
  c.on('trackResumed', (publication) => showRemotePaused(publication, false));
  c.on('localTrackPublished', showLocalTrack);
  c.on('localTrackUpdated', showLocalTrack);
  c.on('localTrackUnpublished', hideLocalTrack);
  c.on('error', (error) => showAlert(describeCallProblem(error), { severity: 'warning', code: error.code }));
  // Remote tracks we had before the trouble: the banner stays until that many flow again.
  let receivedBefore = 0;
  c.on('reconnecting', () => {
    receivedBefore = c.remoteTracks.length;
    banner.show('reconnecting');
  });
  c.on('reconnected', () => banner.hideWhenMediaFlows(c, receivedBefore));
  c.on('mediaReset', () => {
    banner.show('media-reset');
    banner.hideWhenMediaFlows(c, c.remoteTracks.length);
  });
  c.on('closed', ({ reason }) => {
    if (client === c) client = undefined;
    banner.hide();
    chat.stop();
    grid.setActiveSpeaker(undefined);
    grid.clear();
    showCallView(false);
    ui.joinButton.disabled = false;
    showAlert(describeClosed(reason), { code: reason });
  });
}

function peerName(peerId: string): string {
  return client?.peers.find((p) => p.peerId === peerId)?.displayName ?? 'Guest';
}

/** A remote track is received (again, after a reconnection): its tile shows it through the SDK's attach(). */
function showRemoteTrack(track: RemoteTrack): void {
  const tile = grid.ensure(track.peerId, peerName(track.peerId), false);
  if (track.kind === 'audio') {
    tile.attachRemote(track);
    tile.setMicMuted(track.paused);
    return;
  }
  if (track.source === 'screen') {
    // A shared screen gets its own tile next to the peer's camera tile.
    const screen = grid.ensure(screenTileKey(track.peerId), `${peerName(track.peerId)} · screen`, false);
    screen.attachRemote(track);
    screen.setCameraOff(false);
  } else {
    tile.attachRemote(track);
    tile.setCameraOff(track.paused);
  }
}

/**
 * A remote track is no longer received. The attachment stays while the publication does: the SDK
 * puts the track back into the element if it is received again (reconnection).
 */
function hideRemoteTrack(track: RemoteTrack): void {
  if (track.kind === 'audio') return;
  if (track.source === 'screen') grid.remove(screenTileKey(track.peerId));
  else grid.get(track.peerId)?.setCameraOff(true);
}

function showRemotePaused(publication: RemotePublication, paused: boolean): void {
  const tile = grid.get(publication.peerId);
  if (!tile) return;
  if (publication.kind === 'audio') tile.setMicMuted(paused);
  else if (publication.source !== 'screen') tile.setCameraOff(paused);
}

function showLocalTrack(local: LocalTrack): void {
  if (local.source === 'screen') {
    grid.ensure(screenTileKey(LOCAL_TILE), `${myName} (you) · screen`, true).setTrack('video', local.track);
    grid.get(screenTileKey(LOCAL_TILE))?.setCameraOff(false);
  } else {
    const tile = grid.ensure(LOCAL_TILE, `${myName} (you)`, true);
    tile.setTrack(local.kind, local.track);
    if (local.source === 'camera') tile.setCameraOff(local.paused || !local.track);
    else tile.setMicMuted(local.paused);
  }
  refreshControls();
}

function hideLocalTrack(local: LocalTrack): void {
  if (local.source === 'screen') grid.remove(screenTileKey(LOCAL_TILE));
  else {
    const tile = grid.get(LOCAL_TILE);
    tile?.setTrack(local.kind, null);
    if (local.source === 'camera') tile?.setCameraOff(true);
  }
  refreshControls();
}

/** Buttons mirror the SDK's state, so they are right even after a failed toggle. */
function refreshControls(): void {
  const tracks = client?.localTracks ?? [];
  const mic = tracks.find((t) => t.source === 'microphone');
  const camera = tracks.find((t) => t.source === 'camera');
  const screen = tracks.find((t) => t.source === 'screen');
  ui.micButton.disabled = !mic;
  ui.micButton.textContent = mic?.paused ? 'Unmute' : 'Mute';
  ui.micButton.setAttribute('aria-pressed', String(Boolean(mic?.paused)));
  ui.cameraButton.disabled = !camera;
  ui.cameraButton.textContent = camera?.paused ? 'Camera on' : 'Camera off';
  ui.cameraButton.setAttribute('aria-pressed', String(Boolean(camera?.paused)));
  ui.screenButton.textContent = screen ? 'Stop sharing' : 'Share screen';
  ui.screenButton.setAttribute('aria-pressed', String(Boolean(screen)));
}

/** Runs a control action with its button disabled; failures show as a warning. */
function control(button: HTMLButtonElement, action: (c: RoomClient) => Promise<unknown>): void {
  const c = client;
  if (!c) return;
  button.disabled = true;
  action(c)
    .catch((error: unknown) => {
      if (error instanceof RoomClientError) showAlert(describeCallProblem(error), { severity: 'warning', code: error.code });
    })
    .finally(() => {
      button.disabled = false;
      refreshControls();
    });
}

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  void join(ui.roomInput.value.trim(), ui.nameInput.value.trim());
});
ui.micButton.addEventListener('click', () =>
  control(ui.micButton, (c) => c.setMicrophoneEnabled(Boolean(c.localTracks.find((t) => t.source === 'microphone')?.paused))),
);
ui.cameraButton.addEventListener('click', () =>
  control(ui.cameraButton, (c) => c.setCameraEnabled(Boolean(c.localTracks.find((t) => t.source === 'camera')?.paused))),
);
ui.screenButton.addEventListener('click', () =>
  control(ui.screenButton, (c) => (c.localTracks.some((t) => t.source === 'screen') ? c.unpublish('screen') : c.publishScreen())),
);
ui.leaveButton.addEventListener('click', () => control(ui.leaveButton, (c) => c.leave()));
window.addEventListener('pagehide', () => void client?.leave());

// ?room=…&name=… prefill the form, so a room link can be shared; ?token=… is the access token
// (`npm run token`) when the server requires one.
ui.roomInput.value = params.get('room') ?? '';
ui.nameInput.value = params.get('name') ?? '';
installDebugHook(() => client);
