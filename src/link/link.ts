/**
 * A Link: one authenticated, encrypted session with another router over one transport Conn.
 *
 * The Link owns the Conn's handlers. It first runs the handshake (handshake.ts) — read in pieces
 * on stream Conns, one datagram per message with retransmission on datagram Conns — and then
 * hands the Conn to a carrier (stream-carrier.ts or datagram-carrier.ts) that moves messages.
 * A responder that receives a first message it cannot authenticate (a prober, random bytes, a
 * wrong key) sends nothing back, reads and discards for a short random time, then closes.
 * The manager (manager.ts) decides which peers and transports; a Link never dials.
 */
import type { Conn, TransportName } from './transport.ts'
import { ClosedError, HandshakeError, LimitError, TimeoutError, UmbraError, stackless } from '../util/errors.ts'
import { BlockType, CloseReason } from './blocks.ts'
import { DatagramCarrier } from './datagram-carrier.ts'
import { DatagramOpener, DatagramSealer } from './datagram-codec.ts'
import { HEAD_BYTES, InitiatorHandshake, ResponderHandshake, type HandshakeConfig } from './handshake.ts'
import { DirectionKeys } from './keys.ts'
import type { HandshakeResult } from './noise.ts'
import type { Carrier } from './carrier.ts'
import { StreamCarrier } from './stream-carrier.ts'
import { StreamOpener, StreamSealer } from './stream-codec.ts'
import { newStats, type LinkContext, type LinkStats, type PeerContact } from './types.ts'

/** Where a link is in its life. */
export type LinkState = 'handshake' | 'open' | 'closed'

const MAX_HANDSHAKE_BUFFER = 64 * 1024

/** Collects stream bytes until a given number is available. */
class ByteQueue {
  private chunks: Uint8Array[] = []
  length = 0
  push (b: Uint8Array): void { this.chunks.push(b); this.length += b.length }
  /** Removes and returns the first `n` bytes (caller checks `length >= n`). */
  take (n: number): Uint8Array {
    const out = new Uint8Array(n)
    let off = 0
    while (off < n) {
      const c = this.chunks[0]!
      const k = Math.min(c.length, n - off)
      out.set(c.subarray(0, k), off)
      off += k
      if (k === c.length) this.chunks.shift()
      else this.chunks[0] = c.subarray(k)
    }
    this.length -= n
    return out
  }
  drain (): Uint8Array[] { const c = this.chunks; this.chunks = []; this.length = 0; return c }
}

/** One authenticated, encrypted session with a peer router. */
export class Link {
  state: LinkState = 'handshake'
  /** The peer, known from the start for initiators and after message 3 for responders. */
  peer: PeerContact | undefined
  /** Counters. */
  readonly stats: LinkStats = newStats()
  /** Resolves when the handshake completes; rejects with its error. */
  readonly ready: Promise<void>
  /**
   * Set by the owner: each message received. Messages that arrive before it is set (between
   * the handshake completing and the owner attaching) are held, bounded, and delivered then.
   * A message may be a view of a larger received frame (at most four times its size): copy
   * what is kept for long.
   */
  get onMessage (): ((msg: Uint8Array) => void) | undefined { return this.handler }
  set onMessage (h: ((msg: Uint8Array) => void) | undefined) {
    this.handler = h
    if (h === undefined) return
    const held = this.held
    this.held = []
    this.heldBytes = 0
    for (const m of held) { if (this.handler !== h) return; h(m) }
  }
  /** Set by the owner: the link closed (err set on failure). Called once. */
  onClose: (err?: Error) => void = () => {}
  /** Set by the owner: `send` may be called again after it returned false. */
  onDrain: () => void = () => {}

  private carrier: Carrier | undefined
  private handler: ((msg: Uint8Array) => void) | undefined
  private held: Uint8Array[] = []
  private heldBytes = 0
  private readonly inq = new ByteQueue()
  private step: (() => boolean) | undefined
  private resolveReady!: () => void
  private rejectReady!: (err: Error) => void
  /** Whether `ready` has resolved or rejected (a closing link then makes no error for it). */
  private readySettled = false
  private timers: NodeJS.Timeout[] = []
  private hsInit: InitiatorHandshake | undefined
  private hsResp: ResponderHandshake | undefined
  private dgMsg1: Uint8Array | undefined
  private dgReply: Uint8Array | undefined
  private dgConfirmed = false
  private probing = false
  /** Responder: message 2 went out (failures before it look like any prober's). */
  private answered = false
  /** Responder: message 3 read, peer being verified (the initiator may already send frames). */
  private verifying = false

