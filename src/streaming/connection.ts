/**
 * One stream as a pure state machine in the manner of quinn-proto: it is fed packets, writes
 * and `now`, and says which packets to send (`pollTransmit`), when it wants a timer
 * (`pollTimeout` / `handleTimeout`) and what happened (`pollEvent`). No timers, no I/O, no
 * clock. Phases: syn-sent | syn-received -> open -> time-wait -> closed (docs/streaming.md).
 * Sending is in sender.ts, reassembly in recv-buffer.ts; this file does the handshake, ACK
 * policy, half-close, reset and the connect/idle deadlines.
 */
import { ClosedError, DecodeError, LimitError, TimeoutError } from '../util/errors.ts'
import { ConnectionRefusedError, ConnectionResetError } from './errors.ts'
import { encodePacket, MAX_SACK_BLOCKS, MSS_OPTION_BYTES, occupiesSeq, packet, type SackRange, type StreamPacket } from './packet.ts'
import { resolveOptions, type StreamOptions } from './options.ts'
import { ReceiveBuffer } from './recv-buffer.ts'
import { Sender } from './sender.ts'
import type { SentPacket } from './send-buffer.ts'
import { AckPolicy } from './ack-policy.ts'
import type { ConnectionEvent, ConnectionStats, Phase } from './events.ts'

export type { ConnectionEvent, ConnectionStats, Phase } from './events.ts'

/** How a connection starts: our stream ID, the time, and options. */
export interface ConnectionInit extends StreamOptions {
  /** Our nonzero u32 stream ID (the peer puts it in `sendStreamId`). */
  localId: number
  now: number
}

/** Time-wait lingers at least this long to re-acknowledge a retransmitted FIN. */
const MIN_TIME_WAIT_MS = 1000

/** One stream (see module doc). */
export class Connection {
  readonly localId: number
  private state: Phase
  private peerId: number | undefined
  private readonly o: Required<StreamOptions>
  private readonly tx: Sender
  private readonly rx: ReceiveBuffer
  private readonly events: ConnectionEvent[] = []
  private readonly createdAt: number
  private lastActivity: number
  private timeWaitUntil = 0
  private readonly ack: AckPolicy
  private rstPending = false
  private sackCut = false
  private closedCleanly = false
  private readableSignalled = false
  private writeBlocked = false
  private finishedSignalled = false
  private sent = 0
  private received = 0
  private rejected = 0
  private duplicates = 0

  private constructor (init: ConnectionInit, initiator: boolean) {
    const { localId, now, ...opts } = init
    if (!Number.isInteger(localId) || localId < 1 || localId > 0xffff_ffff) throw new LimitError('stream: localId must be a nonzero u32')
    this.o = resolveOptions(opts)
    this.localId = localId
    this.state = initiator ? 'syn-sent' : 'syn-received'
    this.createdAt = this.lastActivity = now
    this.tx = new Sender(this.o)
    const span = Math.min(65535, Math.max(64, Math.ceil(this.o.recvWindowBytes / 64)))
    this.rx = new ReceiveBuffer(this.o.recvWindowBytes, span)
    this.ack = new AckPolicy(this.o.ackDelayMs, Math.max(this.o.mss, this.o.recvWindowBytes / 4))
  }

  /** A new outgoing stream; its first `pollTransmit` sends the SYN (with any bytes written first). */
  static connect (init: ConnectionInit): Connection {
    return new Connection(init, true)
  }

  /** The stream a received SYN opens; the SYN (and data on it) is taken in. Throws DecodeError if `syn` is not one. */
  static accept (syn: StreamPacket, init: ConnectionInit): Connection {
    if (!syn.syn || syn.ack !== undefined || syn.sendStreamId !== 0) throw new DecodeError('stream: not an opening SYN')
    const c = new Connection(init, false)
    c.peerId = syn.recvStreamId
    c.handlePacket(syn, init.now)
    return c
  }

  /** Where the stream is in its life. */
  get phase (): Phase { return this.state }

