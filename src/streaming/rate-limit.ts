/**
 * A token bucket: at most `burst` events at once and `perSecond` on average. Used to bound the
 * RSTs a StreamManager sends in answer to packets for unknown streams and refused SYNs, so a
 * flood of junk cannot turn it into an amplifier. Pure: `now` is passed in.
 */

/** A token bucket (see module doc). */
export class TokenBucket {
  private tokens: number
  private last: number | undefined

  constructor (private readonly perSecond: number, private readonly burst: number) {
    this.tokens = burst
  }

  /** Takes one token at `now` (ms) if there is one. */
  take (now: number): boolean {
    if (this.last !== undefined) this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.perSecond / 1000)
    this.last = now
    if (this.tokens < 1) return false
    this.tokens--
    return true
  }
}
