/**
 * One link's cover shaper: on a Poisson clock of `rate` slots per second it decides how many
 * chaff (dummy) cells the router sends to the peer, so that the number of cells per second on the
 * link does not follow what the user does. Pure: the caller passes `now` (monotonic ms) and
 * `random`; a thin driver owns the timer, sends the cells and makes the chaff. The shaper does
 * not know what a cell is, does not pad or encrypt anything, and does not hide timing finer than
 * its slots.
 *
 * Two modes:
 * - fill-up (`strict: false`): real cells are never delayed. The driver sends them itself and
 *   reports them with {@link LinkShaper.sent}; at each {@link LinkShaper.tick} the slots that
 *   elapsed since the previous tick, minus the real cells sent since then, become chaff (never
 *   fewer than 0). A real excess is forgotten at each tick, not carried over, so a burst does not
 *   silence the chaff afterwards. The excess inside one tick is what leaks: the driver should tick
 *   on a period spanning many slots (e.g. every 100 ms) rather than at every slot.
 * - strict (`strict: true`): real traffic waits for slots. {@link LinkShaper.offer} queues opaque
 *   items of k cells (bounded by `maxQueueCells`); each tick releases queued items in order while
 *   the slots elapsed in that tick cover them (k slots for k cells) and turns the slots left into
 *   chaff, so real + chaff = slots per tick (less those beyond the tick's chaff cap, counted as
 *   skipped). Unused slots are not saved for later ticks (they were
 *   spent as chaff), so an item of k > 1 cells needs one tick that brings k slots: a driver ticking
 *   at every slot should queue one-cell items. An item that cannot fit goes anyway once it has
 *   waited more than `maxWaitMs`, counted as an overrun (see {@link LinkShaper.tick}).
 *
 * At rate 0 the shaper is off: no chaff; in strict mode every queued item goes at the next tick.
 */
import { ConfigError } from '../util/errors.ts'
import { PoissonClock } from './poisson.ts'
import { Fifo } from '../util/fifo.ts'

/** Default of {@link ShaperSettings.maxWaitMs}. */
const DEFAULT_MAX_WAIT_MS = 1000

/** Settings of a {@link LinkShaper}. */
export interface ShaperSettings {
  /** Slots per second: finite, >= 0. 0 = off (no chaff; a strict queue passes everything at once). */
  rate: number
  /** Whether real cells wait for slots (strict) or go at once and only displace chaff (fill-up). */
  strict: boolean
  /** Strict mode: most cells queued at once; an item that would exceed it is refused. Integer >= 0. */
  maxQueueCells: number
  /** Strict mode: ms after which a queue head too big for the slots of a tick goes anyway; default 1000. */
  maxWaitMs?: number
}

/** Counters of a {@link LinkShaper}. All are cumulative except `queuedCells`. */
export interface ShaperStats {
  /** Real cells: reported with `sent` (fill-up) or released by `tick` (strict). */
  realCells: number
  /** Chaff cells the ticks asked for. */
  chaffCells: number
  /** Empty slots beyond a tick's `maxChaff`: dropped, not owed (after a late or stalled tick, say). */
  skippedSlots: number
  /** Cells waiting in the strict queue now. */
  queuedCells: number
  /** Cells of items `offer` refused because the queue was full. */
  refusedCells: number
  /** Strict items released without enough slots because they waited more than `maxWaitMs`. */
  overruns: number
}

/** What a {@link LinkShaper.tick} asks the driver to send now. */
export interface ShaperTick<T> {
  /** Strict mode: queued items to send now, in the order offered (always empty in fill-up mode). */
  release: T[]
  /** Chaff cells to send now. */
  chaff: number
}

/** A queued strict-mode item. */
interface Queued<T> {
  item: T
  cells: number
  since: number
}

