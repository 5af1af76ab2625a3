/**
 * Load monitors: how scarce each resource a router spends on others is, as one number.
 *
 * The load convention, shared by every monitor: a number >= 0; below 1 the resource is in
 * excess (serve everyone, charge nothing); from 1 to {@link HARD_LOAD} it is scarce (serve by
 * priority, charging credit); at {@link HARD_LOAD} or above it is exhausted (refuse). This is
 * GNUnet's rule (`load < 1` = free) with an explicit upper bound instead of comparing load to
 * the priority.
 *
 * Three shapes: a rate on a token bucket (bandwidth, lookups per second), a count against a
 * limit (transit tunnels), and a delay against a target (queueing). Pure: `now` is passed in
 * (monotonic milliseconds); no timers.
 */
import { TokenBucket } from '../util/token-bucket.ts'
import { ConfigError, LimitError } from '../util/errors.ts'

/** The load at and above which a resource is exhausted: refuse. */
export const HARD_LOAD = 2

/** The resources a router spends on others. */
export const Resource = { UP: 'up', DOWN: 'down', TRANSIT: 'transit', LOOKUP: 'lookup', QUEUE: 'queue', BUILD: 'build' } as const
/** One of {@link Resource}'s values. */
export type Resource = typeof Resource[keyof typeof Resource]

/** Anything that reports a load (see the module comment for its scale). */
export interface LoadMonitor {
  /** The load at `now`. */
  load (now: number): number
}

/** Throws ConfigError unless `excess` is in (0, 1). */
function checkExcess (excess: number, what: string): void {
  if (!(excess > 0 && excess < 1)) throw new ConfigError(`${what} excess ${excess} must be in (0, 1)`)
}

/**
 * Maps a fraction `used` of a capacity onto the load scale: linear from 0 to 1 up to `excess`,
 * then linear from 1 to HARD_LOAD at `used = 1`, and on beyond that.
 */
function piecewise (used: number, excess: number): number {
  if (used <= excess) return used / excess
  return 1 + (HARD_LOAD - 1) * (used - excess) / (1 - excess)
}

/** Options of {@link RateMonitor}. */
export interface RateMonitorOptions {
  /** The bucket holds this many seconds of the rate; default 1. */
  burstSec?: number
  /** Fraction of the burst that may be used freely (load below 1); default 0.5. */
  excess?: number
}

/**
 * A rate resource (bandwidth in bytes/s, lookups/s) on a {@link TokenBucket} holding `burstSec`
 * seconds of the rate. Load rises linearly with the fraction of the burst used: 1 when `excess`
 * of it is used, HARD_LOAD when it is empty, and beyond that when overdrawn by
 * {@link RateMonitor.spend} (`1 + (2 - excess) / (1 - excess)` at `-burst`). With the default
 * excess 0.5 this is simply `used / excess`, from 0 to 4. An unlimited rate (0 or Infinity) has
 * load 0 always.
 */
export class RateMonitor implements LoadMonitor {
  /** The bucket behind the monitor. */
  readonly bucket: TokenBucket
  /** Fraction of the burst that may be used freely. */
  readonly excess: number
  private readonly burstSec: number

  /** ConfigError for a negative or NaN rate, a non-positive `burstSec` or an `excess` outside (0, 1). */
  constructor (ratePerSec: number, now: number, opts: RateMonitorOptions = {}) {
    const burstSec = opts.burstSec ?? 1
    const excess = opts.excess ?? 0.5
    if (!(burstSec > 0 && burstSec < Infinity)) throw new ConfigError(`rate monitor burstSec ${burstSec} must be positive and finite`)
    checkExcess(excess, 'rate monitor')
    this.burstSec = burstSec
    this.bucket = new TokenBucket(...this.shape(ratePerSec), now)
    this.excess = excess
  }

  /** Changes the rate (0 or Infinity: unlimited) at `now`, keeping how full the bucket is. */
  setRate (ratePerSec: number, now: number): void {
    this.bucket.set(...this.shape(ratePerSec), now)
  }

  /** The bucket's rate and burst for a rate of the monitor. */
  private shape (ratePerSec: number): [number, number] {
    if (!(ratePerSec >= 0)) throw new ConfigError(`rate monitor rate ${ratePerSec} must be a non-negative number`)
    return ratePerSec === 0 || ratePerSec === Infinity ? [Infinity, 0] : [ratePerSec, ratePerSec * this.burstSec]
  }

  /** Spends units that were used anyway (received traffic, our own traffic). */
  spend (units: number, now: number): void {
    this.bucket.force(units, now)
  }

  /** Spends units if that many tokens are there; returns whether it did. */
  trySpend (units: number, now: number): boolean {
    return this.bucket.take(units, now)
  }

