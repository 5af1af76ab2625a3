/**
 * A delay line: items enter with a due time and leave through `deliver`, in due-time order
 * (items with equal due times leave in the order they entered). One timer per line.
 *
 * It only schedules: it knows nothing of conns, bytes, loss or reordering. Items already due
 * leave on the next `setImmediate`, so a burst of sends is delivered as one batch.
 */

interface Entry<T> { due: number, item: T }

/** Current time in milliseconds, the clock every delay line uses. */
export const now = (): number => performance.now()

/** Ordered, timer-driven queue of items that are each released at their due time. */
export class DelayLine<T> {
  private items: Array<Entry<T>> = []
  private head = 0
  private timer: NodeJS.Timeout | undefined
  private immediate: NodeJS.Immediate | undefined
  private timerDue = Infinity

  constructor (private readonly deliver: (item: T) => void) {}

  /** Number of items waiting. */
  get size (): number { return this.items.length - this.head }

  /** The due time of the last item waiting, or -Infinity when empty. */
  get lastDue (): number {
    return this.size === 0 ? -Infinity : (this.items[this.items.length - 1] as Entry<T>).due
  }

  /** Adds `item`, to be delivered at `due` (a {@link now} timestamp). */
  push (item: T, due: number): void {
    const items = this.items
    let i = items.length
    while (i > this.head && (items[i - 1] as Entry<T>).due > due) i--
    if (i === items.length) items.push({ due, item })
    else items.splice(i, 0, { due, item })
    this.arm()
  }

  /** Drops every waiting item and cancels the timer. */
  clear (): void {
    this.items = []
    this.head = 0
    this.disarm()
  }

  private disarm (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    if (this.immediate !== undefined) clearImmediate(this.immediate)
    this.timer = undefined
    this.immediate = undefined
    this.timerDue = Infinity
  }

  private arm (): void {
    const first = this.items[this.head]
    if (first === undefined || first.due >= this.timerDue) return
    this.disarm()
    this.timerDue = first.due
    const wait = first.due - now()
    if (wait <= 0) this.immediate = setImmediate(this.fire)
    else this.timer = setTimeout(this.fire, Math.ceil(wait))
  }

  private readonly fire = (): void => {
    this.timer = undefined
    this.immediate = undefined
    this.timerDue = Infinity
    // Timers have millisecond granularity; treat anything due within 1 ms as due.
    const t = now() + 1
    for (;;) {
      const e = this.items[this.head]
      if (e === undefined || e.due > t) break
      this.items[this.head++] = undefined as unknown as Entry<T>
      this.deliver(e.item)
    }
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    this.arm()
  }
}
