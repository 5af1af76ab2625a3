/**
 * The NS replay cache: which (ephemeral key, retransmission index) pairs were accepted, bounded
 * in memory without ever accepting a replay; and, per handshake (ephemeral key), how far its
 * pre-NSR ES window got, so that a handshake dropped and then re-created from a later NS copy
 * does not accept its old ES again.
 *
 * Every NS carries its handshake's creation time (whole seconds). An NS is accepted only if that
 * timestamp is within [now - maxAge, now + maxSkew] and above the watermark, and its key is not
 * cached; entries live exactly as long as that, so a handshake forgotten here can never be
 * re-created. When the cache is full the oldest entry is forgotten and the watermark rises to its
 * timestamp, so anything as old as a forgotten entry is refused as stale rather than accepted as
 * new: under a flood, old-but-valid NS are refused (availability), never replayed (safety).
 * Pure; time is passed in.
 */

/** The verdict on an NS. */
export type ReplayVerdict = 'ok' | 'replay' | 'clock'

/** Bounded memory of accepted NS. */
export class ReplayCache {
  private readonly seen = new Map<string, { ts: number, highest: number }>()
  private watermark = -Infinity

  constructor (
    /** Most entries kept. */
    readonly capacity: number,
    /** Oldest NS timestamp accepted, seconds before now. */
    readonly maxAgeSec: number,
    /** Newest NS timestamp accepted, seconds after now. */
    readonly maxSkewSec: number
  ) {}


  /** Whether `key` is cached (a cheap pre-check before any DH). */
  has (key: string): boolean { return this.seen.has(key) }

  /** Whether an NS named `key` with timestamp `ts` may be accepted at `nowSec` (does not record it). */
  check (key: string, ts: number, nowSec: number): ReplayVerdict {
    if (ts > nowSec + this.maxSkewSec || ts < nowSec - this.maxAgeSec || ts <= this.watermark) return 'clock'
    return this.seen.has(key) ? 'replay' : 'ok'
  }

  /** Records an accepted NS (call only after it authenticated and passed {@link check}). */
  add (key: string, ts: number): void {
    if (this.seen.size >= this.capacity) {
      const first = this.seen.entries().next()
      if (first.done !== true) {
        this.seen.delete(first.value[0])
        this.watermark = Math.max(this.watermark, first.value[1].ts)
      }
    }
    this.seen.set(key, { ts, highest: -1 })
  }

  /** The highest pre-NSR ES number recorded for handshake `key` (-1: none), if cached. */
  highest (key: string): number | undefined {
    return this.seen.get(key)?.highest
  }

  /** Records that handshake `key`'s pre-NSR ES window reached `n`. */
  noteHighest (key: string, n: number): void {
    const e = this.seen.get(key)
    if (e !== undefined && n > e.highest) e.highest = n
  }

  /** Forgets entries too old to pass {@link check} anyway (raising the watermark past them). */
  expire (nowSec: number): void {
    const limit = nowSec - this.maxAgeSec
    for (const [key, e] of this.seen) {
      if (e.ts < limit) {
        this.seen.delete(key)
        this.watermark = Math.max(this.watermark, e.ts)
      }
    }
  }
}
