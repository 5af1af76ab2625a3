/**
 * One end of an in-process connection. Each end owns a {@link DelayLine} towards its peer and
 * applies its own transport's link model (latency, jitter, loss, duplication, reordering) to
 * what it sends.
 *
 * Reliable ends keep order (due times never go backwards) and signal close to the peer after
 * the bytes already in flight; unreliable ends carry datagrams of at most `mtu` bytes and never
 * signal close. It does not find peers: the transport in index.ts pairs ends up.
 */
import type { Conn, ConnHandlers } from '../../src/link/transport.ts'
import { ClosedError, LimitError } from '../../src/util/errors.ts'
import { HandlerSlot } from '../handler-slot.ts'
import { DelayLine, now } from './delay-line.ts'

/** The link model one end applies to what it sends (resolved transport options). */
export interface LinkModel {
  reliable: boolean
  latencyMs: number
  jitterMs: number
  loss: number
  duplicate: number
  reorder: number
  mtu: number
  highWaterMark: number
  /** Bytes buffered before `setHandlers`; beyond it a reliable conn closes with LimitError. */
  maxPendingBytes: number
  rng: () => number
}

/** What travels on a delay line: bytes, or (reliable only) the sender's close. */
type Item = Uint8Array | { close: true, reset: boolean }

/** One end of an in-process connection; see the module doc. */
export class MemoryConn implements Conn {
  readonly transport = 'memory' as const
  readonly reliable: boolean
  readonly mtu: number
  /** The other end; set by {@link MemoryConn.pair}. */
  private peer: MemoryConn | undefined
  private readonly line: DelayLine<Item>
  private buffered = 0
  private needDrain = false
  private readonly slot: HandlerSlot
  /** Unreliable server ends: announced to the listener on the first datagram. */
  private announce: ((c: MemoryConn) => boolean) | undefined
  /** When this end last received a datagram or chunk ({@link now} ms); for idle expiry. */
  lastReceived = now()

  /**
   * @param remote the peer's address as this end reports it
   * @param model the link model for what this end sends
   * @param onClosed called once when this end closes (for the owner's bookkeeping)
   */
  constructor (readonly remote: string, private readonly model: LinkModel, private readonly onClosed: (c: MemoryConn) => void) {
    this.slot = new HandlerSlot(model.maxPendingBytes)
    this.reliable = model.reliable
    this.mtu = model.mtu
    this.line = new DelayLine<Item>(this.arrive)
  }

  /**
   * Links two ends. When `announce` is given, `b` is handed to it on its first datagram
   * (the unreliable accept); `announce` returns false to refuse, and `b` then closes.
   */
  static pair (a: MemoryConn, b: MemoryConn, announce?: (c: MemoryConn) => boolean): void {
    a.peer = b
    b.peer = a
    b.announce = announce
  }

  get bufferedAmount (): number { return this.buffered }

  setHandlers (h: ConnHandlers): void { this.slot.attach(h) }

  private get closed (): boolean { return this.slot.closed }

  send (data: Uint8Array): boolean {
    if (this.closed) throw new ClosedError('memory conn is closed')
    const m = this.model
    if (!m.reliable && data.length > m.mtu) throw new LimitError(`datagram of ${data.length} bytes exceeds mtu ${m.mtu}`)
    if (this.buffered + data.length > m.highWaterMark * 64) {
      if (!m.reliable) return false // a full queue drops datagrams, as a full socket buffer would
      const err = new LimitError('memory conn send buffer overflow: send() returned false and was ignored')
      this.close(err)
      throw err
    }
    const t = now()
    if (m.reliable) {
      this.enqueue(new Uint8Array(data), Math.max(this.line.lastDue, t + this.delay()))
    } else if (!(m.loss > 0 && m.rng() < m.loss)) {
      const copies = m.duplicate > 0 && m.rng() < m.duplicate ? 2 : 1
      for (let i = 0; i < copies; i++) {
        const late = m.reorder > 0 && m.rng() < m.reorder ? Math.max(m.latencyMs, 5) * (1 + m.rng()) : 0
        this.enqueue(new Uint8Array(data), t + this.delay() + late)
      }
    }
    if (this.buffered < m.highWaterMark) return true
    this.needDrain = true
    return false
  }

  close (err?: Error): void {
    if (this.closed) return
    const peer = this.peer
    if (this.model.reliable && peer !== undefined) {
      if (err !== undefined) this.line.clear()
      const due = err !== undefined ? now() + this.model.latencyMs : Math.max(this.line.lastDue, now() + this.delay())
      this.line.push({ close: true, reset: err !== undefined }, due)
    } else {
      this.line.clear()
    }
    this.buffered = 0
    this.closeLocally(err)
  }

  private delay (): number {
    const m = this.model
    return m.latencyMs + (m.jitterMs > 0 ? m.rng() * m.jitterMs : 0)
  }

  private enqueue (copy: Uint8Array, due: number): void {
    this.buffered += copy.length
    this.line.push(copy, due)
  }

  /** An item left this end's delay line: hand it to the peer. */
  private readonly arrive = (item: Item): void => {
    const peer = this.peer
    if (item instanceof Uint8Array) {
      if (!this.closed) this.buffered -= item.length
      peer?.receive(item)
      if (this.needDrain && !this.closed && this.buffered <= this.model.highWaterMark / 2) {
        this.needDrain = false
        this.slot.drain()
      }
    } else {
      peer?.closeLocally(item.reset ? new ClosedError('memory conn reset by peer') : undefined)
    }
  }

  private receive (data: Uint8Array): void {
    this.lastReceived = now()
    if (this.announce !== undefined) {
      const announce = this.announce
      this.announce = undefined
      if (!announce(this)) {
        this.close()
        return
      }
    }
    // Over the bound before setHandlers: a reliable conn closes, an unreliable one drops the datagram.
    if (!this.slot.data(data) && this.model.reliable) this.close(new LimitError('memory conn: too much data before setHandlers'))
  }

  /** Marks this end closed without telling the peer, and fires onClose (now or at setHandlers). */
  private closeLocally (err?: Error): void {
    this.slot.close(err, () => { this.needDrain = false; this.onClosed(this) })
  }
}
