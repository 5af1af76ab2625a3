/**
 * Reliable, congestion-controlled delivery of messages over a datagram link (docs/link-arq.md).
 * A pure state machine in the manner of quinn-proto: it is fed packets and `now`, and says what
 * the next packet should carry (new or re-sent messages, an ACK block) and when it wants a
 * timer. Every message is delivered exactly once, in no particular order, across loss,
 * duplication and reordering. Packet numbers never repeat: a lost packet's messages are re-sent
 * in a new packet under their message id. Memory is bounded by the options and by fixed windows.
 * It does no I/O, encryption, replay protection or framing; the link layer carries `pn`, each
 * message's u32 `id` (block AMSG) and the ACK block (block ACK).
 */
import { ClosedError, ConfigError, DecodeError, LimitError } from '../util/errors.ts'
import { decodeAck, encodeAck, type AckBlock } from './arq-ack.ts'
import { NewReno, RttEstimator } from './arq-cc.ts'
import { MSG_ID_MODULUS, MsgIdWindow, ReceivedPns } from './arq-recv.ts'
import { SendBuffer, type MsgRec, type SentPkt } from './arq-send.ts'

/** Options of {@link Arq}. All times are milliseconds. */
export interface ArqOptions {
  /** Bytes per packet for messages (each plus `messageOverhead`) and the ACK (plus `ackOverhead`). */
  maxPacketPayload: number
  /** RTO before the first RTT sample (default 250). */
  initialRtoMs?: number
  /** Floor of the RTO (default 50). */
  minRtoMs?: number
  /** Ceiling of the RTO, backoff included (default 4000). */
  maxRtoMs?: number
  /** Hard cap on unacknowledged packets, whatever the congestion window (default 1024). */
  maxInFlightPackets?: number
  /** Bound on bytes of messages accepted but not yet acknowledged (default 8 MiB). */
  maxQueuedBytes?: number
  /** Consecutive retransmission timeouts tolerated; one more and the link has failed (default 12). */
  maxRetransmits?: number
  /** How long an ACK for an ack-eliciting packet may be held back (default 5). */
  ackDelayMs?: number
  /** Ack at once after this many ack-eliciting packets (default 2, as TCP and QUIC; fewer ACKs cost the sender less). */
  ackEvery?: number
  /** Framing bytes the link adds per message (default 7: AMSG block header and u32 id). */
  messageOverhead?: number
  /** Framing bytes the link adds to an ACK block (default 3: block header). */
  ackOverhead?: number
}

/** One message as it travels: `id` is a u32 that wraps, `data` the application's bytes. */
export interface ArqMessage { id: number, data: Uint8Array }

/** What to send next: use `pn` as the packet number; include `messages` and `ack` if present. */
export interface ArqPacket { pn: number, messages: ArqMessage[], ack?: Uint8Array }

/** Counters and estimates, for metrics and tests. */
export interface ArqStats {
  /** Smoothed RTT (0 before the first sample). */
  rttMs: number
  /** Current retransmission timeout, backoff included. */
  rtoMs: number
  /** Congestion window in packets (fractional during congestion avoidance). */
  cwnd: number
  /** Unacknowledged ack-eliciting packets. */
  inFlight: number
  /** Messages re-sent after their packet was declared lost. */
  retransmits: number
  /** Bytes of messages accepted but not yet acknowledged. */
  queuedBytes: number
  /** Packets declared lost. */
  lostPackets: number
  /** Received messages dropped because their id was outside the window. */
  rejectedMessages: number
}

/** Initial and largest reordering thresholds, in later packets acknowledged. */
const PACKET_THRESHOLD = 3
const MAX_PACKET_THRESHOLD = 64

/** The reliability and congestion-control state of one link direction pair. */
export class Arq {
  private readonly o: Required<ArqOptions>
  private readonly rtt: RttEstimator
  private readonly cc: NewReno
  private nextPn = 0
  private nextOrder = 0
  private readonly send: SendBuffer
  private largestAckedOrder = -1
  private reorderThreshold = PACKET_THRESHOLD
  private rtoArmedAt = 0
  private lossTime: number | undefined
  private readonly recv = new ReceivedPns()
  private readonly window = new MsgIdWindow()
  private ackOwed = false
  private elicitingSinceAck = 0
  private ackDeadline = 0
  private dead = false
  private rejected = 0

