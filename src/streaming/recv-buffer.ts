/**
 * Receive side of one stream: reassembles packets into order, holds the bytes the application
 * has not read, and says what to acknowledge (the next expected sequence number, received runs
 * above it) and how much window to advertise. Pure and bounded: bytes held (in order and out of
 * order) by `capacity`, out-of-order packets by `maxSpan` sequence numbers above the next
 * expected one, and received runs by {@link MAX_RECV_RANGES}.
 */
import type { SackRange } from './packet.ts'
import { Fifo } from '../util/fifo.ts'

/** Most disjoint runs of out-of-order packets held; a packet that would make one more is dropped. */
export const MAX_RECV_RANGES = 64

/** What became of an offered packet. */
export type Offer = 'in-order' | 'out-of-order' | 'duplicate' | 'rejected'

/** Reassembly buffer and window of one stream direction (see module doc). */
export class ReceiveBuffer {
  /** Next expected sequence number: every packet below it has been received. */
  next = 0
  /** Bytes received in order and not yet read. */
  unread = 0
  /** Total bytes the application has read. */
  totalRead = 0
  /** Largest sequence number received so far, or -1. */
  highest = -1
  private finSeq: number | undefined
  private readonly ooo = new Map<number, { payload: Uint8Array, fin: boolean }>()
  private oooBytes = 0
  private readonly ranges: SackRange[] = []
  private readonly chunks = new Fifo<Uint8Array>(256)

  constructor (private readonly capacity: number, private readonly maxSpan: number) {}

  /** Whether the peer's FIN has been received with everything before it. */
  get finReceived (): boolean { return this.finSeq !== undefined && this.next > this.finSeq }

  /** Whether the FIN was received and every byte before it has been read. */
  get ended (): boolean { return this.finReceived && this.unread === 0 }

  /** Whether anything is held out of order (then every packet is acknowledged at once). */
  get hasGaps (): boolean { return this.ranges.length > 0 }

  /** Runs of out-of-order packets held. */
  get rangeCount (): number { return this.ranges.length }

  /**
   * The window to advertise: room left beyond `next`. Out-of-order bytes are not subtracted,
   * since the sender counts them among its unacknowledged bytes.
   */
  window (): number { return Math.max(0, this.capacity - this.unread) }

  /** The first `max` received runs above `next`, lowest first. */
  sackRanges (max: number): SackRange[] {
    return this.ranges.slice(0, max).map(r => ({ start: r.start, end: r.end }))
  }

  /** Takes one packet's payload (kept, not copied) and FIN flag. */
  offer (seq: number, payload: Uint8Array, fin: boolean): Offer {
    if (seq < this.next || this.ooo.has(seq)) return 'duplicate'
    if (seq >= this.next + this.maxSpan) return 'rejected'
    if (this.finSeq !== undefined && (seq > this.finSeq || (fin && seq !== this.finSeq))) return 'rejected'
    if (fin && seq < this.highest) return 'rejected' // a FIN below data already received
    if (this.unread + this.oooBytes + payload.length > this.capacity) return 'rejected'
    const inOrder = seq === this.next
    if (!inOrder) {
      if (!this.addRange(seq)) return 'rejected'
      this.ooo.set(seq, { payload, fin })
      this.oooBytes += payload.length
    } else {
      this.deliver(payload, fin)
      this.pullInOrder()
    }
    if (fin) this.finSeq = seq
    if (seq > this.highest) this.highest = seq
    return inOrder ? 'in-order' : 'out-of-order'
  }

  /** The next chunk of in-order bytes, or undefined when none is held. */
  read (): Uint8Array | undefined {
    const c = this.chunks.shift()
    if (c === undefined) return undefined
    this.unread -= c.length
    this.totalRead += c.length
    return c
  }

  /** Drops everything held (the stream was reset). */
  clear (): void {
    this.ooo.clear()
    this.oooBytes = 0
    this.ranges.length = 0
    this.chunks.clear()
    this.unread = 0
  }

  private deliver (payload: Uint8Array, fin: boolean): void {
    if (payload.length > 0) {
      this.chunks.push(payload)
      this.unread += payload.length
    }
    if (fin) this.finSeq = this.next
    this.next++
  }

  /** Moves the lowest run into order once `next` reaches it (the run's packets are all held). */
  private pullInOrder (): void {
    const r = this.ranges[0]
    if (r === undefined || r.start !== this.next) return
    this.ranges.shift()
    for (let s = r.start; s < r.end; s++) {
      const e = this.ooo.get(s)!
      this.ooo.delete(s)
      this.oooBytes -= e.payload.length
      this.deliver(e.payload, e.fin)
    }
  }

  /** Adds `seq` (above `next`, not held) to the runs; false if that would make too many. */
  private addRange (seq: number): boolean {
    const rs = this.ranges
    let i = rs.length - 1
    while (i >= 0 && rs[i]!.start > seq) i--
    const prev = i >= 0 ? rs[i] : undefined
    const after = rs[i + 1]
    const joinPrev = prev !== undefined && prev.end === seq
    const joinNext = after !== undefined && after.start === seq + 1
    if (joinPrev && joinNext) { prev.end = after.end; rs.splice(i + 1, 1) } else if (joinPrev) prev.end++
    else if (joinNext) after.start--
    else {
      if (rs.length >= MAX_RECV_RANGES) return false
      rs.splice(i + 1, 0, { start: seq, end: seq + 1 })
    }
    return true
  }
}
