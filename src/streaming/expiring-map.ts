/**
 * A bounded map whose entries expire: the manager's memory of streams it has forgotten (to
 * ignore their stale SYNs, and to keep acknowledging a closed stream's retransmitted FIN).
 * At most `capacity` entries; when full, the oldest goes first. Pure: `now` is passed in.
 */

/** Entries with a time to live (see module doc). */
export class ExpiringMap<K, V> {
  private readonly entries = new Map<K, { value: V, until: number }>()

  constructor (private readonly capacity: number, private readonly ttlMs: number) {}

  /** Stores `value` under `key` from `now` for the map's time to live. */
  set (key: K, value: V, now: number): void {
    this.entries.delete(key)
    this.entries.set(key, { value, until: now + this.ttlMs })
    for (const k of this.entries.keys()) { // evicts at most one: the oldest
      if (this.entries.size <= this.capacity) break
      this.entries.delete(k)
    }
  }

  /** The live value under `key` at `now`, or undefined. */
  get (key: K, now: number): V | undefined {
    const e = this.entries.get(key)
    if (e === undefined) return undefined
    if (now < e.until) return e.value
    this.entries.delete(key)
    return undefined
  }

}