  /** The peer's stream ID, once known. */
  get remoteId (): number | undefined { return this.peerId }

  /** Whether nothing is left to do: closed and any RST handed out. The driver may forget it. */
  get done (): boolean { return this.state === 'closed' && !this.rstPending }

  /**
   * After a clean close (time-wait reached): the IDs and numbers a stand-in needs to go on
   * acknowledging the peer's retransmitted FIN once this connection is forgotten; else undefined.
   */
  get farewell (): { remoteId: number, seq: number, ack: number } | undefined {
    return this.closedCleanly ? { remoteId: this.peerId!, seq: this.tx.buf.nextSeq, ack: this.rx.next } : undefined
  }

  /** Whether the peer's data has ended (FIN received) and all of it was read. */
  get readEnded (): boolean { return this.rx.ended }

  /** Counters and estimates. */
  get stats (): ConnectionStats {
    const { tx, rx } = this
    return {
      srttMs: tx.rtt.srtt, rtoMs: tx.rtt.rto(), cwnd: tx.cc.cwnd, ssthresh: tx.cc.ssthresh, pipe: tx.buf.pipe,
      unackedBytes: tx.buf.unackedBytes, queuedBytes: tx.buf.queued, peerWindow: tx.peerWindow, unreadBytes: rx.unread,
      retransmits: tx.buf.retransmits, fastLosses: tx.fastLosses, timeouts: tx.timeouts, packetsSent: this.sent,
      packetsReceived: this.received, rejected: this.rejected, duplicates: this.duplicates
    }
  }

  /**
   * Copies as much of `bytes` as the send buffer takes and returns that count (0 when full: wait
   * for 'writable'). Throws ClosedError after `finish` or once the stream is over.
   */
  write (bytes: Uint8Array, now: number): number {
    if (this.tx.finQueued) throw new ClosedError('stream: write after finish')
    if (this.state === 'closed' || this.state === 'time-wait') throw new ClosedError('stream: closed')
    const n = this.tx.buf.write(bytes)
    if (n > 0) this.lastActivity = now
    if (n < bytes.length) this.writeBlocked = true
    return n
  }

  /** Half-close: a FIN follows the bytes written so far. Reading goes on. */
  finish (now: number): void {
    if (this.state === 'closed' || this.state === 'time-wait' || this.tx.finQueued) return
    this.tx.finQueued = true
    this.lastActivity = now
  }

  /** The next chunk of in-order received bytes, or undefined (see 'readable' and readEnded). */
  read (): Uint8Array | undefined {
    const c = this.rx.read()
    if (c === undefined) this.readableSignalled = false
    return c
  }

  /** Aborts the stream: one RST goes to the peer, buffers are dropped, 'closed' carries `error`. */
  reset (now: number, error?: Error): void {
    if (this.state === 'closed') return
    if (this.state === 'time-wait') { this.state = 'closed'; return } // already over cleanly: just stop lingering
    this.lastActivity = now
    this.close(error, true)
  }

  /** The next event, or undefined. */
  pollEvent (): ConnectionEvent | undefined {
    return this.events.shift()
  }

  /** Takes one decoded packet addressed to this stream (the driver matched the IDs and peer). */
  handlePacket (pkt: StreamPacket, now: number): void {
    if (this.state === 'closed') return
    if (pkt.rst) { this.onRst(pkt); return }
    if (pkt.sendStreamId !== 0 && pkt.sendStreamId !== this.localId) { this.rejected++; return }
    if (this.peerId === undefined) {
      if (pkt.sendStreamId !== this.localId) { this.rejected++; return }
      this.peerId = pkt.recvStreamId
    } else if (pkt.recvStreamId !== this.peerId) { this.rejected++; return }
    if (pkt.ack !== undefined && pkt.ack > this.tx.buf.nextSeq) { this.rejected++; return } // acks what was never sent
    this.received++
    const tx = this.tx
    tx.unanswered = 0
    if (pkt.syn && pkt.mss !== undefined) tx.peerMss = pkt.mss
    tx.updateWindow(pkt.ack ?? 0, pkt.window)
    if (pkt.ack !== undefined && this.state !== 'time-wait') {
      const before = tx.buf.free
      if (tx.onAck(pkt.ack, pkt.sack, now).progressed) this.lastActivity = now
      if (this.writeBlocked && tx.buf.free > before && tx.buf.free >= tx.buf.capacity / 4) {
        this.writeBlocked = false
        this.events.push({ type: 'writable' })
      }
    }
    if (occupiesSeq(pkt)) this.onData(pkt, now)
    if (pkt.echo) this.ack.immediately(now)
    this.advance(now)
  }

