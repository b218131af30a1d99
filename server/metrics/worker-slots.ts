/**
 * Worker label values: a slot number (0, 1, …) per live worker instead of its pid, so the set
 * of label values stays bounded by the pool size however often workers are replaced. A worker
 * that replaces a dead one takes the lowest free slot (usually its predecessor's).
 */
export class WorkerSlots {
  readonly #slotOf = new Map<number, number>();

  /** The slot of a worker process, assigned on first sight. */
  of(pid: number): string {
    let slot = this.#slotOf.get(pid);
    if (slot === undefined) {
      const taken = new Set(this.#slotOf.values());
      slot = 0;
      while (taken.has(slot)) slot++;
      this.#slotOf.set(pid, slot);
    }
    return String(slot);
  }

  /** Frees the slots of workers no longer alive. */
  retain(alivePids: readonly number[]): void {
    const alive = new Set(alivePids);
    for (const pid of this.#slotOf.keys()) if (!alive.has(pid)) this.#slotOf.delete(pid);
  }
}
