/** IPC between p3-memory.ts (parent) and memory-child.ts (the measured server process). */
export interface MemoryReport {
  type: 'memory';
  heapUsedBytes: number;
  rssBytes: number;
  /** Sum of the mediasoup workers' resident set (from /proc). */
  workerRssBytes: number;
}
export type ChildMessage = { type: 'ready'; url: string } | MemoryReport;
export type ParentMessage = { type: 'measure' } | { type: 'exit' };

/** Namespace of the floor server (bare socket.io + raw mediasoup). */
export const FLOOR_NAMESPACE = '/floor';
