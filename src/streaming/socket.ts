/**
 * A stream as a Node Duplex: the application side of one Connection, driven by the
 * StreamManager. Backpressure both ways: a write's callback waits while the send buffer is full,
 * and bytes are taken from the connection only while the readable side wants them, so a reader
 * that stops reading shrinks the window the peer sees. `end()` half-closes (FIN; reading goes
 * on); `destroy()` / `reset()` abort with a RST. Errors are typed (ConnectionResetError,
 * TimeoutError, ClosedError, ...).
 */
import { Duplex } from 'node:stream'
import type { Connection, ConnectionEvent, ConnectionStats } from './connection.ts'

/** What a socket needs from the driver that owns its connection. */
export interface SocketDriver {
  readonly conn: Connection
  /** The driver's clock (ms). */
  now (): number
  /** The connection changed: send what it has to send and re-arm its timer soon. */
  kick (): void
}

/** Who a socket talks to and on which ports. */
export interface SocketInfo {
  /** The peer destination's key. */
  remote: string
  /** The initiator's port (for a socket we connected: ours). */
  fromPort: number
  /** The port the SYN was addressed to (for a socket we accepted: ours). */
  toPort: number
  /** Whether we opened the stream. */
  initiator: boolean
}

interface PendingWrite { chunk: Uint8Array, off: number, cb: (err?: Error | null) => void }

/** One stream between two destinations (see module doc). */
export class StreamSocket extends Duplex {
  /** The peer destination's key. */
  readonly remote: string
  /** The initiator's port (ours if we connected, the peer's if we accepted). */
  readonly fromPort: number
  /** The responder's port (the peer's if we connected, ours if we accepted). */
  readonly toPort: number
  /** Whether we opened the stream. */
  readonly initiator: boolean
  private readonly driver: SocketDriver
  private pending: PendingWrite | undefined
  private finalCb: ((err?: Error | null) => void) | undefined
  private wantRead = false
  private ended = false

  /** Made by the StreamManager; applications get sockets from `connect` and `listen`. */
  constructor (driver: SocketDriver, info: SocketInfo) {
    super({ allowHalfOpen: true })
    this.driver = driver
    this.remote = info.remote
    this.fromPort = info.fromPort
    this.toPort = info.toPort
    this.initiator = info.initiator
  }

  /** The connection's counters and estimates (RTT, window, retransmissions). */
  get stats (): ConnectionStats { return this.driver.conn.stats }

  /** Aborts the stream with a RST (as `destroy`). */
  reset (err?: Error): this { return this.destroy(err) }

  /** @internal The driver hands each connection event here. */
  onEvent (ev: ConnectionEvent): void {
    if (this.destroyed) return
    switch (ev.type) {
      case 'readable': if (this.wantRead) this.pull(); break
      case 'writable': this.drainPending(); break
      case 'finished': this.runFinal(); break
      case 'closed':
        if (ev.error !== undefined) this.destroy(ev.error)
        else { this.runFinal(); this.pull() }
        break
      case 'connected': break
    }
  }

  override _read (): void {
    this.wantRead = true
    this.pull()
  }

  /** Moves in-order bytes from the connection into the readable buffer while it wants more. */
  private pull (): void {
    const conn = this.driver.conn
    let took = false
    for (let c = conn.read(); c !== undefined; c = conn.read()) { // bounded by the bytes held
      took = true
      if (!this.push(c)) { this.wantRead = false; break }
    }
    if (!this.ended && conn.readEnded) { this.ended = true; this.push(null) }
    if (took) this.driver.kick() // the window opened: maybe a window update
  }

  override _write (chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.pending = { chunk, off: 0, cb }
    this.drainPending()
  }

  override _writev (chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this._write(Buffer.concat(chunks.map(c => c.chunk)), 'binary', cb)
  }

  /** Hands the pending write to the connection as far as its send buffer has room. */
  private drainPending (): void {
    const w = this.pending
    if (w === undefined) return
    let n: number
    try {
      n = this.driver.conn.write(w.off === 0 ? w.chunk : w.chunk.subarray(w.off), this.driver.now())
    } catch (err) {
      this.pending = undefined
      w.cb(err as Error)
      return
    }
    w.off += n
    if (n > 0) this.driver.kick()
    if (w.off < w.chunk.length) return // the rest waits for 'writable'
    this.pending = undefined
    w.cb()
  }

  /** `end()`: a FIN after the written bytes; 'finish' fires once the peer acknowledged all of them. */
  override _final (cb: (err?: Error | null) => void): void {
    this.finalCb = cb
    this.driver.conn.finish(this.driver.now())
    this.driver.kick()
  }

  private runFinal (): void {
    const cb = this.finalCb
    this.finalCb = undefined
    cb?.()
  }

  override _destroy (err: Error | null, cb: (err?: Error | null) => void): void {
    const conn = this.driver.conn
    if (conn.phase !== 'closed' && conn.phase !== 'time-wait') conn.reset(this.driver.now(), err ?? undefined)
    this.pending = undefined
    this.finalCb = undefined
    this.driver.kick()
    cb(err)
  }
}