  /** The load at `now` (see the class comment). */
  load (now: number): number {
    if (this.bucket.unlimited) return 0
    return piecewise(this.bucket.used(now), this.excess)
  }
}

/** Options of {@link GaugeMonitor}. */
export interface GaugeMonitorOptions {
  /** Fraction of the limit that may be used freely (load below 1); default 0.8. */
  excess?: number
}

/**
 * A count resource (transit tunnels) against a limit: load `n / (excess * limit)` up to
 * `excess * limit`, then rising linearly from 1 to HARD_LOAD at `n = limit` (and on beyond it).
 * A limit of 0 means nothing may be taken: load HARD_LOAD always. An Infinity limit: load 0.
 */
export class GaugeMonitor implements LoadMonitor {
  /** The count at which the resource is exhausted. */
  readonly limit: number
  /** Fraction of the limit that may be used freely. */
  readonly excess: number
  private n = 0

  /** ConfigError for a limit that is not a non-negative integer (or Infinity), or an `excess` outside (0, 1). */
  constructor (limit: number, opts: GaugeMonitorOptions = {}) {
    const excess = opts.excess ?? 0.8
    if (!(Number.isInteger(limit) || limit === Infinity) || limit < 0) throw new ConfigError(`gauge limit ${limit} must be a non-negative integer`)
    checkExcess(excess, 'gauge')
    this.limit = limit
    this.excess = excess
  }

  /** Sets the current count; LimitError unless a finite, non-negative number. */
  set (n: number): void {
    if (!(n >= 0 && n < Infinity)) throw new LimitError(`gauge value ${n} is not a finite non-negative number`)
    this.n = n
  }

  /** The current count. */
  get value (): number {
    return this.n
  }

  /** The load (the count does not depend on time; `now` is for the interface). */
  load (_now: number): number {
    if (this.limit === 0) return HARD_LOAD
    if (this.limit === Infinity) return 0
    // Not piecewise(n / limit): this way the knee and the limit give exactly 1 and HARD_LOAD.
    const knee = this.excess * this.limit
    if (this.n <= knee) return this.n / knee
    return 1 + (HARD_LOAD - 1) * (this.n - knee) / (this.limit - knee)
  }
}

/** Milliseconds without a sample after which the average decays by 7/8 (GNUnet's autodecline). */
const DECAY_MS = 250

/**
 * A delay resource (queueing delay in ms), GNUnet-style: a running average
 * `avg = (7 * avg + d) / 8` per sample, decaying by 7/8 for every full 250 ms without samples;
 * load `avg / targetMs`, so 1 when the average delay is the target. Time going backwards decays
 * nothing.
 */
export class DelayMonitor implements LoadMonitor {
  /** The delay, in ms, at which the load is 1. */
  readonly targetMs: number
  private avg = 0
  private last = Number.NaN

  /** ConfigError unless `targetMs` is positive and finite. */
  constructor (targetMs: number) {
    if (!(targetMs > 0 && targetMs < Infinity)) throw new ConfigError(`delay monitor target ${targetMs} must be positive and finite`)
    this.targetMs = targetMs
  }

  /** Records a delay sample at `now` (negative delays count as 0); LimitError unless finite. */
  record (delayMs: number, now: number): void {
    if (!Number.isFinite(delayMs)) throw new LimitError(`delay ${delayMs} is not a finite number`)
    this.avg = (7 * this.decayed(now) + Math.max(0, delayMs)) / 8
    if (!(now < this.last)) this.last = now
  }

  /** The load at `now`: the decayed average over the target. */
  load (now: number): number {
    return this.decayed(now) / this.targetMs
  }

  /** The average as of `now`: 7/8 of it for each full 250 ms since the last sample. */
  private decayed (now: number): number {
    const elapsed = now - this.last
    if (!(elapsed >= DECAY_MS)) return this.avg
    return this.avg * Math.pow(7 / 8, Math.floor(elapsed / DECAY_MS))
  }
}

/**
 * A rate measured with exponential decay (time constant `tauMs`, default 1000): each unit
 * counts fully when added and fades as e^(-age/tau); `rate` is units per second.
 */
export class DecayingRate {
  private value = 0
  private last = -Infinity

  constructor (private readonly tauMs = 1000) {
    if (!(tauMs > 0 && tauMs < Infinity)) throw new ConfigError(`decaying rate tauMs ${tauMs} must be positive and finite`)
  }

  /** Counts `units` at `now`. */
  add (units: number, now: number): void {
    this.decay(now)
    this.value += units
  }

  /** Units per second at `now`. */
  rate (now: number): number {
    this.decay(now)
    return this.value * 1000 / this.tauMs
  }

  private decay (now: number): void {
    if (now > this.last) {
      if (this.value !== 0) this.value *= Math.exp(-(now - this.last) / this.tauMs)
      this.last = now
    }
  }
}
