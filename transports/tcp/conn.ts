/**
 * A {@link Conn} over one node:net socket: a thin adapter. Received chunks go straight to
 * `onData` (no copy); `send` copies into a fresh Buffer and writes it (`sendParts` writes the
 * caller's arrays, which it hands over), returning the socket's back-pressure boolean; 'drain'
 * becomes `onDrain`. Sends within one tick are corked and go out in one writev (about 4x the
 * message rate of one syscall per small send).
 *
 * Before `setHandlers`, received bytes are buffered up to a bound; past it the conn closes
 * with LimitError. `close()` ends the socket gracefully (pending writes flush, then FIN; the
 * socket is destroyed after a linger timeout), `close(err)` destroys it at once. It does no
 * framing: a TCP conn is a byte stream.
 */
import type { Socket } from 'node:net'
import type { Conn, ConnHandlers } from '../../src/link/transport.ts'
import { ClosedError, LimitError, TransportError } from '../../src/util/errors.ts'
import { HandlerSlot } from '../handler-slot.ts'

/** Tuning of a {@link TcpConn}. */
export interface TcpConnOptions {
  /** Suggested chunk size reported as `mtu`. */
  mtu: number
  /** Bytes buffered before `setHandlers`; beyond it the conn closes with LimitError. */
  maxPendingBytes: number
  /** How long a gracefully closed socket may take to flush before it is destroyed, in ms. */
  lingerMs: number
  /** Called once when the conn closes (owner bookkeeping). */
  onClosed: (c: TcpConn) => void
}

/** A TCP connection as a {@link Conn}; see the module doc. */
export class TcpConn implements Conn {
  readonly transport = 'tcp' as const
  readonly reliable = true
  readonly mtu: number
  private readonly slot: HandlerSlot
  private socketErr: Error | undefined
  private linger: NodeJS.Timeout | undefined
  private corked = false

  constructor (private readonly socket: Socket, readonly remote: string, private readonly opts: TcpConnOptions) {
    this.mtu = opts.mtu
    this.slot = new HandlerSlot(opts.maxPendingBytes)
    socket.setNoDelay(true)
    socket.on('data', this.onSocketData)
    socket.on('drain', () => { this.slot.drain() })
    socket.on('error', err => { this.socketErr ??= err })
    socket.on('close', () => {
      if (this.linger !== undefined) clearTimeout(this.linger)
      const e = this.socketErr
      this.finish(e === undefined ? undefined : new TransportError(`tcp ${this.remote}: ${(e as NodeJS.ErrnoException).code ?? e.message}`, { cause: e }))
    })
  }

  get bufferedAmount (): number { return this.socket.writableLength }

  setHandlers (h: ConnHandlers): void { this.slot.attach(h) }

  send (data: Uint8Array): boolean {
    if (this.slot.closed) throw new ClosedError(`tcp ${this.remote}: conn is closed`)
    // Node keeps a reference to a buffer it could not write at once: copy, the caller may reuse it.
    this.corkTick()
    return this.socket.write(Buffer.copyBytesFrom(data))
  }

  /** Writes `parts` (which become the socket's) in one writev with the rest of this tick's sends. */
  sendParts (parts: readonly Uint8Array[]): boolean {
    if (this.slot.closed) throw new ClosedError(`tcp ${this.remote}: conn is closed`)
    this.corkTick()
    let ok = true
    for (const p of parts) ok = this.socket.write(p)
    return ok
  }

  private corkTick (): void {
    if (this.corked) return
    this.corked = true
    this.socket.cork()
    process.nextTick(this.uncork)
  }

  private readonly uncork = (): void => {
    this.corked = false
    this.socket.uncork()
  }

  close (err?: Error): void {
    if (this.slot.closed) return
    if (err !== undefined) {
      this.socket.destroy()
    } else {
      this.socket.end()
      this.linger = setTimeout(() => this.socket.destroy(), this.opts.lingerMs)
      this.linger.unref()
    }
    this.finish(err)
  }

  private readonly onSocketData = (chunk: Buffer): void => {
    if (!this.slot.data(chunk)) this.close(new LimitError(`tcp ${this.remote}: more than ${this.opts.maxPendingBytes} bytes before setHandlers`))
  }

  /** Marks the conn closed and fires onClose once (now, or at setHandlers). */
  private finish (err: Error | undefined): void {
    this.slot.close(err, () => { this.opts.onClosed(this) })
  }
}