  private onData (pkt: StreamPacket, now: number): void {
    if (this.state === 'time-wait') { this.ack.immediately(now); return } // a retransmitted FIN: say again that we have it
    const r = this.rx.offer(pkt.seq, pkt.payload, pkt.fin)
    if (r === 'rejected') this.rejected++
    else if (r === 'duplicate') this.duplicates++
    else {
      this.lastActivity = now
      if (this.rx.unread > 0 || this.rx.finReceived) this.signalReadable()
    }
    this.ack.onElicit(now, r !== 'in-order' || this.rx.hasGaps || pkt.syn || pkt.fin)
  }

  private signalReadable (): void {
    if (this.readableSignalled) return
    this.readableSignalled = true
    this.events.push({ type: 'readable' })
  }

  private onRst (pkt: StreamPacket): void {
    if (pkt.sendStreamId !== this.localId) return
    if (this.peerId !== undefined && pkt.recvStreamId !== 0 && pkt.recvStreamId !== this.peerId) return
    this.received++
    if (this.state === 'time-wait') { this.state = 'closed'; return }
    if (this.state === 'syn-sent' && pkt.recvStreamId === 0) { // the peer made no stream for our SYN
      this.close(new ConnectionRefusedError('stream: connection refused by the peer'), false)
      return
    }
    if (this.rx.finReceived && this.tx.onlyFinOutstanding) { // the peer had everything and left
      this.events.push({ type: 'finished' })
      this.close(undefined, false, true)
      return
    }
    this.close(new ConnectionResetError('stream: reset by the peer'), false)
  }

  /** Phase changes after any input: handshake done, FIN acknowledged, both directions over. */
  private advance (now: number): void {
    const tx = this.tx
    if ((this.state === 'syn-sent' || this.state === 'syn-received') && tx.buf.una >= 1) {
      if (this.state === 'syn-sent') this.events.push({ type: 'connected' })
      this.state = 'open'
    }
    if (tx.finAcked && !this.finishedSignalled) {
      this.finishedSignalled = true
      this.events.push({ type: 'finished' })
    }
    if (this.state === 'open' && tx.finAcked && this.rx.finReceived) {
      this.state = 'time-wait'
      this.closedCleanly = true
      this.timeWaitUntil = now + Math.min(this.o.maxRtoMs, Math.max(MIN_TIME_WAIT_MS, 4 * tx.rtt.rto()))
      tx.clear()
      this.events.push({ type: 'closed', error: undefined })
    }
  }

  private close (error: Error | undefined, rst: boolean, keepData = false): void {
    this.state = 'closed'
    this.rstPending = rst && this.peerId !== undefined
    this.tx.clear()
    if (!keepData) this.rx.clear()
    this.ack.clear()
    this.events.push({ type: 'closed', error })
  }

