/**
 * The chat panel: text messages to everyone in the room over the SDK's data channel 'chat'
 * (reliable, ordered). Each message is plain text; the sender is the peer the SDK names, so a
 * message cannot claim to be from someone else. Text is shown with textContent, never as HTML.
 */
import type { RoomClient } from '../client/sdk';

export const CHAT_LABEL = 'chat';
/** Longest message shown; the input allows less (maxlength), a longer one from elsewhere is cut. */
const MAX_SHOWN_CHARS = 2_000;
/** Oldest messages go beyond this, so a long call does not grow the page without end. */
const MAX_MESSAGES = 200;

export class ChatPanel {
  #client: RoomClient | undefined;

  constructor(
    private readonly list: HTMLOListElement,
    private readonly form: HTMLFormElement,
    private readonly input: HTMLInputElement,
    private readonly onError: (error: unknown) => void,
  ) {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#send();
    });
  }

  /**
   * Starts the chat on a joined client: opens our channel at once, so the others receive it before
   * the first message. Without the `publishData` grant the chat is read-only.
   */
  start(client: RoomClient, peerName: (peerId: string) => string): void {
    this.#client = client;
    this.clear();
    client.on('data', ({ peerId, label, payload }) => {
      if (this.#client !== client || label !== CHAT_LABEL || typeof payload !== 'string') return;
      this.#append(peerName(peerId), payload, false);
    });
    const mayWrite = client.grants?.publishData ?? false;
    this.input.disabled = !mayWrite;
    this.input.placeholder = mayWrite ? 'Say something to the room' : 'Your invitation does not allow writing here';
    if (mayWrite) client.openDataChannel({ label: CHAT_LABEL }).catch(this.onError);
  }

  stop(): void {
    this.#client = undefined;
    this.clear();
  }

  clear(): void {
    this.list.replaceChildren();
    this.input.value = '';
  }

  async #send(): Promise<void> {
    const client = this.#client;
    const text = this.input.value.trim();
    if (!client || !text) return;
    this.input.disabled = true;
    try {
      await client.sendData(text, { label: CHAT_LABEL });
      this.input.value = '';
      this.#append('You', text, true);
    } catch (error) {
      this.onError(error);
    } finally {
      this.input.disabled = !(client.grants?.publishData ?? false);
      this.input.focus({ preventScroll: true });
    }
  }

  #append(from: string, text: string, local: boolean): void {
    const item = document.createElement('li');
    item.dataset.testid = 'chat-message';
    item.dataset.local = String(local);
    const name = document.createElement('span');
    name.className = 'from';
    name.dataset.testid = 'chat-message-from';
    name.textContent = from;
    const body = document.createElement('span');
    body.dataset.testid = 'chat-message-text';
    body.textContent = text.slice(0, MAX_SHOWN_CHARS);
    item.append(name, body);
    this.list.append(item);
    while (this.list.childElementCount > MAX_MESSAGES) this.list.firstElementChild?.remove();
    // Only the list scrolls: moving the page could take tiles out of view (and adaptive stream would pause them).
    this.list.scrollTop = this.list.scrollHeight;
  }
}