  /** Throws ConfigError on nonsensical options. */
  constructor (opts: ArqOptions) {
    this.o = {
      initialRtoMs: 250, minRtoMs: 50, maxRtoMs: 4000, maxInFlightPackets: 1024,
      maxQueuedBytes: 8 * 1024 * 1024, maxRetransmits: 12, ackDelayMs: 5, ackEvery: 2, messageOverhead: 7, ackOverhead: 3,
      ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as ArqOptions
    }
    for (const [k, v] of Object.entries(this.o)) {
      if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new ConfigError(`arq: ${k} must be a finite number >= 0`)
    }
    const o = this.o
    if (!Number.isInteger(o.maxPacketPayload) || o.maxPacketPayload < 64) throw new ConfigError('arq: maxPacketPayload must be an integer >= 64')
    if (o.maxInFlightPackets < 2) throw new ConfigError('arq: maxInFlightPackets must be >= 2')
    if (o.minRtoMs > o.maxRtoMs || o.minRtoMs <= 0) throw new ConfigError('arq: need 0 < minRtoMs <= maxRtoMs')
    this.rtt = new RttEstimator(o.initialRtoMs, o.minRtoMs, o.maxRtoMs, o.ackDelayMs)
    this.cc = new NewReno(o.maxInFlightPackets)
    this.send = new SendBuffer(o.maxInFlightPackets)
  }

  /** True once more than `maxRetransmits` consecutive timeouts passed: the peer is unreachable. */
  get failed (): boolean { return this.dead }

  /** Counters and estimates. */
  get stats (): ArqStats {
    return {
      rttMs: this.rtt.srtt, rtoMs: this.rtt.rto(), cwnd: this.cc.cwnd, inFlight: this.send.inFlight.size,
      retransmits: this.send.retransmits, queuedBytes: this.send.bytes, lostPackets: this.send.lostCount, rejectedMessages: this.rejected
    }
  }

  /** Sizes of every internal collection, to check that memory stays bounded. */
  footprint (): { inFlight: number, lostTracked: number, unacked: number, sendQueue: number, retransmitQueue: number, ackRanges: number } {
    const s = this.send
    return {
      inFlight: s.inFlight.size, lostTracked: s.lost.size, unacked: s.unacked.size,
      sendQueue: s.newQ.size, retransmitQueue: s.retxQ.size, ackRanges: this.recv.ranges.length
    }
  }

  /**
   * Queues one message for reliable delivery. The Arq keeps `msg` (no copy): do not change it.
   * Throws LimitError if it can never fit a packet or the queue bound would be passed, and
   * ClosedError once the link has failed.
   */
  enqueue (msg: Uint8Array): void {
    if (this.dead) throw new ClosedError('arq: link failed')
    if (msg.length + this.o.messageOverhead > this.o.maxPacketPayload) {
      throw new LimitError(`arq: message of ${msg.length} bytes exceeds the packet payload`)
    }
    if (this.send.bytes + msg.length > this.o.maxQueuedBytes) {
      throw new LimitError(`arq: send queue full (${this.send.bytes} of ${this.o.maxQueuedBytes} bytes)`)
    }
    this.send.push(msg)
  }

  /**
   * The next packet to send now, or undefined when nothing may be sent (window full, nothing
   * queued, no ACK due). Call it until it returns undefined after every other call.
   */
  nextPacket (now: number): ArqPacket | undefined {
    if (this.dead) return undefined
    if (this.recv.ranges.length === 0) this.ackOwed = false // all pruned: the peer has seen it
    const send = this.send
    const cwndOk = send.inFlight.size < Math.min(Math.floor(this.cc.cwnd), this.o.maxInFlightPackets)
    const haveData = cwndOk && send.peek() !== undefined
    const ackDue = this.ackOwed && now >= this.ackDeadline
    if (!haveData && !ackDue) return undefined
    const o = this.o
    let ack: Uint8Array | undefined
    if (this.ackOwed && this.recv.ranges.length > 0) ack = this.buildAck(now)
    let budget = o.maxPacketPayload - (ack === undefined ? 0 : ack.length + o.ackOverhead)
    const msgs: MsgRec[] = []
    if (haveData) {
      if (send.peek()!.data.length + o.messageOverhead > budget && !ackDue) {
        ack = undefined // the message needs the whole packet; the ACK can wait
        budget = o.maxPacketPayload
      }
      for (let m = send.peek(); m !== undefined && m.data.length + o.messageOverhead <= budget; m = send.peek()) {
        send.take()
        budget -= m.data.length + o.messageOverhead
        msgs.push(m)
      }
    }
    if (msgs.length === 0 && ack === undefined) return undefined
    const pn = this.nextPn++
    if (ack !== undefined) { this.ackOwed = false; this.elicitingSinceAck = 0 }
    if (msgs.length > 0) {
      if (send.inFlight.size === 0) this.rtoArmedAt = now
      const ackLargest = ack === undefined ? -1 : this.recv.ranges[0]!.hi
      send.record({ pn, order: this.nextOrder++, sentAt: now, msgs, ackLargest, epoch: 0, lostBehind: 0 })
    }
    const messages = msgs.map(m => ({ id: m.seq % MSG_ID_MODULUS, data: m.data }))
    return ack === undefined ? { pn, messages } : { pn, messages, ack }
  }

