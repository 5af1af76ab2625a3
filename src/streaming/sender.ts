/**
 * The sending half of one stream: what to put in the next packet (a retransmission, else new
 * data within the congestion window and the peer's receive window), what an acknowledgement
 * means (RTT sample, newly delivered packets, losses), and its timers: retransmission timeout
 * (RFC 6298), time-threshold loss detection, and the persist timer that probes a zero window.
 * Congestion control is NewReno AIMD in packets; the RTT estimator and NewReno are the link
 * ARQ's (src/link/arq-cc.ts). Pure: `now` is passed in; no I/O.
 */
import { NewReno, RttEstimator } from '../link/arq-cc.ts'
import { MAX_SEQ, MSS_OPTION_BYTES, type SackRange } from './packet.ts'
import { SendBuffer, type SentPacket } from './send-buffer.ts'
import { DEFAULT_MSS, INITIAL_PEER_WINDOW, type StreamOptions } from './options.ts'

/** Later transmissions that must have arrived before an earlier one counts as lost (initially). */
const REORDER_THRESHOLD = 3
/** Largest reordering threshold it adapts to after spurious retransmissions. */
const MAX_REORDER_THRESHOLD = 64

/** What one acknowledgement did. */
export interface AckResult {
  /** The cumulative ack moved: the peer received new data in order. */
  progressed: boolean
}

/** Send-side state of one stream (see module doc). */
export class Sender {
  readonly buf: SendBuffer
  readonly rtt: RttEstimator
  readonly cc: NewReno
  /** Peer's advertised window (bytes beyond `buf.una`). */
  peerWindow = INITIAL_PEER_WINDOW
  /** Largest payload the peer accepts (its MSS option). */
  peerMss = DEFAULT_MSS
  /** The application asked to finish; the FIN follows the queued bytes. */
  finQueued = false
  /** The FIN has a sequence number. */
  finSent = false
  /** A window probe (ECHO) is due. */
  probeDue = false
  /** Set when the stream must fail: a packet was sent too often or the sequence space ran out. */
  failure: 'unreachable' | 'exhausted' | undefined
  /** Packets declared lost by duplicate-ACK/SACK or time thresholds (fast retransmit). */
  fastLosses = 0
  /** Retransmission timeouts. */
  timeouts = 0
  /** Window probes sent without an answer since the peer was last heard. */
  unanswered = 0
  private nextOrder = 0
  private largestDelivered = -1
  private reorderThreshold = REORDER_THRESHOLD
  private lossTime: number | undefined
  private rtoRunning = false
  private rtoArmedAt = 0
  private persistAt: number | undefined
  private persistBackoff = 0
  private peerAck = 0
  private readonly scratch: SentPacket[] = []
  private readonly scratchLost: SentPacket[] = []
  private readonly maxTransmissions: number

  constructor (private readonly o: Required<StreamOptions>) {
    this.buf = new SendBuffer(o.sendBufferBytes)
    this.rtt = new RttEstimator(o.initialRtoMs, o.minRtoMs, o.maxRtoMs, o.ackDelayMs)
    this.cc = new NewReno(o.maxCwndPackets)
    this.maxTransmissions = 2 * o.maxRetransmits + 2
  }

  /** Whether the FIN was sent and acknowledged (so all our data arrived). */
  get finAcked (): boolean { return this.finSent && this.buf.unackedCount === 0 }

  /** Whether the FIN is the only thing the peer has not acknowledged. */
  get onlyFinOutstanding (): boolean {
    return this.finSent && this.buf.unackedCount === 1 && this.buf.at(this.buf.una)?.fin === true
  }

  /**
   * The next packet to send now, already booked as transmitted: a lost one first, else new data
   * (the first packet is the SYN, sent even when empty). `known` says whether the peer has been
   * heard (until then at most {@link DEFAULT_MSS}-byte payloads). Undefined when nothing may go.
   */
  nextPacket (now: number, known: boolean): SentPacket | undefined {
    const buf = this.buf
    if (buf.pipe >= Math.floor(this.cc.cwnd) || this.failure !== undefined) return undefined
    const lost = buf.nextLost()
    if (lost !== undefined) {
      if (lost.transmissions >= this.maxTransmissions) { this.failure = 'unreachable'; return undefined }
      this.transmit(lost, now)
      return lost
    }
    const isSyn = buf.nextSeq === 0
    const finNow = this.finQueued && !this.finSent
    if (!isSyn && buf.queued === 0 && !finNow) return undefined
    if (buf.nextSeq > MAX_SEQ) { this.failure = 'exhausted'; return undefined }
    const mss = Math.min(this.o.mss, known ? this.peerMss : DEFAULT_MSS)
    let n = Math.min(mss - (isSyn ? MSS_OPTION_BYTES : 0), buf.queued) // the SYN's MSS option takes payload room
    if (n > this.peerWindow - buf.unackedBytes) n = 0 // no partial packets into a small window (SWS)
    if (n === 0 && !isSyn && !(finNow && buf.queued === 0)) {
      if (buf.unackedCount === 0 && this.persistAt === undefined) this.persistAt = now + this.persistInterval()
      return undefined
    }
    const payload = buf.take(n)
    const fin = finNow && buf.queued === 0
    if (fin) this.finSent = true
    const p = buf.add(payload, isSyn, fin)
    this.transmit(p, now)
    this.persistAt = undefined
    this.persistBackoff = 0
    return p
  }

  private transmit (p: SentPacket, now: number): void {
    this.buf.onTransmit(p, now, this.nextOrder++)
    if (!this.rtoRunning) { this.rtoRunning = true; this.rtoArmedAt = now }
  }

