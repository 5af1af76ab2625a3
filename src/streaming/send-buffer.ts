/**
 * Send-side bookkeeping of one stream: bytes written but not yet packetized, and the packets
 * sent but not yet acknowledged (a contiguous run of sequence numbers from `una`), each with its
 * scoreboard state (SACKed, in flight, lost). Bounded by `capacity` bytes (queued plus
 * unacknowledged). Pure; when to send and what counts as lost is decided in sender.ts.
 */
import type { SackRange } from './packet.ts'

/** One packet that took a sequence number. */
export interface SentPacket {
  readonly seq: number
  readonly payload: Uint8Array
  readonly syn: boolean
  readonly fin: boolean
  /** When the latest transmission left. */
  sentAt: number
  /** Transmission number of the latest transmission (counts every transmission of every packet). */
  order: number
  /** How often it was sent. */
  transmissions: number
  /** The peer reported it received (in a SACK block). */
  sacked: boolean
  /** Counted in the pipe (sent, not yet acknowledged or declared lost). */
  inFlight: boolean
  /** Declared lost and waiting to be sent again. */
  lost: boolean
  /** Loss epoch it was declared lost in (0: by timeout), and how many later transmissions had arrived then (-1: by time). */
  lossEpoch: number
  lostBehind: number
}

const EMPTY = new Uint8Array(0)

/** Queued bytes and unacknowledged packets of one stream (see module doc). */
export class SendBuffer {
  /** Bytes written and not yet in a packet. */
  queued = 0
  /** Lowest unacknowledged sequence number. */
  una = 0
  /** Next sequence number to assign. */
  nextSeq = 0
  /** Payload bytes of unacknowledged packets. */
  unackedBytes = 0
  /** Packets in flight (the pipe). */
  pipe = 0
  /** Packets declared lost and not yet re-sent. */
  lostCount = 0
  /** Transmissions after the first. */
  retransmits = 0
  private q: Uint8Array[] = []
  private qHead = 0
  private qOff = 0
  private pkts: Array<SentPacket | undefined> = []
  private pHead = 0
  private lostFrom = 0

  constructor (readonly capacity: number) {}

  /** Bytes that may still be written. */
  get free (): number { return Math.max(0, this.capacity - this.queued - this.unackedBytes) }

  /** Unacknowledged packets. */
  get unackedCount (): number { return this.nextSeq - this.una }

  /** Copies as much of `bytes` as fits and returns how many bytes were taken. */
  write (bytes: Uint8Array): number {
    const n = Math.min(bytes.length, this.free)
    if (n === 0) return 0
    this.q.push(bytes.slice(0, n))
    this.queued += n
    return n
  }

  /** Up to `max` queued bytes, in order (a view when they lie in one written chunk). */
  take (max: number): Uint8Array {
    const n = Math.min(max, this.queued)
    if (n <= 0) return EMPTY
    this.queued -= n
    const first = this.q[this.qHead]!
    if (first.length - this.qOff >= n) {
      const out = first.subarray(this.qOff, this.qOff + n)
      this.qOff += n
      if (this.qOff === first.length) this.nextChunk()
      return out
    }
    const out = new Uint8Array(n)
    for (let at = 0; at < n;) { // each turn empties one chunk or fills `out`
      const c = this.q[this.qHead]!
      const k = Math.min(c.length - this.qOff, n - at)
      out.set(c.subarray(this.qOff, this.qOff + k), at)
      at += k
      this.qOff += k
      if (this.qOff === c.length) this.nextChunk()
    }
    return out
  }

  private nextChunk (): void {
    this.q[this.qHead++] = EMPTY
    this.qOff = 0
    if (this.qHead === this.q.length) { this.q = []; this.qHead = 0 } else if (this.qHead > 256 && this.qHead * 2 > this.q.length) {
      this.q = this.q.slice(this.qHead)
      this.qHead = 0
    }
  }

  /** Appends a new packet with the next sequence number (not yet transmitted). */
  add (payload: Uint8Array, syn: boolean, fin: boolean): SentPacket {
    const p: SentPacket = {
      seq: this.nextSeq++, payload, syn, fin, sentAt: 0, order: -1, transmissions: 0,
      sacked: false, inFlight: false, lost: false, lossEpoch: 0, lostBehind: 0
    }
    this.pkts.push(p)
    this.unackedBytes += payload.length
    return p
  }

  /** The unacknowledged packet `seq`, or undefined. */
  at (seq: number): SentPacket | undefined {
    return seq < this.una ? undefined : this.pkts[this.pHead + seq - this.una]
  }

  /** Books one transmission of `p` at `now` as transmission number `order`. */
  onTransmit (p: SentPacket, now: number, order: number): void {
    if (p.transmissions > 0) this.retransmits++
    p.transmissions++
    p.sentAt = now
    p.order = order
    if (p.lost) { p.lost = false; this.lostCount-- }
    if (!p.inFlight) { p.inFlight = true; this.pipe++ }
  }

  /** Drops packets below `ack`; those not SACKed before are appended to `out` (newly delivered). */
  ackBelow (ack: number, out: SentPacket[]): void {
    for (; this.una < ack; this.una++) { // bounded: ack <= nextSeq (checked by the caller)
      const p = this.pkts[this.pHead]!
      this.pkts[this.pHead++] = undefined
      if (!p.sacked) out.push(p)
      this.leave(p)
      this.unackedBytes -= p.payload.length
    }
    if (this.pHead === this.pkts.length) { this.pkts = []; this.pHead = 0 } else if (this.pHead > 1024 && this.pHead * 2 > this.pkts.length) {
      this.pkts = this.pkts.slice(this.pHead)
      this.pHead = 0
    }
  }

  /** Marks the packets of `r` SACKed; the newly SACKed ones are appended to `out`. */
  sackRange (r: SackRange, out: SentPacket[]): void {
    const end = Math.min(r.end, this.nextSeq)
    for (let s = Math.max(r.start, this.una); s < end; s++) {
      const p = this.pkts[this.pHead + s - this.una]!
      if (p.sacked) continue
      this.leave(p)
      p.sacked = true
      out.push(p)
    }
  }

  /** Declares `p` lost: it leaves the pipe and waits for retransmission. */
  markLost (p: SentPacket): void {
    if (p.sacked || p.lost) return
    if (p.inFlight) { p.inFlight = false; this.pipe-- }
    p.lost = true
    this.lostCount++
    if (p.seq < this.lostFrom) this.lostFrom = p.seq
  }

  /** The lowest packet waiting for retransmission, or undefined. */
  nextLost (): SentPacket | undefined {
    if (this.lostCount === 0) return undefined
    for (let s = Math.max(this.lostFrom, this.una); s < this.nextSeq; s++) {
      const p = this.pkts[this.pHead + s - this.una]!
      if (p.lost) { this.lostFrom = s; return p }
    }
    return undefined
  }

  /** Forgets everything (the stream is gone). */
  clear (): void {
    this.q = []
    this.qHead = this.qOff = this.queued = 0
    this.pkts = []
    this.pHead = 0
    this.una = this.nextSeq
    this.unackedBytes = this.pipe = this.lostCount = 0
  }

  private leave (p: SentPacket): void {
    if (p.inFlight) { p.inFlight = false; this.pipe-- }
    if (p.lost) { p.lost = false; this.lostCount-- }
  }
}
