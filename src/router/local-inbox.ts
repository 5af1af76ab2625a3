/**
 * The queue of messages one destination receives from other destinations of the same router
 * (docs/sessions.md): first in, first out, bounded in messages and bytes, and each sender
 * bounded to a share of it, so that a flooding sender cannot crowd out the others. Pure: no
 * timers; the session drains it a chunk per turn.
 */

/** Bounds of a {@link LocalInbox}. */
export interface LocalInboxLimits {
  /** Messages held at most. */
  maxMessages: number
  /** Bytes held at most. */
  maxBytes: number
  /** What one sender may hold of either, as a fraction (0..1]. */
  senderShare: number
}

interface Entry<M> { sender: string, bytes: number, m: M }

/** See module doc. */
export class LocalInbox<M> {
  private q: Array<Entry<M> | undefined> = []
  private head = 0
  private bytes = 0
  private readonly bySender = new Map<string, { n: number, bytes: number }>()

  constructor (private readonly limits: LocalInboxLimits) {}

  /** Messages held. */
  get size (): number { return this.q.length - this.head }

  /** Queues `m` (of `bytes` bytes) from `sender`; false, and nothing queued, if a bound is reached. */
  offer (sender: string, bytes: number, m: M): boolean {
    const { maxMessages, maxBytes, senderShare } = this.limits
    const s = this.bySender.get(sender) ?? { n: 0, bytes: 0 }
    if (this.size >= maxMessages || this.bytes + bytes > maxBytes) return false
    if (s.n + 1 > Math.max(1, Math.floor(maxMessages * senderShare)) || s.bytes + bytes > maxBytes * senderShare) return false
    s.n++
    s.bytes += bytes
    this.bySender.set(sender, s)
    this.bytes += bytes
    this.q.push({ sender, bytes, m })
    return true
  }

  /** Takes up to `max` messages, oldest first. */
  take (max: number): M[] {
    const out: M[] = []
    while (out.length < max && this.head < this.q.length) {
      const e = this.q[this.head]!
      this.q[this.head++] = undefined
      this.bytes -= e.bytes
      const s = this.bySender.get(e.sender)!
      if (--s.n === 0) this.bySender.delete(e.sender)
      else s.bytes -= e.bytes
      out.push(e.m)
    }
    if (this.head === this.q.length) { this.q = []; this.head = 0 } else if (this.head > 1024) { this.q = this.q.slice(this.head); this.head = 0 }
    return out
  }

  /** Drops everything held. */
  clear (): void {
    this.q = []
    this.head = 0
    this.bytes = 0
    this.bySender.clear()
  }
}