  private constructor (private readonly ctx: LinkContext, readonly conn: Conn, readonly initiator: boolean) {
    this.ready = new Promise((resolve, reject) => { this.resolveReady = resolve; this.rejectReady = reject })
    this.ready.catch(() => {})
    conn.setHandlers({
      onData: (d) => { this.onData(d) },
      onDrain: () => { this.carrier?.onConnDrain() },
      // An error (and its stack) only for a link still open: closing our own link closes the Conn too.
      onClose: (err) => { if (this.state !== 'closed') this.fail(err ?? stackless(() => new ClosedError('connection closed by peer'))) }
    })
    this.timers.push(setTimeout(() => {
      if (this.state === 'handshake') this.fail(new TimeoutError(`link handshake over ${conn.transport} timed out`))
    }, ctx.limits.handshakeTimeoutMs))
  }

  /** Starts a handshake as initiator to `peer` over `conn`. Await `ready`. */
  static initiate (ctx: LinkContext, conn: Conn, peer: PeerContact): Link {
    const link = new Link(ctx, conn, true)
    link.peer = peer
    link.startInitiator(peer)
    return link
  }

  /** Runs the responder side of a handshake on an inbound `conn`. Await `ready`. */
  static accept (ctx: LinkContext, conn: Conn): Link {
    const link = new Link(ctx, conn, false)
    link.startResponder()
    return link
  }

  /** The transport this link runs over. */
  get transport (): TransportName { return this.conn.transport }

  /** Largest message `send` accepts. */
  get maxMessage (): number { return this.carrier?.maxMessage ?? 0 }

  /** Largest message sent whole (in one datagram on UDP; bigger ones are split), 0 before the handshake. */
  get packetMessage (): number { return this.carrier?.packetMessage ?? 0 }

  /** Bytes queued for sending. */
  get queuedBytes (): number { return this.carrier?.queuedBytes ?? 0 }

  /**
   * Sends one message (at most `maxMessage` bytes). Returns false when the caller should wait
   * for `onDrain`. Throws ClosedError when the link is not open, LimitError when too big or full.
   */
  send (msg: Uint8Array): boolean {
    if (this.state !== 'open' || this.carrier === undefined) throw new ClosedError(`link is ${this.state}`)
    return this.carrier.send(msg)
  }

  /** Closes the link, telling the peer. Idempotent. */
  close (reason: number = CloseReason.NORMAL): void {
    this.fail(undefined, reason)
  }

  /** Periodic housekeeping (the manager calls it about once a second). */
  tick (now: number): void {
    const c = this.carrier
    if (this.state !== 'open' || c === undefined) return
    const l = this.ctx.limits
    if (now - c.lastReceive > l.idleTimeoutMs) { this.fail(new TimeoutError('link idle: nothing received'), CloseReason.IDLE); return }
    if (now - c.lastSend > l.keepaliveMs) c.sendControl(BlockType.PING, this.ctx.crypto.randomBytes(8))
    c.tick(now)
  }

  // ---- handshake ----

  private hsConfig (): HandshakeConfig {
    const cfg: HandshakeConfig = { crypto: this.ctx.crypto, prologue: new TextEncoder().encode(`umbra/link/1 ${this.ctx.network}`), maxSkewMs: this.ctx.limits.maxSkewMs }
    if (!this.conn.reliable) cfg.maxMessageBytes = this.conn.mtu
    return cfg
  }

  private startInitiator (peer: PeerContact): void {
    const hs = new InitiatorHandshake(this.hsConfig(), this.ctx.staticKey, peer.staticKey, this.ctx.ownInfo)
    this.hsInit = hs
    const msg1 = hs.write1(this.ctx.clock.wall())
    if (this.conn.reliable) {
      let pad = -1
      this.step = () => {
        if (pad < 0) {
          if (this.inq.length < HEAD_BYTES) return false
          pad = hs.read2Head(this.inq.take(HEAD_BYTES), this.ctx.clock.wall())
        }
        if (this.inq.length < pad) return false
        hs.read2Pad(this.inq.take(pad))
        const { msg, result } = hs.write3()
        this.conn.send(msg)
        this.open(result)
        return true
      }
      this.conn.send(msg1)
    } else {
      this.dgMsg1 = msg1
      this.conn.send(msg1)
      this.retransmit(() => this.dgReply === undefined ? msg1 : undefined)
    }
  }