  /**
   * Takes one received packet (duplicates allowed) and returns the messages to deliver, each
   * exactly once. Throws DecodeError, before changing any state, on a malformed ACK block, a
   * packet number that is not a safe non-negative integer, or a message id that is not a u32.
   */
  onPacket (pn: number, messages: readonly ArqMessage[], ack: Uint8Array | undefined, now: number): Uint8Array[] {
    if (!Number.isSafeInteger(pn) || pn < 0) throw new DecodeError('arq: bad packet number')
    for (const m of messages) {
      if (!Number.isInteger(m.id) || m.id < 0 || m.id >= MSG_ID_MODULUS) throw new DecodeError('arq: bad message id')
    }
    const block = ack === undefined ? undefined : decodeAck(ack)
    if (this.dead) return []
    if (block !== undefined) this.onAck(block, now)
    this.recv.add(pn, now)
    if (messages.length === 0) return []
    if (!this.ackOwed) this.ackDeadline = now + this.o.ackDelayMs
    this.ackOwed = true
    if (++this.elicitingSinceAck >= this.o.ackEvery) this.ackDeadline = now // ACK every ackEvery-th packet at once
    const out: Uint8Array[] = []
    for (const m of messages) {
      const v = this.window.accept(m.id)
      if (v === 'new') out.push(m.data)
      else if (v === 'outside') this.rejected++
    }
    return out
  }

  /** When {@link onTimer} should next be called (absolute ms), or undefined. */
  nextTimeout (): number | undefined {
    if (this.dead) return undefined
    let t = this.ackOwed ? this.ackDeadline : Infinity
    if (this.lossTime !== undefined) t = Math.min(t, this.lossTime)
    if (this.send.inFlight.size > 0) t = Math.min(t, this.rtoArmedAt + this.rtt.rto())
    return t === Infinity ? undefined : t
  }

  /** Runs due timers: time-threshold loss detection and the retransmission timeout. */
  onTimer (now: number): void {
    if (this.dead) return
    if (this.lossTime !== undefined && now >= this.lossTime) this.detectLosses(now)
    if (this.send.inFlight.size === 0 || now < this.rtoArmedAt + this.rtt.rto()) return
    if (this.rtt.backoff >= this.o.maxRetransmits) { this.fail(); return }
    this.rtt.backoff++
    this.cc.onTimeout(this.nextPn - 1)
    for (const p of [...this.send.inFlight.values()]) this.send.markLost(p)
    this.lossTime = undefined
  }

  private buildAck (now: number): Uint8Array {
    const r = this.recv.ranges
    const block: AckBlock = { largest: r[0]!.hi, ackDelayMs: Math.max(0, Math.floor(now - this.recv.largestAt)), ranges: r }
    return encodeAck(block, this.o.maxPacketPayload - this.o.ackOverhead)
  }

  private onAck (block: AckBlock, now: number): void {
    const { newly, spurious } = this.send.acked(block)
    for (const p of spurious) this.onSpurious(p)
    for (const p of [...spurious, ...newly]) {
      if (p.ackLargest >= 0) this.recv.forgetThrough(p.ackLargest) // the peer has seen that ACK
    }
    for (const p of newly) this.cc.onAck(p.pn)
    if (newly.length + spurious.length > 0) { this.rtt.backoff = 0; this.rtoArmedAt = now }
    const largest = newly[newly.length - 1]
    if (largest === undefined) return
    if (largest.order > this.largestAckedOrder) this.largestAckedOrder = largest.order
    this.rtt.sample(Math.max(0, now - largest.sentAt), largest.pn === block.largest ? block.ackDelayMs : 0)
    this.detectLosses(now)
  }

  private detectLosses (now: number): void {
    this.lossTime = undefined
    const delay = this.rtt.lossDelay()
    const lostNow: SentPkt[] = []
    for (const p of this.send.inFlight.values()) {
      if (p.order >= this.largestAckedOrder) break
      const behind = this.largestAckedOrder - p.order
      if (behind >= this.reorderThreshold || p.sentAt + delay <= now) {
        p.lostBehind = behind >= this.reorderThreshold ? behind : -1
        lostNow.push(p)
      } else if (this.lossTime === undefined || p.sentAt + delay < this.lossTime) this.lossTime = p.sentAt + delay
    }
    for (const p of lostNow) this.send.markLost(p)
    const last = lostNow[lostNow.length - 1]
    if (last === undefined) return
    const epoch = this.cc.onLoss(last.pn, this.nextPn - 1, lostNow.length)
    for (const p of lostNow) p.epoch = epoch
  }

  /** A packet declared lost was acknowledged: tolerate more reordering, maybe undo the cut. */
  private onSpurious (p: SentPkt): void {
    if (p.epoch === 0) return // lost by timeout
    if (p.lostBehind < 0) this.rtt.lossFactor = Math.min(2, this.rtt.lossFactor * 1.25)
    else this.reorderThreshold = Math.min(MAX_PACKET_THRESHOLD, Math.max(this.reorderThreshold, p.lostBehind + 1))
    this.cc.onSpurious(p.epoch)
  }

  private fail (): void {
    this.dead = true
    this.send.clear()
    this.lossTime = undefined
    this.ackOwed = false
  }
}
