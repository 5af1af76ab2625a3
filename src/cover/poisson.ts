/**
 * Poisson processes on virtual time, the clock of cover traffic (as in Loopix and Nym: events
 * at independent exponential gaps, so their timing says nothing about what caused them).
 * Pure: the caller passes `now` (monotonic milliseconds) and `random` (uniform in [0, 1));
 * no timers. It does not decide what an event means; {@link PoissonClock} only counts them.
 */
import { ConfigError } from '../util/errors.ts'

/** Slots `PoissonClock.due` reports at most per call unless told otherwise. */
const DEFAULT_MAX_DUE = 10_000

/** Throws ConfigError unless `rate` is a finite number >= 0. */
function checkRate (rate: number): void {
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0) {
    throw new ConfigError(`Poisson rate must be a finite number of events per second >= 0, got ${String(rate)}`)
  }
}

/**
 * Milliseconds until the next event of a Poisson process of `ratePerSec` events per second:
 * exponential with mean 1000 / `ratePerSec`, drawn as -ln(1 - u) with u = `random()`, so a u of
 * 0 gives 0 and the result is always finite. Throws ConfigError unless `ratePerSec` is finite
 * and > 0.
 */
export function exponentialMs (ratePerSec: number, random: () => number): number {
  checkRate(ratePerSec)
  if (ratePerSec === 0) throw new ConfigError('exponentialMs needs a rate > 0')
  return -Math.log(1 - random()) * 1000 / ratePerSec
}

/**
 * A Poisson process on virtual time: slots (events) at exponential gaps. The caller asks how many
 * slots have fallen due since it last asked ({@link PoissonClock.due}) and when the next one is
 * ({@link PoissonClock.next}), e.g. to set its timer.
 */
export class PoissonClock {
  private readonly random: () => number
  private ratePerSec: number
  private nextAt: number

  /**
   * A clock of `ratePerSec` slots per second whose first slot is drawn from `now`. A rate of 0
   * means no slots ever. Throws ConfigError on a negative, NaN or infinite rate.
   */
  constructor (ratePerSec: number, random: () => number, now: number) {
    checkRate(ratePerSec)
    this.random = random
    this.ratePerSec = ratePerSec
    this.nextAt = this.draw(now)
  }

  /** Slots per second. */
  get rate (): number { return this.ratePerSec }

  /** Monotonic ms of the next slot (Infinity when the rate is 0). */
  get next (): number { return this.nextAt }

  /**
   * How many slots fell in (previous call, `now`] (a slot exactly at `now` counts), advancing past
   * them. At most `max` (default 10 000) are reported per call: when more were due (after a long
   * stall), the rest are skipped and the next slot is drawn afresh from `now`, so the clock
   * resynchronises instead of bursting. A `now` earlier than a previous one reports 0. Throws
   * ConfigError unless `max` is an integer >= 0.
   */
  due (now: number, max: number = DEFAULT_MAX_DUE): number {
    if (!Number.isInteger(max) || max < 0) throw new ConfigError(`due: max must be an integer >= 0, got ${max}`)
    let count = 0
    while (this.nextAt <= now && count < max) {
      count++
      this.nextAt += exponentialMs(this.ratePerSec, this.random)
    }
    if (this.nextAt <= now) this.nextAt = this.draw(now)
    return count
  }

  /**
   * Changes the rate; the next slot is drawn afresh from `now` (memorylessness makes that exact).
   * Slots already due and not yet collected with {@link PoissonClock.due} are dropped: call
   * `due(now)` first to count them. Throws ConfigError on a negative, NaN or infinite rate.
   */
  setRate (ratePerSec: number, now: number): void {
    checkRate(ratePerSec)
    this.ratePerSec = ratePerSec
    this.nextAt = this.draw(now)
  }

  /** The time of a slot drawn from `now`, or Infinity at rate 0. */
  private draw (now: number): number {
    return this.ratePerSec === 0 ? Infinity : now + exponentialMs(this.ratePerSec, this.random)
  }
}
