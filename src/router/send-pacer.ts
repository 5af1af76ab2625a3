/**
 * Poisson sending for a destination (cover traffic, as Loopix's payload stream): the
 * destination's outbound messages wait for the slots of a Poisson clock of `rate` slots per
 * second, one message per slot; a slot with no message waiting carries a dummy instead (the
 * caller's: a loop through the destination's own tunnels). So the first hop of its outbound
 * tunnels sees messages at Poisson times at a constant mean rate whether the user sends or not,
 * and a burst of real messages is spread over the following slots. Real throughput is capped at
 * `rate` messages per second; messages beyond `maxQueue` waiting are refused (the caller drops
 * them; streams retransmit and slow down). After a stall, at most rate/5 missed slots are made up
 * at once; the others are dropped and counted as `skipped`.
 *
 * The thin timer driver of a strict {@link LinkShaper} whose items are one slot each.
 */
import { LinkShaper } from '../cover/shaper.ts'

/** Counters of a {@link SendPacer}. */
export interface PacerStats {
  /** Real messages sent in slots. */
  sent: number
  /** Slots that carried a dummy. */
  dummies: number
  /** Empty slots whose dummy could not be sent (no tunnels yet, or too many loops in flight). */
  missed: number
  /** Empty slots dropped because more came due at once than one tick makes up (rate/5): a late timer, a stalled event loop. */
  skipped: number
  /** Messages refused because the queue was full. */
  refused: number
  /** Messages waiting now. */
  queued: number
}

/** Shortest timer the pacer sets, ms: slots due meanwhile go together at the next tick. */
const MIN_TIMER_MS = 2

/** See module doc. */
export class SendPacer<T> {
  private readonly shaper: LinkShaper<T>
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private readonly counts = { sent: 0, dummies: 0, missed: 0 }

  /**
   * `rate` slots per second (> 0, at most 10 000); `send` is called with each message at its
   * slot, `dummy` at each empty slot (it says whether it sent one). Throws ConfigError on a bad
   * rate or queue bound.
   */
  constructor (rate: number, maxQueue: number, random: () => number,
    private readonly send: (item: T) => void, private readonly dummy: () => boolean,
    private readonly now: () => number = () => performance.now()) {
    this.shaper = new LinkShaper<T>({ rate, strict: true, maxQueueCells: maxQueue }, random, now())
  }

  /** Counters (a fresh object). */
  get stats (): PacerStats {
    const s = this.shaper.stats
    return { ...this.counts, skipped: s.skippedSlots, refused: s.refusedCells, queued: s.queuedCells }
  }

  /** Starts the slot timer. */
  start (): void {
    if (!this.stopped && this.timer === undefined) this.schedule()
  }

  /** Queues a message for the next free slot; false if the queue is full (the message is not sent). */
  offer (item: T): boolean {
    return !this.stopped && this.shaper.offer(item, 1, this.now())
  }

  /** Stops the timer and drops what waits. */
  stop (): void {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.shaper.clear()
  }

  private schedule (): void {
    const wait = Math.max(MIN_TIMER_MS, Math.min(this.shaper.nextSlotIn(this.now()), 60_000))
    this.timer = setTimeout(() => { this.tick() }, wait)
    this.timer.unref()
  }

  private tick (): void {
    this.timer = undefined
    if (this.stopped) return
    // After a stall (a blocked event loop) the slots missed are not all made up in one burst of dummies.
    const { release, chaff } = this.shaper.tick(this.now(), Math.ceil(this.shaper.rate / 5))
    for (const item of release) { this.counts.sent++; this.send(item) }
    for (let i = 0; i < chaff; i++) {
      if (this.dummy()) this.counts.dummies++
      else this.counts.missed++
    }
    this.schedule()
  }
}
