/**
 * Getting tracks from the person's devices, with DOM failures turned into DEVICE_ERROR
 * messages a person can act on.
 */
import { RoomClientError } from './errors';
import type { TrackSource } from './types';

export const DEFAULT_CAMERA_CONSTRAINTS: MediaTrackConstraints = {
  width: { ideal: 1280 },
  height: { ideal: 720 },
  frameRate: { ideal: 30 },
};
export const DEFAULT_MICROPHONE_CONSTRAINTS: MediaTrackConstraints = {
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: true,
};

export interface CameraAndMicrophone {
  camera?: MediaStreamTrack;
  microphone?: MediaStreamTrack;
}

/** One track from one source. Throws RoomClientError('DEVICE_ERROR'). */
export async function acquireTrack(source: TrackSource, constraints?: MediaTrackConstraints): Promise<MediaStreamTrack> {
  const stream = await getStream(source, constraints);
  const [track] = source === 'microphone' ? stream.getAudioTracks() : stream.getVideoTracks();
  // getDisplayMedia may add a tab-audio track we did not ask to publish.
  for (const other of stream.getTracks()) if (other !== track) other.stop();
  if (!track) throw new RoomClientError('DEVICE_ERROR', `the browser returned no ${source} track`);
  return track;
}

/**
 * Camera and microphone with one permission prompt. If the combined request finds no device,
 * each is tried alone, so a person without a camera can still talk.
 */
export async function acquireCameraAndMicrophone(
  video: MediaTrackConstraints = DEFAULT_CAMERA_CONSTRAINTS,
  audio: MediaTrackConstraints = DEFAULT_MICROPHONE_CONSTRAINTS,
): Promise<CameraAndMicrophone> {
  try {
    const stream = await mediaDevices().getUserMedia({ video, audio });
    return { camera: stream.getVideoTracks()[0], microphone: stream.getAudioTracks()[0] };
  } catch (error) {
    if (!(error instanceof DOMException) || (error.name !== 'NotFoundError' && error.name !== 'NotReadableError')) {
      throw toDeviceError(error, 'camera and microphone');
    }
  }
  const [camera, microphone] = await Promise.allSettled([acquireTrack('camera', video), acquireTrack('microphone', audio)]);
  if (camera.status === 'rejected' && microphone.status === 'rejected') throw camera.reason;
  return {
    camera: camera.status === 'fulfilled' ? camera.value : undefined,
    microphone: microphone.status === 'fulfilled' ? microphone.value : undefined,
  };
}

async function getStream(source: TrackSource, constraints?: MediaTrackConstraints): Promise<MediaStream> {
  try {
    switch (source) {
      case 'camera':
        return await mediaDevices().getUserMedia({ video: constraints ?? DEFAULT_CAMERA_CONSTRAINTS });
      case 'microphone':
        return await mediaDevices().getUserMedia({ audio: constraints ?? DEFAULT_MICROPHONE_CONSTRAINTS });
      case 'screen':
        return await mediaDevices().getDisplayMedia({ video: constraints ?? true, audio: false });
    }
  } catch (error) {
    throw toDeviceError(error, source);
  }
}

function mediaDevices(): MediaDevices {
  // Missing outside secure contexts (plain http on a LAN address): say so instead of a TypeError.
  if (typeof navigator === 'undefined' || !navigator.mediaDevices) {
    throw new RoomClientError('DEVICE_ERROR', 'media devices are unavailable (the page must be served over HTTPS)');
  }
  return navigator.mediaDevices;
}

function toDeviceError(error: unknown, what: string): RoomClientError {
  if (error instanceof RoomClientError) return error;
  const name = error instanceof DOMException ? error.name : '';
  const reason =
    name === 'NotAllowedError'
      ? `permission to use the ${what} was denied`
      : name === 'NotFoundError'
        ? `no ${what} was found`
        : name === 'NotReadableError'
          ? `the ${what} is in use by another application`
          : `cannot open the ${what}: ${error instanceof Error ? error.message : String(error)}`;
  return new RoomClientError('DEVICE_ERROR', reason, undefined, { cause: error });
}