  private startResponder (): void {
    const hs = new ResponderHandshake(this.hsConfig(), this.ctx.staticKey)
    this.hsResp = hs
    if (this.conn.reliable) {
      let pad = -1
      let sent2 = false
      this.step = () => {
        if (pad < 0) {
          if (this.inq.length < HEAD_BYTES) return false
          pad = this.readFirst(hs, this.inq.take(HEAD_BYTES))
        }
        if (!sent2) {
          if (this.inq.length < pad) return false
          hs.read1Pad(this.inq.take(pad))
          this.conn.send(hs.write2(this.ctx.clock.wall()))
          sent2 = true
          this.answered = true
        }
        if (this.inq.length < hs.msg3Bytes) return false
        const { info, result } = hs.read3(this.inq.take(hs.msg3Bytes))
        this.step = undefined
        this.verifying = true
        void this.verifyAndOpen(info, result)
        return false
      }
    }
  }

  /** Reads message 1's head, applying the replay cache; a failure means "prober". */
  private readFirst (hs: ResponderHandshake, head: Uint8Array): number {
    const pad = hs.read1Head(head, this.ctx.clock.wall())
    const e = hs.remoteEphemeral
    if (e !== undefined && this.ctx.replayCache !== undefined && !this.ctx.replayCache.add(e, this.ctx.clock.now())) {
      throw new HandshakeError('replayed handshake message 1')
    }
    return pad
  }

  private async verifyAndOpen (info: Uint8Array, result: HandshakeResult): Promise<void> {
    try {
      const peer = await this.ctx.verifyPeer(info, result.remoteStatic)
      if (!this.ctx.crypto.equal(peer.staticKey, result.remoteStatic)) throw new HandshakeError('peer RouterInfo names another static key')
      if (this.state !== 'handshake') return
      this.peer = peer
      this.open(result)
      if (this.inq.length > 0) for (const c of this.inq.drain()) this.carrier?.onData(c)
    } catch (err) {
      this.fail(err instanceof UmbraError ? err : new HandshakeError('peer refused', { cause: err }))
    }
  }

  /** Resends `next()` with backoff until it returns undefined or the handshake ends. */
  private retransmit (next: () => Uint8Array | undefined): void {
    let delay = 250
    const go = (): void => {
      if (this.state === 'closed') return
      const m = next()
      if (m === undefined) return
      try { this.conn.send(m) } catch { return }
      delay = Math.min(delay * 2, 2000)
      this.timers.push(setTimeout(go, delay))
    }
    this.timers.push(setTimeout(go, delay))
  }

  /** One datagram while handshaking. Hostile datagrams are dropped, never answered. */
  private onHandshakeDatagram (d: Uint8Array): void {
    const now = this.ctx.clock.wall()
    if (this.initiator) {
      const hs = this.hsInit!
      if (this.dgReply !== undefined || d.length < HEAD_BYTES) return
      try {
        hs.read2Whole(d, now)
      } catch {
        return // forged or stray: the handshake state is unchanged, a genuine message 2 still works
      }
      const { msg, result } = hs.write3()
      this.dgReply = msg
      this.conn.send(msg)
      this.open(result)
      return
    }
    const hs = this.hsResp!
    if (this.dgMsg1 === undefined) {
      try {
        if (d.length < HEAD_BYTES) throw new HandshakeError('message 1 truncated')
        const pad = this.readFirst(hs, d.subarray(0, HEAD_BYTES))
        if (d.length !== HEAD_BYTES + pad) throw new HandshakeError('message 1 has the wrong size')
        hs.read1Pad(d.subarray(HEAD_BYTES))
      } catch (err) {
        this.fail(err instanceof Error ? err : new HandshakeError(String(err)))
        return
      }
      this.dgMsg1 = d.slice()
      const msg2 = hs.write2(now)
      this.dgReply = msg2
      this.conn.send(msg2)
      // No timed resend: the source address is unproven (reflection). A lost message 2 shows as a
      // resent message 1, answered below.
      return
    }
    if (this.ctx.crypto.equal(d, this.dgMsg1)) { if (this.dgReply !== undefined) this.conn.send(this.dgReply); return }
    if (d.length !== hs.msg3Bytes || this.step !== undefined) return
    let read: { info: Uint8Array, result: HandshakeResult }
    try {
      read = hs.read3(d)
    } catch {
      return // not message 3 (a stray data packet or a forgery): state unchanged, keep waiting
    }
    this.step = () => false // message 3 being verified: ignore further datagrams
    void this.verifyAndOpen(read.info, read.result)
  }