  /** Every packet to send now, encoded. Call after every other call. */
  pollTransmit (now: number): Uint8Array[] {
    const out: Uint8Array[] = []
    if (this.state === 'closed') {
      if (this.rstPending) {
        this.rstPending = false
        out.push(encodePacket(packet({ sendStreamId: this.peerId!, recvStreamId: this.localId, seq: this.tx.buf.nextSeq, rst: true })))
      }
      return out
    }
    const tx = this.tx
    if (this.state !== 'time-wait') {
      const known = this.peerId !== undefined
      for (let i = 0; i <= this.o.maxCwndPackets; i++) { // bounded by the congestion window
        const p = tx.nextPacket(now, known)
        if (p === undefined) break
        out.push(this.encode(p, false))
      }
      if (tx.failure !== undefined) {
        this.close(tx.failure === 'exhausted' ? new LimitError('stream: sequence numbers exhausted') : this.unreachable(), true)
        return this.pollTransmit(now)
      }
      if (tx.probeDue) {
        tx.probeDue = false
        if (out.length === 0 && this.peerId !== undefined) out.push(this.encode(undefined, true))
      }
    }
    const due = this.ack.due(now, this.rx.totalRead, this.rx.finReceived)
    if (this.peerId !== undefined && ((out.length === 0 && due) || this.sackCut)) out.push(this.encode(undefined, false))
    this.sent += out.length
    return out
  }

  private unreachable (): TimeoutError {
    return new TimeoutError(`stream: no acknowledgement after ${this.o.maxRetransmits} retransmission timeouts`)
  }

  /**
   * Encodes data packet `p` (or an ACK-only packet) with the current ACK state. No packet is
   * longer than HEADER_BYTES + mss: SACK blocks use only the room the payload leaves, and when
   * some did not fit, `sackCut` asks for an ACK-only packet with all of them after the batch.
   */
  private encode (p: SentPacket | undefined, echo: boolean): Uint8Array {
    const rx = this.rx
    const known = this.peerId !== undefined
    const payload = p?.payload ?? EMPTY
    let sack: SackRange[] = []
    if (known) {
      this.ack.onSent(rx.totalRead)
      const room = this.o.mss - payload.length - (p?.syn === true ? MSS_OPTION_BYTES : 0)
      const want = Math.min(MAX_SACK_BLOCKS, rx.rangeCount)
      sack = want === 0 ? [] : rx.sackRanges(Math.min(want, Math.floor(room / 4)))
      this.sackCut = sack.length < want
    }
    return encodePacket({
      sendStreamId: this.peerId ?? 0,
      recvStreamId: this.localId,
      seq: p?.seq ?? this.tx.buf.nextSeq,
      ack: known ? rx.next : undefined,
      syn: p?.syn ?? false,
      fin: p?.fin ?? false,
      rst: false,
      echo,
      window: Math.min(rx.window(), 0xffff_ffff),
      sack,
      mss: p?.syn === true ? this.o.mss : undefined,
      payload
    })
  }

  /** When {@link handleTimeout} should next run (absolute ms), or undefined. */
  pollTimeout (): number | undefined {
    if (this.state === 'closed') return undefined
    let t = this.peerId !== undefined ? this.ack.deadline() ?? Infinity : Infinity
    if (this.state === 'time-wait') return Math.min(t, this.timeWaitUntil)
    t = Math.min(t, this.tx.nextTimeout() ?? Infinity, this.lastActivity + this.o.idleTimeoutMs)
    if (this.state !== 'open') t = Math.min(t, this.createdAt + this.o.connectTimeoutMs)
    return t
  }

  /** Runs what is due at `now`: deadlines, loss detection, retransmission and probe timers. */
  handleTimeout (now: number): void {
    if (this.state === 'closed') return
    if (this.state === 'time-wait') {
      if (now >= this.timeWaitUntil) { this.state = 'closed'; this.ack.clear() }
      return
    }
    if (this.state !== 'open' && now >= this.createdAt + this.o.connectTimeoutMs) {
      this.close(new TimeoutError(`stream: no handshake within ${this.o.connectTimeoutMs} ms`), true)
    } else if (now >= this.lastActivity + this.o.idleTimeoutMs) {
      this.close(new TimeoutError(`stream: idle for ${this.o.idleTimeoutMs} ms`), true)
    } else if (this.tx.onTimer(now) === 'fail') {
      this.close(this.unreachable(), true)
    }
  }
}

const EMPTY = new Uint8Array(0)