  /** Takes the peer's window as advertised with `ack` (a larger ack wins; an equal one, a larger window). */
  updateWindow (ack: number, window: number): void {
    if (ack < this.peerAck || (ack === this.peerAck && window <= this.peerWindow)) return
    if (window > this.peerWindow) { this.persistAt = undefined; this.persistBackoff = 0 }
    this.peerAck = ack
    this.peerWindow = window
  }

  /** Processes an ACK (`ack` <= nextSeq, checked by the caller) with its SACK blocks. */
  onAck (ack: number, sack: readonly SackRange[], now: number): AckResult {
    const buf = this.buf
    const newly = this.scratch
    newly.length = 0
    const progressed = ack > buf.una
    if (progressed) buf.ackBelow(ack, newly)
    for (const r of sack) buf.sackRange(r, newly)
    if (progressed) {
      this.rtt.backoff = 0
      this.rtoArmedAt = now
      if (buf.unackedCount === 0) this.rtoRunning = false
    }
    if (newly.length === 0) return { progressed }
    let newest = newly[0]!
    const sampled = Number.isFinite(this.rtt.minRtt)
    for (const p of newly) {
      if (p.order > newest.order) newest = p
      if (p.transmissions === 1 && p.order > this.largestDelivered) this.largestDelivered = p.order
      else if (sampled && p.transmissions > 1 && p.lossEpoch !== 0 && now - p.sentAt < this.rtt.minRtt / 2) this.onSpurious(p)
    }
    if (newest.transmissions === 1) this.rtt.sample(Math.max(0, now - newest.sentAt), 0)
    const inUse = (buf.pipe + newly.length) * 2 >= this.cc.cwnd
    this.detectLosses(now) // first: packets this ACK reveals lost stop growth from this ACK too
    if (inUse) for (const p of newly) this.cc.onAck(p.order) // grow only while the window is in use
    return { progressed }
  }

  /**
   * A retransmitted packet was acknowledged sooner than a round trip after its retransmission:
   * the original had arrived. Tolerate more reordering, and undo the window cut once every loss
   * of that epoch proved spurious.
   */
  private onSpurious (p: SentPacket): void {
    if (p.lostBehind < 0) this.rtt.lossFactor = Math.min(2, this.rtt.lossFactor * 1.25)
    else this.reorderThreshold = Math.min(MAX_REORDER_THRESHOLD, Math.max(this.reorderThreshold, p.lostBehind + 1))
    this.cc.onSpurious(p.lossEpoch)
  }

  /** Declares lost what later deliveries (by count or by time) show missing. */
  private detectLosses (now: number): void {
    this.lossTime = undefined
    if (this.largestDelivered < 0) return
    const buf = this.buf
    const delay = this.rtt.lossDelay()
    const lost = this.scratchLost
    lost.length = 0
    for (let s = buf.una; s < buf.nextSeq; s++) { // bounded by the unacknowledged packets
      const p = buf.at(s)!
      if (p.transmissions === 1 && p.order >= this.largestDelivered) break // all later ones were sent later
      if (p.sacked || p.lost || p.order >= this.largestDelivered) continue
      const behind = this.largestDelivered - p.order
      if (behind >= this.reorderThreshold || p.sentAt + delay <= now) {
        p.lostBehind = behind >= this.reorderThreshold ? behind : -1
        lost.push(p)
      } else if (this.lossTime === undefined || p.sentAt + delay < this.lossTime) this.lossTime = p.sentAt + delay
    }
    if (lost.length === 0) return
    let maxOrder = -1
    for (const p of lost) { buf.markLost(p); if (p.order > maxOrder) maxOrder = p.order }
    const epoch = this.cc.onLoss(maxOrder, this.nextOrder - 1, lost.length)
    for (const p of lost) p.lossEpoch = epoch
    this.fastLosses += lost.length
  }

  /** When {@link onTimer} should run next (absolute ms), or undefined. */
  nextTimeout (): number | undefined {
    let t = this.lossTime ?? Infinity
    if (this.rtoRunning) t = Math.min(t, this.rtoArmedAt + this.rtt.rto())
    if (this.persistAt !== undefined) t = Math.min(t, this.persistAt)
    return t === Infinity ? undefined : t
  }

  /** Runs due timers; returns 'fail' when the retransmission or probe limit was passed. */
  onTimer (now: number): 'fail' | undefined {
    if (this.lossTime !== undefined && now >= this.lossTime) this.detectLosses(now)
    if (this.rtoRunning && now >= this.rtoArmedAt + this.rtt.rto()) {
      if (this.rtt.backoff >= this.o.maxRetransmits) return 'fail'
      this.rtt.backoff++
      this.timeouts++
      this.cc.onTimeout(this.nextOrder - 1)
      for (let s = this.buf.una; s < this.buf.nextSeq; s++) {
        const p = this.buf.at(s)!
        if (!p.sacked && !p.lost) { p.lossEpoch = 0; this.buf.markLost(p) }
      }
      this.rtoArmedAt = now
      this.lossTime = undefined
    }
    if (this.persistAt !== undefined && now >= this.persistAt) {
      if (this.unanswered >= this.o.maxRetransmits) return 'fail'
      this.unanswered++
      this.probeDue = true
      this.persistBackoff++
      this.persistAt = now + this.persistInterval()
    }
    return undefined
  }

  private persistInterval (): number {
    return Math.min(this.o.maxRtoMs, this.rtt.baseRto() * 2 ** Math.min(this.persistBackoff, 20))
  }

  /** Drops everything (the stream is gone). */
  clear (): void {
    this.buf.clear()
    this.rtoRunning = false
    this.lossTime = this.persistAt = undefined
    this.probeDue = false
  }
}
