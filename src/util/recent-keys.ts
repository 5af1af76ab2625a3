/**
 * Keys seen recently, for replay detection (handshake and tunnel-build ephemeral keys): two
 * generations of `spanMs` each rotate, so every key is remembered for at least `spanMs`. When
 * the current generation holds `max` keys, new keys are refused rather than a live entry
 * evicted, which would re-open replays. Time is passed in.
 */
import { toHex } from './bytes.ts'

/** See module doc. */
export class RecentKeys {
  private current = new Set<string>()
  private previous = new Set<string>()
  private rotated = 0

  constructor (readonly spanMs: number, readonly max: number) {}

  /** Whether `key` was recorded within the span (without recording it). */
  has (key: Uint8Array): boolean {
    const k = toHex(key)
    return this.current.has(k) || this.previous.has(k)
  }

  /** Records `key`; false if it was seen within the span (a replay) or the set is full. */
  add (key: Uint8Array, now: number): boolean {
    if (now - this.rotated >= this.spanMs) {
      this.previous = now - this.rotated >= 2 * this.spanMs ? new Set() : this.current
      this.current = new Set()
      this.rotated = now
    }
    const k = toHex(key)
    if (this.current.has(k) || this.previous.has(k)) return false
    if (this.current.size >= this.max) return false
    this.current.add(k)
    return true
  }
}
