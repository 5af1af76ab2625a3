/**
 * A first-in first-out queue on an array with a head index, so taking from the front is O(1)
 * rather than `Array.shift`'s O(n): taken slots are cleared (nothing is kept alive) and the
 * array is compacted once more than half of it (and over `compactAfter` slots) is taken.
 */
export class Fifo<T> {
  private items: Array<T | undefined> = []
  private head = 0

  constructor (private readonly compactAfter = 1024) {}

  /** Items queued. */
  get size (): number { return this.items.length - this.head }

  /** Adds `item` at the back. */
  push (item: T): void { this.items.push(item) }

  /** The front item, left in place. */
  peek (): T | undefined { return this.items[this.head] }

  /** Takes the front item. */
  shift (): T | undefined {
    if (this.head >= this.items.length) return undefined
    const item = this.items[this.head]
    this.items[this.head++] = undefined
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head > this.compactAfter && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }

  /** Empties the queue; returns what was in it, front first. */
  clear (): T[] {
    const out = this.items.slice(this.head) as T[]
    this.items = []
    this.head = 0
    return out
  }
}
