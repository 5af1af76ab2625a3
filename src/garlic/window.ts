/**
 * The receiver's window of expected tags for one direction of one key set, registered in the
 * table shared by all sessions (tags.ts).
 *
 * Registered: the tag of every not-yet-received n in (highest - W, highest + W] (the next W
 * beyond the highest received, and up to W behind it for late arrivals), at most 2W entries;
 * plus sparse checkpoints further ahead: the next 16 multiples of W beyond that, then every
 * power of two up to 2^32 (about 36 entries). A burst loss longer than W would otherwise leave
 * the receiver unable to recognise anything the sender sends afterwards; the first message that
 * lands on a checkpoint authenticates and moves the window there. Checkpoints move only when
 * the window crosses a multiple of W, so a message costs one tag derivation on average.
 */
import type { CryptoSuite } from '../crypto/types.ts'
import { deriveTag, MAX_MESSAGES_PER_KEY, tagId, type TagTable } from './tags.ts'

/** Linear checkpoints beyond the window (then powers of two). */
const LINEAR_CHECKPOINTS = 16

/** The receiving side of one direction's tags. */
export class TagWindow<T> {
  /** Highest message number received (start - 1 before the first). */
  highest: number
  /** Messages accepted through this window. */
  accepted = 0
  private generated: number
  private disposed = false
  private cpBase = -1
  private readonly ids: string[]
  private readonly nums: Float64Array
  private readonly checkpoints = new Map<number, string>()
  private readonly tagKey: Uint8Array

  constructor (
    private readonly c: CryptoSuite,
    private readonly table: TagTable<T>,
    tagKey: Uint8Array,
    readonly size: number,
    /** What the tags lead to (a session's inbound key set). */
    readonly owner: T,
    /** First message number expected (numbers below it are refused). */
    start = 0
  ) {
    this.tagKey = Uint8Array.from(tagKey)
    this.ids = new Array<string>(2 * size).fill('')
    this.nums = new Float64Array(2 * size).fill(-1)
    this.highest = start - 1
    this.generated = start
    this.extend(start + size - 1)
    this.refreshCheckpoints()
  }

  /** Registers tag `n` unless it collides with another window's (never in practice). */
  private register (n: number): string | undefined {
    const id = tagId(deriveTag(this.c, this.tagKey, n), 0)
    if (this.table.has(id)) return undefined
    this.table.set(id, { win: this, n })
    return id
  }

  /** Registers tags up to `upTo`, expiring those that fall W or more behind. */
  private extend (upTo: number): void {
    const ring = this.ids.length
    if (upTo - this.generated >= ring) {
      // A jump (to a checkpoint): nothing of the old ring stays within the window.
      this.clearRing()
      this.generated = upTo - ring + 1
    }
    for (let n = this.generated; n <= upTo && n < MAX_MESSAGES_PER_KEY; n++) {
      const cp = this.checkpoints.get(n)
      if (cp !== undefined) { this.table.delete(cp); this.checkpoints.delete(n) }
      const slot = n % ring
      if ((this.nums[slot] as number) >= 0) this.table.delete(this.ids[slot] as string)
      const id = this.register(n)
      this.ids[slot] = id ?? ''
      this.nums[slot] = id === undefined ? -1 : n
    }
    if (upTo >= this.generated) this.generated = upTo + 1
  }

  /** Keeps the checkpoints beyond the window in place (recomputed when the window crosses a multiple of W). */
  private refreshCheckpoints (): void {
    const W = this.size
    const base = Math.floor((this.highest + W) / W)
    if (base === this.cpBase) return
    this.cpBase = base
    const wanted = new Set<number>()
    let m = (base + 1) * W
    for (let k = 0; k < LINEAR_CHECKPOINTS && m < MAX_MESSAGES_PER_KEY; k++, m += W) wanted.add(m)
    for (let p = 2 ** Math.ceil(Math.log2(m)); p < MAX_MESSAGES_PER_KEY; p *= 2) wanted.add(p)
    for (const [n, id] of this.checkpoints) {
      if (!wanted.has(n)) { this.table.delete(id); this.checkpoints.delete(n) }
    }
    for (const n of wanted) {
      if (this.checkpoints.has(n)) continue
      const id = this.register(n)
      if (id !== undefined) this.checkpoints.set(n, id)
    }
  }

  /** Marks message `n` received (after it authenticated): its tag is gone, the window slides. */
  consume (n: number): void {
    if (this.disposed) return
    const cp = this.checkpoints.get(n)
    if (cp !== undefined) { this.table.delete(cp); this.checkpoints.delete(n) }
    this.accepted++
    if (n > this.highest) {
      this.highest = n
      this.extend(n + this.size)
      this.refreshCheckpoints()
    }
    // After sliding: moving to a checkpoint registers the numbers around it, `n` included.
    const slot = n % this.ids.length
    if (this.nums[slot] === n) {
      this.table.delete(this.ids[slot] as string)
      this.nums[slot] = -1
    }
  }


  private clearRing (): void {
    for (let i = 0; i < this.ids.length; i++) {
      if ((this.nums[i] as number) >= 0) this.table.delete(this.ids[i] as string)
      this.nums[i] = -1
    }
  }

  /** Removes every tag from the table and wipes the tag key. */
  dispose (): void {
    this.disposed = true
    this.clearRing()
    for (const id of this.checkpoints.values()) this.table.delete(id)
    this.checkpoints.clear()
    this.tagKey.fill(0)
  }
}
