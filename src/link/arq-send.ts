/**
 * Send-side bookkeeping of the link ARQ: messages accepted but not yet acknowledged, the queues
 * of new and of lost messages awaiting a packet, the packets in flight and recently lost ones.
 * Bounded: unacknowledged bytes by the caller's queue limit, in-flight packets by the caller's
 * window, remembered lost packets by `lostCap`, new message ids by {@link MSG_ID_WINDOW}.
 * Pure; it decides nothing about timing, loss or congestion (see arq.ts).
 */
import type { AckBlock, AckRange } from './arq-ack.ts'
import { MSG_ID_WINDOW } from './arq-recv.ts'

/** One message accepted for delivery. `seq` is its full (unwrapped) message id. */
export interface MsgRec {
  seq: number
  data: Uint8Array
  acked: boolean
  /** In the new or the retransmit queue. */
  queued: boolean
  /** Sent at least once (so sending it again is a retransmission). */
  sent: boolean
  /** The latest packet that carried it. */
  pkt?: SentPkt
}

/** One ack-eliciting packet sent. `order` counts ack-eliciting packets only. */
export interface SentPkt {
  pn: number
  order: number
  sentAt: number
  msgs: MsgRec[]
  /** Largest peer packet number in the ACK it carried, or -1. */
  ackLargest: number
  /** Once lost: its loss epoch (0: by timeout), and how many later packets were acked (-1: by time). */
  epoch: number
  lostBehind: number
}

/** A FIFO with O(1) shift. */
class Fifo<T> {
  private a: Array<T | undefined> = []
  private h = 0
  get size (): number { return this.a.length - this.h }
  push (x: T): void { this.a.push(x) }
  peek (): T | undefined { return this.a[this.h] }
  shift (): T | undefined {
    const x = this.a[this.h]
    if (x === undefined) return undefined
    this.a[this.h++] = undefined
    if (this.h > 1024 && this.h * 2 > this.a.length) { this.a = this.a.slice(this.h); this.h = 0 }
    return x
  }

  clear (): void { this.a = []; this.h = 0 }
}

/** Whether `pn` lies in one of `ranges` (descending), by binary search. */
export function inRanges (ranges: readonly AckRange[], pn: number): boolean {
  let lo = 0
  let hi = ranges.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const r = ranges[mid]!
    if (pn > r.hi) hi = mid - 1
    else if (pn < r.lo) lo = mid + 1
    else return true
  }
  return false
}

/** Messages and packets of the sending side. */
export class SendBuffer {
  /** Bytes of messages accepted and not yet acknowledged. */
  bytes = 0
  /** Messages re-sent. */
  retransmits = 0
  /** Packets declared lost. */
  lostCount = 0
  /** Unacknowledged packets, ascending packet number. */
  readonly inFlight = new Map<number, SentPkt>()
  /** Recently lost packets, kept to notice a late ACK (spurious loss). */
  readonly lost = new Map<number, SentPkt>()
  readonly unacked = new Map<number, MsgRec>()
  readonly newQ = new Fifo<MsgRec>()
  readonly retxQ = new Fifo<MsgRec>()
  private nextSeq = 0
  private lowestUnacked = 0

  constructor (private readonly lostCap: number) {}

  /** Accepts a message (the caller checked the limits). */
  push (data: Uint8Array): void {
    const rec: MsgRec = { seq: this.nextSeq++, data, acked: false, queued: true, sent: false }
    this.unacked.set(rec.seq, rec)
    this.newQ.push(rec)
    this.bytes += data.length
  }

  /** The next message to send (lost ones first), or undefined; new ids stay inside the window. */
  peek (): MsgRec | undefined {
    for (let m = this.retxQ.peek(); m !== undefined; m = this.retxQ.peek()) {
      if (!m.acked) return m
      this.retxQ.shift()
      m.queued = false
    }
    while (this.lowestUnacked < this.nextSeq && !this.unacked.has(this.lowestUnacked)) this.lowestUnacked++
    const m = this.newQ.peek()
    return m !== undefined && m.seq < this.lowestUnacked + MSG_ID_WINDOW ? m : undefined
  }

  /** Takes the message {@link peek} returned. */
  take (): void {
    const m = this.retxQ.size > 0 ? this.retxQ.shift() : this.newQ.shift()
    if (m === undefined) return
    m.queued = false
    if (m.sent) this.retransmits++
    m.sent = true
  }

  /** Records a sent ack-eliciting packet. */
  record (p: SentPkt): void {
    for (const m of p.msgs) m.pkt = p
    this.inFlight.set(p.pn, p)
  }

  /**
   * Removes the packets `block` acknowledges and marks their messages acknowledged. Packet
   * numbers never sent are ignored; work is bounded by the packets held, not the ranges' span.
   */
  acked (block: AckBlock): { newly: SentPkt[], spurious: SentPkt[] } {
    const newly: SentPkt[] = []
    for (const p of this.inFlight.values()) {
      if (p.pn > block.largest) break
      if (inRanges(block.ranges, p.pn)) newly.push(p)
    }
    const spurious: SentPkt[] = []
    for (const p of this.lost.values()) if (inRanges(block.ranges, p.pn)) spurious.push(p)
    for (const p of spurious) { this.lost.delete(p.pn); this.ackMessages(p) }
    for (const p of newly) { this.inFlight.delete(p.pn); this.ackMessages(p) }
    return { newly, spurious }
  }

  private ackMessages (p: SentPkt): void {
    for (const m of p.msgs) {
      if (m.acked) continue
      m.acked = true
      this.unacked.delete(m.seq)
      this.bytes -= m.data.length
      const other = m.pkt // a later copy in flight whose messages may now all be acknowledged
      if (other !== undefined && other !== p && this.inFlight.has(other.pn) && other.msgs.every(x => x.acked)) {
        this.inFlight.delete(other.pn) // retired: neither acknowledged nor lost
      }
    }
  }

  /** Moves `p` from in flight to lost and queues its unacknowledged messages again. */
  markLost (p: SentPkt): void {
    this.inFlight.delete(p.pn)
    this.lostCount++
    this.lost.set(p.pn, p)
    if (this.lost.size > this.lostCap) this.lost.delete(this.lost.keys().next().value!)
    for (const m of p.msgs) {
      if (m.acked || m.queued) continue
      m.queued = true
      this.retxQ.push(m)
    }
  }

  /** Forgets everything (the link failed). */
  clear (): void {
    this.inFlight.clear()
    this.lost.clear()
    this.unacked.clear()
    this.newQ.clear()
    this.retxQ.clear()
    this.bytes = 0
  }
}
