/**
 * Round-trip estimation (RFC 6298, with QUIC's ack-delay adjustment) and NewReno-style AIMD
 * congestion control in packets, for the link ARQ, including undoing a window cut once its
 * losses proved spurious. Pure arithmetic on samples and events; it keeps no packets, reads no
 * clock and sets no timers (see arq.ts).
 */

/** Smoothed RTT, its variation and the resulting retransmission timeout with backoff. */
export class RttEstimator {
  /** Smoothed RTT (ms); 0 until the first sample. */
  srtt = 0
  /** RTT variation (ms). */
  rttvar = 0
  /** Smallest RTT seen (ms). */
  minRtt = Infinity
  /** Most recent sample (ms). */
  latest = 0
  /** Consecutive timeouts without progress; each doubles the RTO. */
  backoff = 0

  constructor (
    private readonly initialRto: number,
    private readonly minRto: number,
    private readonly maxRto: number,
    /** The peer's ack delay bound, added to the RTO so delayed ACKs do not fire it. */
    private readonly ackDelay: number
  ) {}

  /** Takes one sample `rtt` (ms); `ackDelay` is what the peer said it held the packet. */
  sample (rtt: number, ackDelay: number): void {
    this.latest = rtt
    if (rtt < this.minRtt) this.minRtt = rtt
    // Subtract the peer's delay only if that leaves at least the minimum RTT (RFC 9002 §5.3).
    const adj = rtt - ackDelay >= this.minRtt ? rtt - ackDelay : rtt
    if (this.srtt === 0) {
      this.srtt = adj
      this.rttvar = adj / 2
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - adj)
      this.srtt = 0.875 * this.srtt + 0.125 * adj
    }
  }

  /** The retransmission timeout without backoff (ms). */
  baseRto (): number {
    if (this.srtt === 0) return this.initialRto
    const rto = this.srtt + Math.max(1, 4 * this.rttvar) + this.ackDelay
    return Math.min(this.maxRto, Math.max(this.minRto, rto))
  }

  /** The retransmission timeout including exponential backoff, capped at the maximum (ms). */
  rto (): number {
    return Math.min(this.maxRto, this.baseRto() * 2 ** Math.min(this.backoff, 30))
  }

  /** Multiplier of the RTT in {@link lossDelay}: 9/8, raised by spurious losses up to 2. */
  lossFactor = 1.125

  /** How long after a later packet was acknowledged an earlier one counts as lost (ms). */
  lossDelay (): number {
    return Math.max(1, this.lossFactor * Math.max(this.srtt, this.latest))
  }
}

/** Smallest congestion window, in packets. */
export const MIN_CWND = 2
/** Initial congestion window, in packets (as QUIC's 10 × MSS). */
export const INITIAL_CWND = 10

/**
 * NewReno AIMD over a window counted in ack-eliciting packets: slow start (+1 per ACKed packet)
 * below `ssthresh`, then +1/cwnd; a loss halves the window once per round trip (the round
 * trip being "until a packet sent after the loss is ACKed"); a timeout collapses it.
 */
export class NewReno {
  cwnd = INITIAL_CWND
  ssthresh = Infinity
  /** Losses of packets numbered at or below this are part of the current recovery. */
  private recoveryPn = -1
  /** Window before the current recovery, and how many of its losses are not yet proven spurious. */
  private prior = { cwnd: INITIAL_CWND, ssthresh: Infinity, left: 0 }
  /** Number of the current loss epoch (one per reduction), so late ACKs can be matched to it. */
  epoch = 0

  constructor (private readonly maxCwnd: number) {
    this.cwnd = Math.min(INITIAL_CWND, maxCwnd)
  }

  /** A packet numbered `pn` was acknowledged. */
  onAck (pn: number): void {
    if (pn <= this.recoveryPn) return // no growth during recovery
    this.cwnd += this.cwnd < this.ssthresh ? 1 : 1 / this.cwnd
    if (this.cwnd > this.maxCwnd) this.cwnd = this.maxCwnd
  }

  /**
   * `count` packets up to `lostPn` were lost; `sentPn` is the largest packet number sent so far.
   * Returns the loss epoch they belong to.
   */
  onLoss (lostPn: number, sentPn: number, count: number): number {
    if (lostPn <= this.recoveryPn) { // already reacted to this window
      this.prior.left += count
      return this.epoch
    }
    this.prior = { cwnd: this.cwnd, ssthresh: this.ssthresh, left: count }
    this.recoveryPn = sentPn
    this.ssthresh = Math.max(MIN_CWND, this.cwnd / 2)
    this.cwnd = this.ssthresh
    return ++this.epoch
  }

  /** A packet declared lost in `epoch` was acknowledged after all; undo once all of them were. */
  onSpurious (epoch: number): void {
    if (epoch !== this.epoch || this.prior.left <= 0) return
    if (--this.prior.left > 0) return
    this.cwnd = Math.max(this.cwnd, this.prior.cwnd)
    this.ssthresh = Math.max(this.ssthresh, this.prior.ssthresh)
  }

  /** The retransmission timer fired: start again from the minimum window. */
  onTimeout (sentPn: number): void {
    this.epoch++
    this.recoveryPn = sentPn
    this.ssthresh = Math.max(MIN_CWND, this.cwnd / 2)
    this.cwnd = MIN_CWND
    this.prior = { cwnd: this.cwnd, ssthresh: this.ssthresh, left: 0 } // nothing to undo to
  }
}
