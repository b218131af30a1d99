/** Loopback UDP sockets for the plain engine and the benchmark's sinks. */
import dgram from 'node:dgram';

export const LOOPBACK = '127.0.0.1';
/** Large enough to absorb a key-frame burst for many consumers (the kernel caps it at rmem_max). */
const BUFFER_BYTES = 4 * 1024 * 1024;

export async function bindLoopbackUdp(): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: BUFFER_BYTES, sendBufferSize: BUFFER_BYTES });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, LOOPBACK, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

export function closeUdp(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}