  // ---- established ----

  private open (result: HandshakeResult): void {
    const c = this.ctx.crypto
    const l = this.ctx.limits
    const send = new DirectionKeys(c, result.sendKey, result.handshakeHash)
    const recv = new DirectionKeys(c, result.recvKey, result.handshakeHash)
    result.sendKey.fill(0)
    result.recvKey.fill(0)
    const events = {
      onMessage: (m: Uint8Array) => { this.deliver(m) },
      onFail: (err?: Error) => { this.fail(err) },
      onDrain: () => { this.onDrain() }
    }
    const now = (): number => this.ctx.clock.now()
    if (this.conn.reliable) {
      let carrier: StreamCarrier | undefined
      const opener = new StreamOpener(c, recv, l.rekeyEvery, l.maxFrameCiphertext, (pt) => { carrier!.onFrame(pt) })
      carrier = new StreamCarrier(this.conn, new StreamSealer(c, send, l.rekeyEvery), opener, l, this.stats, events, now)
      this.carrier = carrier
    } else {
      this.carrier = new DatagramCarrier(this.conn, new DatagramSealer(c, send, l.rekeyEvery), new DatagramOpener(c, recv, l.rekeyEvery),
        l, this.stats, events, now, () => { this.dgConfirmed = true })
      if (this.initiator) {
        this.retransmit(() => (this.dgConfirmed ? undefined : this.dgReply))
      } else {
        this.carrier.sendControl(BlockType.PING, c.randomBytes(8)) // confirms the handshake to the initiator
      }
    }
    this.state = 'open'
    this.step = undefined
    if (this.conn.reliable && this.inq.length > 0) for (const chunk of this.inq.drain()) this.carrier.onData(chunk)
    this.readySettled = true
    this.resolveReady()
  }

  private onData (d: Uint8Array): void {
    if (this.state === 'closed') return
    if (this.probing) return // discard what a prober sends until we close
    if (this.state === 'open') {
      if (this.carrier !== undefined) this.carrier.onData(d)
      else this.inq.push(d.slice())
      return
    }
    if (!this.conn.reliable) { this.onHandshakeDatagram(d); return }
    this.inq.push(d.slice())
    const cap = this.verifying ? this.ctx.limits.maxQueuedBytes : MAX_HANDSHAKE_BUFFER
    let err: Error | undefined
    if (this.inq.length > cap) err = new LimitError('too many bytes during handshake')
    else {
      try {
        while (this.step !== undefined && this.state === 'handshake' && this.step()) { /* advance */ }
      } catch (e) {
        err = e instanceof Error ? e : new HandshakeError(String(e))
      }
    }
    if (err === undefined) return
    // A responder that has not answered treats every failure alike, so probes learn nothing.
    if (!this.initiator && !this.answered) { this.inq.drain(); this.startProbeDrain(err); return }
    this.fail(err)
  }

  private deliver (m: Uint8Array): void {
    if (this.handler !== undefined) { this.handler(m); return }
    this.heldBytes += m.length
    if (this.heldBytes > this.ctx.limits.maxQueuedBytes) { this.fail(new LimitError('messages arrived faster than the link owner attached'), CloseReason.LIMIT); return }
    this.held.push(m)
  }

  /** A stream responder that got a bad first message: answer nothing, close after a while. */
  private startProbeDrain (err: Error): void {
    this.probing = true
    this.readySettled = true
    this.rejectReady(err)
    const r = this.ctx.crypto.randomBytes(2)
    const ms = 500 + ((r[0]! << 8) | r[1]!) % 2500
    this.timers.push(setTimeout(() => { this.fail(err) }, ms).unref())
  }

  /** Ends the link once; with `closeReason`, an open link tells the peer in a CLOSE block. */
  private fail (err: Error | undefined, closeReason?: number): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    for (const t of this.timers) clearTimeout(t)
    this.timers = []
    this.carrier?.stop(closeReason)
    this.conn.close()
    if (!this.readySettled) this.rejectReady(err ?? new ClosedError('link closed'))
    this.readySettled = true
    this.onClose(err)
  }
}
