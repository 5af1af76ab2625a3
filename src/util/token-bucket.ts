/**
 * A token bucket: `rate` units per second on average, at most `burst` at once (the accountant's
 * bandwidth and work monitors, per-peer caps, the streaming layer's RST limit). Unlike a plain
 * limiter it can be overdrawn: {@link TokenBucket.force} spends units
 * that were already received or must go anyway, down to `-burst`, so the debt is repaid by the
 * refill before anything optional is allowed again. Pure: `now` is passed in (monotonic
 * milliseconds); no timers.
 *
 * A rate of Infinity means unlimited: every take succeeds and there is never a wait. A rate of 0
 * never refills: the bucket gives its burst once.
 * Time going backwards neither adds nor removes tokens; the refill resumes once `now` passes the
 * latest time seen.
 */
import { ConfigError, LimitError } from '../util/errors.ts'

/** Throws ConfigError unless `rate` and `burst` describe a bucket; returns whether it is unlimited. */
function check (rate: number, burst: number): boolean {
  if (!(rate >= 0)) throw new ConfigError(`token bucket rate ${rate} must be a non-negative number`)
  if (!(burst >= 0)) throw new ConfigError(`token bucket burst ${burst} must be a non-negative number`)
  const unlimited = rate === Infinity
  if (!unlimited && !(burst > 0 && burst < Infinity)) throw new ConfigError(`token bucket burst ${burst} must be positive and finite`)
  return unlimited
}

/** Throws LimitError unless `n` is a finite, non-negative number of units. */
function checkUnits (n: number): void {
  if (!(n >= 0 && n < Infinity)) throw new LimitError(`token count ${n} is not a finite non-negative number`)
}

/** A token bucket that can be overdrawn. See the module comment. */
export class TokenBucket {
  private _rate: number
  private _burst: number
  private _unlimited: boolean
  private level: number
  private last: number

  /**
   * `rate` units per second (Infinity = unlimited), `burst` units (> 0 and finite unless
   * unlimited, where it is not used). Starts full at `now`. ConfigError on negative or NaN values.
   */
  constructor (rate: number, burst: number, now: number) {
    this._unlimited = check(rate, burst)
    this._rate = rate
    this._burst = burst
    this.level = burst
    this.last = now
  }

  /** Units per second. */
  get rate (): number { return this._rate }
  /** Most units held at once. */
  get burst (): number { return this._burst }
  /** Whether the rate is Infinity: nothing is limited. */
  get unlimited (): boolean { return this._unlimited }

  /** Tokens at `now` (refilled first; negative after {@link force}). Infinity when unlimited. */
  tokens (now: number): number {
    if (this._unlimited) return Infinity
    this.refill(now)
    return this.level
  }

  /** Takes `n` tokens if at least `n` are there; returns whether it did. LimitError on a bad `n`. */
  take (n: number, now: number): boolean {
    checkUnits(n)
    if (this._unlimited) return true
    this.refill(now)
    if (this.level < n) return false
    this.level -= n
    return true
  }

  /** Takes `n` tokens unconditionally; the level never goes below `-burst`. LimitError on a bad `n`. */
  force (n: number, now: number): void {
    checkUnits(n)
    if (this._unlimited) return
    this.refill(now)
    this.level = Math.max(-this._burst, this.level - n)
  }

  /** Fraction of the burst used, `(burst - tokens) / burst`, clamped to [0, 2]; 0 when unlimited. */
  used (now: number): number {
    if (this._unlimited) return 0
    this.refill(now)
    return Math.min(2, Math.max(0, (this._burst - this.level) / this._burst))
  }

  /**
   * Whole milliseconds until `n` tokens are there (0 if they are now): waiting that long is
   * enough for {@link take} to succeed. Infinity if `n > burst` (never); 0 when unlimited.
   */
  waitMs (n: number, now: number): number {
    checkUnits(n)
    if (this._unlimited) return 0
    if (n > this._burst) return Infinity
    this.refill(now)
    if (this.level >= n) return 0
    // `last` is ahead of `now` if the clock went backwards: nothing refills until it is passed.
    if (this._rate === 0) return Infinity
    const last = this.last
    let w = Math.max(0, Math.ceil(last - now + (n - this.level) * 1000 / this._rate))
    // Floating-point rounding in the refill could leave a hair short: step until it is not.
    for (let i = 0; i < 8 && this.level + ((now + w) - last) * this._rate / 1000 < n; i++) w++
    return w
  }

  /** Changes the rate and burst at `now`, keeping the fill fraction (full when it was unlimited). */
  set (rate: number, burst: number, now: number): void {
    const unlimited = check(rate, burst)
    let fraction = 1
    if (!this._unlimited) {
      this.refill(now)
      fraction = this.level / this._burst
    }
    this._rate = rate
    this._burst = burst
    this._unlimited = unlimited
    this.level = unlimited ? burst : fraction * burst
    this.last = Math.max(this.last, now)
  }

  /** Adds the tokens earned since the last refill; ignores time going backwards. */
  private refill (now: number): void {
    const elapsed = now - this.last
    if (!(elapsed > 0)) return
    this.level = Math.min(this._burst, this.level + elapsed * this._rate / 1000)
    this.last = now
  }
}
