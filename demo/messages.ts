/** Turns SDK errors and close reasons into sentences for the person at the screen. */
import { RoomClientError, type ClosedReason } from '../client/sdk';

export function describeJoinError(error: unknown): string {
  if (!(error instanceof RoomClientError)) return `Something went wrong: ${String(error)}`;
  switch (error.code) {
    case 'ROOM_FULL':
      return 'This room is full. Try again later or pick another room name.';
    case 'ROOM_CLOSED':
      return 'This room is closing. Try again in a moment.';
    case 'UNAUTHORIZED':
      return `This room needs a valid invitation link (access token): ${error.message}.`;
    case 'BAD_REQUEST':
      return `The server refused the request: ${error.message}`;
    case 'CONNECT_FAILED':
      return 'Cannot reach the conference server. Check your connection and try again.';
    case 'TIMEOUT':
      return 'The server did not answer in time. Try again.';
    case 'UNSUPPORTED':
      return 'This browser cannot join calls (WebRTC is not supported here).';
    default:
      return `Could not join: ${error.message} (${error.code})`;
  }
}

export function describeCallProblem(error: RoomClientError): string {
  switch (error.code) {
    case 'DEVICE_ERROR':
      return `You joined without camera or microphone: ${error.message}.`;
    case 'TRANSPORT_FAILED':
      return 'The media connection failed; your network may be blocking it.';
    default:
      return `${error.message} (${error.code})`;
  }
}

export function describeClosed(reason: ClosedReason): string | undefined {
  switch (reason) {
    case 'LEFT':
      return undefined;
    case 'DISCONNECTED':
      return 'The connection to the server was lost and could not be restored. Join again to continue.';
    case 'SERVER_SHUTDOWN':
      return 'The server is restarting. Join again in a moment.';
    case 'MEDIA_FAILURE':
      return 'The media server for this room failed. Join again to continue.';
    case 'CLOSED_BY_ADMIN':
      return 'An operator closed this room.';
    case 'DUPLICATE_IDENTITY':
      return 'You joined this room from another tab or device, which replaced this one.';
    case 'TOKEN_EXPIRED':
      return 'Your access token expired. Join again with a new one.';
    case 'IDLE':
      return 'You were in the room without sending or receiving media for too long. Join again to continue.';
  }
}
