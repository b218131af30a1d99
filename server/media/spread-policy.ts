/**
 * Where a room's new peer gets its router when a room may span several workers. Pure: the media
 * service feeds it the loads it reads from the index.
 *
 * The load is the worker's consumer count (every room's consumers on it, pipe consumers
 * included): forwarding to consumers is what costs a worker CPU, and the count is exact and
 * immediate, where a sampled CPU share lags by its sampling period (a burst of joins would all land
 * before it moves) and on a shared machine also measures the neighbours.
 */

/** One router of the room and the load of its worker. */
export interface RouterLoad {
  routerId: string;
  workerPid: number;
  /** Consumers on the router's worker (all rooms). */
  consumers: number;
}

export interface SpreadLimits {
  /** A worker at this many consumers takes no new peers of the room. */
  consumersPerWorker: number;
  /** Most routers (so workers) the room may have. */
  maxRouters: number;
}

export type Placement =
  /** Put the peer on this existing router of the room. */
  | { kind: 'router'; routerId: string }
  /** Give the room a router on this worker and put the peer there. */
  | { kind: 'spread'; workerPid: number };

/**
 * - The first of the room's routers (in creation order, the room's first router first) whose
 *   worker is under the threshold: packing keeps the room on few workers, so few pipes.
 * - Else a new router on `unused` — the least-loaded live worker the room does not use yet — if
 *   the room may grow and that worker is lighter than the lightest the room has.
 * - Else the room's router on its lightest worker.
 * `routers` must not be empty.
 */
export function choosePlacement(
  routers: readonly RouterLoad[],
  unused: { workerPid: number; consumers: number } | undefined,
  limits: SpreadLimits,
): Placement {
  const under = routers.find((r) => r.consumers < limits.consumersPerWorker);
  if (under) return { kind: 'router', routerId: under.routerId };
  const lightest = routers.reduce((best, r) => (r.consumers < best.consumers ? r : best));
  if (unused && routers.length < limits.maxRouters && unused.consumers < lightest.consumers) {
    return { kind: 'spread', workerPid: unused.workerPid };
  }
  return { kind: 'router', routerId: lightest.routerId };
}