/** Throws ConfigError unless `n` is an integer >= `min`. */
function checkCount (what: string, n: number, min: number): void {
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${what} must be an integer >= ${min}, got ${String(n)}`)
}

/** One link's cover shaper. See the module comment. */
export class LinkShaper<T> {
  /** Whether real cells wait for slots. */
  readonly strict: boolean
  /** Slots per second (0 = off). */
  readonly rate: number
  /** Strict queue bound in cells. */
  readonly maxQueueCells: number
  /** Strict mode: how long a queue head too big for a tick's slots waits before it overruns. */
  readonly maxWaitMs: number
  private readonly clock: PoissonClock
  private readonly queue = new Fifo<Queued<T>>()
  private pendingReal = 0
  private readonly counters: ShaperStats = { realCells: 0, chaffCells: 0, skippedSlots: 0, queuedCells: 0, refusedCells: 0, overruns: 0 }

  /**
   * A shaper whose first slot is drawn from `now`. Throws ConfigError for a rate that is negative,
   * NaN or infinite, a `maxQueueCells` that is not an integer >= 0, or a negative or NaN
   * `maxWaitMs` (Infinity is allowed: never overrun).
   */
  constructor (settings: ShaperSettings, random: () => number, now: number) {
    checkCount('maxQueueCells', settings.maxQueueCells, 0)
    const maxWaitMs = settings.maxWaitMs ?? DEFAULT_MAX_WAIT_MS
    if (typeof maxWaitMs !== 'number' || !(maxWaitMs >= 0)) throw new ConfigError(`maxWaitMs must be >= 0, got ${String(maxWaitMs)}`)
    this.clock = new PoissonClock(settings.rate, random, now)
    this.rate = settings.rate
    this.strict = settings.strict
    this.maxQueueCells = settings.maxQueueCells
    this.maxWaitMs = maxWaitMs
  }

  /** A snapshot of the counters (a fresh object each time). */
  get stats (): ShaperStats { return { ...this.counters } }

  /**
   * Fill-up mode: `cells` real cells just went out on the link (they use up slots of the current
   * tick). Throws ConfigError in strict mode (real cells go through {@link LinkShaper.offer}
   * there) or unless `cells` is an integer >= 0.
   */
  sent (cells: number): void {
    if (this.strict) throw new ConfigError('sent() is for fill-up shapers; a strict shaper takes real cells with offer()')
    checkCount('cells', cells, 0)
    this.pendingReal += cells
    this.counters.realCells += cells
  }

  /**
   * Strict mode: queues `item`, of `cells` cells, offered at `now`; it leaves with a later
   * {@link LinkShaper.tick}. Returns false, and counts the cells as refused, when the queue would
   * then hold more than `maxQueueCells` cells (an item bigger than that is always refused); the
   * caller keeps or drops the item. Throws ConfigError in fill-up mode (real cells are sent at once
   * there and reported with {@link LinkShaper.sent}) or unless `cells` is an integer >= 1.
   */
  offer (item: T, cells: number, now: number): boolean {
    if (!this.strict) throw new ConfigError('offer() is for strict shapers; a fill-up shaper is told of real cells with sent()')
    checkCount('cells', cells, 1)
    if (this.counters.queuedCells + cells > this.maxQueueCells) {
      this.counters.refusedCells += cells
      return false
    }
    this.queue.push({ item, cells, since: now })
    this.counters.queuedCells += cells
    return true
  }

  /**
   * Advances to `now`: returns the queued items to send now (strict mode) and how many chaff cells
   * to send, at most `maxChaff` (default Infinity; the caller's bandwidth budget; chaff beyond it
   * is dropped, not carried over).
   *
   * Fill-up: chaff = slots elapsed since the previous tick - real cells sent since then, if
   * positive. Strict: the queue head goes while its cells fit in the slots left in this tick (k
   * slots for k cells). A head that does not fit waits, unless it has waited more than
   * `maxWaitMs` and at least one slot of this tick is left: then it goes too, using up all the
   * slots left, and counts as an overrun. So at most one overrun per tick, every released item
   * uses at least one slot, and one-cell items never overrun. Slots left become chaff. At rate 0,
   * all queued items go and there is no chaff.
   *
   * Throws ConfigError unless `maxChaff` is >= 0 (a fraction is rounded down).
   */
  tick (now: number, maxChaff: number = Infinity): ShaperTick<T> {
    if (typeof maxChaff !== 'number' || !(maxChaff >= 0)) throw new ConfigError(`maxChaff must be >= 0, got ${String(maxChaff)}`)
    const release: T[] = []
    let left = this.clock.due(now)
    if (!this.strict) {
      left = Math.max(0, left - this.pendingReal)
      this.pendingReal = 0
    } else if (this.rate === 0) {
      while (this.queue.size > 0) release.push(this.take().item)
    } else {
      while (this.queue.size > 0) {
        const head = this.queue.peek()!
        if (head.cells <= left) {
          left -= head.cells
        } else if (left > 0 && now - head.since > this.maxWaitMs) {
          left = 0
          this.counters.overruns++
        } else {
          break
        }
        release.push(this.take().item)
      }
    }
    const chaff = Math.min(left, Math.floor(maxChaff))
    this.counters.chaffCells += chaff
    this.counters.skippedSlots += left - chaff
    return { release, chaff }
  }

  /**
   * Milliseconds from `now` until the next slot, for the driver's timer (0 if it is already due).
   * Infinity at rate 0, except that a strict shaper at rate 0 holding queued items returns 0 (its
   * next tick releases them).
   */
  nextSlotIn (now: number): number {
    if (this.rate === 0) return this.strict && this.queue.size > 0 ? 0 : Infinity
    return Math.max(0, this.clock.next - now)
  }

  /**
   * Drops the queue (the link closed) and returns the dropped items in order; they are not counted
   * as sent or refused. Also forgets real cells reported since the last tick. The clock runs on.
   */
  clear (): T[] {
    const dropped = this.queue.clear().map(q => q.item)
    this.counters.queuedCells = 0
    this.pendingReal = 0
    return dropped
  }

  /** Removes the queue head, counting its cells as real; compacts the array now and then. */
  private take (): Queued<T> {
    const head = this.queue.shift()!
    this.counters.queuedCells -= head.cells
    this.counters.realCells += head.cells
    return head
  }
}
