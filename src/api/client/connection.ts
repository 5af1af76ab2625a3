/**
 * One SAM v3 control connection, client side: TCP connect, `HELLO VERSION`, then one command at
 * a time (a FIFO of requests, each answered by one reply line, each with its own deadline).
 * Unsolicited lines are handled here: `PING x` is answered `PONG x`, and `DATAGRAM RECEIVED` /
 * `RAW RECEIVED` with their SIZE-byte payloads become 'datagram' events. A connection that turns
 * into a raw byte pipe (after `STREAM STATUS RESULT=OK`) is held after that reply and handed over
 * with {@link SamConnection.detach}. Line parsing is `../sam/line.ts`; no other parser here.
 */
import * as net from 'node:net'
import { EventEmitter } from 'node:events'
import { LineSplitter, formatLine, parseLine, type SamLine } from '../sam/line.ts'
import { ClosedError, DecodeError, LimitError, TimeoutError, TransportError, UmbraError } from '../../util/errors.ts'
import { raceSignal, throwIfAborted, withTimeout } from '../../util/abort.ts'

/** Default SAM bridge address. */
export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 7656
/** Largest datagram payload accepted on the control socket (RAW maximum is 32768). */
export const MAX_DATAGRAM_BYTES = 64 * 1024

/**
 * The bridge answered with a RESULT other than OK. `result` is the code (`CANT_REACH_PEER`,
 * `INVALID_ID`, `DUPLICATED_ID`, `KEY_NOT_FOUND`, `I2P_ERROR`, `NOVERSION`, …); `bridgeMessage`
 * its MESSAGE, if any (text for people, never to be parsed). `retry` is true for codes where
 * trying again later may work (CANT_REACH_PEER, PEER_NOT_FOUND, TIMEOUT, LEASESET_NOT_FOUND).
 */
export class SamError extends UmbraError {
  static override readonly name = 'SamError'
  override readonly name = 'SamError'
  override readonly retry: boolean
  constructor (readonly result: string, readonly bridgeMessage = '', options?: { cause?: unknown }) {
    super(`SAM ${result}${bridgeMessage !== '' ? `: ${bridgeMessage}` : ''}`, options)
    this.retry = ['CANT_REACH_PEER', 'PEER_NOT_FOUND', 'TIMEOUT', 'LEASESET_NOT_FOUND'].includes(result)
  }
}

/** Where the bridge is and how to log in. */
export interface ConnectOptions {
  host?: string
  port?: number
  user?: string
  password?: string
  /** Deadline for TCP connect + HELLO, ms. */
  timeoutMs?: number
  signal?: AbortSignal
}

/** A datagram read from the control socket (`DATAGRAM RECEIVED` or `RAW RECEIVED`). */
export interface ReceivedDatagram {
  style: 'DATAGRAM' | 'RAW'
  /** The reply line's pairs (DESTINATION, SIZE, FROM_PORT, TO_PORT, PROTOCOL). */
  args: ReadonlyMap<string, string>
  payload: Buffer
}

/** Per-wait options: every wait has a deadline, and may also have a caller's signal. */
export interface WaitOptions { timeoutMs: number, signal?: AbortSignal }

interface Pending {
  line: string
  expect: readonly [string, string]
  hold: boolean
  sent: boolean
  abandoned: boolean
  resolve: (l: SamLine) => void
  reject: (e: Error) => void
}

interface Events { datagram: [ReceivedDatagram], close: [Error | undefined] }

/** One control connection; make it with {@link SamConnection.open}. Emits 'datagram' and 'close'. */
export class SamConnection extends EventEmitter<Events> {
  private readonly splitter = new LineSplitter()
  private readonly queue: Pending[] = []
  private payload: { style: 'DATAGRAM' | 'RAW', args: ReadonlyMap<string, string>, size: number } | undefined
  private rawLine: { resolve: (line: string) => void, reject: (e: Error) => void } | undefined
  private held = false
  private closedWith: Error | undefined
  private lastUnsolicited = ''
  /** The version agreed in HELLO (`3.1` … `3.3`). */
  version = ''
  /** True once the socket is gone or handed over. */
  closed = false

  private constructor (private readonly socket: net.Socket) {
    super()
    socket.setNoDelay(true)
    socket.on('readable', this.pump)
    socket.on('end', this.onEnd)
    socket.on('error', this.onError)
    socket.on('close', this.onClose)
  }

  /** Connects and says HELLO (MIN=3.1 MAX=3.3). Throws TransportError (nothing listens), TimeoutError, AbortError, ClosedError, SamError (NOVERSION, I2P_ERROR for bad credentials). */
  static async open (opts: ConnectOptions = {}): Promise<SamConnection> {
    const timeoutMs = opts.timeoutMs ?? 30_000
    const signal = withTimeout(timeoutMs, opts.signal)
    throwIfAborted(opts.signal)
    const host = opts.host ?? DEFAULT_HOST
    const port = opts.port ?? DEFAULT_PORT
    const socket = net.connect({ host, port, allowHalfOpen: true })
    try {
      await raceSignal(new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve)
        socket.once('error', (err) => { reject(new TransportError(`cannot reach the SAM bridge at ${host}:${port}: ${err.message}`, { cause: err })) })
      }), signal)
    } catch (err) {
      socket.destroy()
      throw rename(err, `connecting to the SAM bridge at ${host}:${port}`, timeoutMs)
    }
    socket.removeAllListeners('error')
    socket.removeAllListeners('connect')
    const conn = new SamConnection(socket)
    try {
      const reply = await conn.request(formatLine(['HELLO', 'VERSION'], [['MIN', '3.1'], ['MAX', '3.3'], ['USER', opts.user], ['PASSWORD', opts.password]]),
        ['HELLO', 'REPLY'], { timeoutMs, signal })
      conn.version = reply.args.get('VERSION') ?? ''
      return conn
    } catch (err) {
      conn.close()
      throw err
    }
  }

  /**
   * Sends `line` (queued behind earlier requests) and resolves with the reply whose first two
   * words are `expect`. A RESULT other than OK (on that reply, or on any STATUS the bridge sends
   * instead) rejects with SamError. With `hold`, nothing after the reply is read until
   * {@link readLine} or {@link detach}. A request that times out or is aborted after it was sent
   * still consumes its reply when it comes, so later requests stay in step.
   */
  async request (line: string, expect: readonly [string, string], opts: WaitOptions & { hold?: boolean }): Promise<SamLine> {
    if (this.closed) throw this.closedError()
    throwIfAborted(opts.signal)
    const signal = withTimeout(opts.timeoutMs, opts.signal)
    let p!: Pending
    const done = new Promise<SamLine>((resolve, reject) => {
      p = { line, expect, hold: opts.hold === true, sent: false, abandoned: false, resolve, reject }
    })
    this.queue.push(p)
    this.sendNext()
    try {
      return await raceSignal(done, signal, () => {
        p.abandoned = true
        if (!p.sent) this.queue.splice(this.queue.indexOf(p), 1)
        this.sendNext()
      })
    } catch (err) {
      throw rename(err, `SAM ${expect[0] === 'PONG' ? 'PING' : line.split(' ', 2).join(' ').trim()}`, opts.timeoutMs)
    }
  }

  /**
   * The next line as received (no parsing; e.g. the peer destination after STREAM ACCEPT), then
   * holds again. Waits until `signal` fires or the connection closes.
   */
  async readLine (signal?: AbortSignal): Promise<string> {
    if (this.closed) throw this.closedError()
    const p = new Promise<string>((resolve, reject) => {
      this.rawLine = { resolve: (l) => { this.rawLine = undefined; this.held = true; resolve(l) }, reject }
    })
    this.held = false
    process.nextTick(this.pump)
    return await raceSignal(p, signal, () => { this.rawLine = undefined; this.held = true })
  }

  /** Reads again after a `hold` request (the caller is now listening for 'datagram'). */
  resume (): void {
    this.held = false
    process.nextTick(this.pump)
  }

  /**
   * Hands over the socket, no longer read by this object, and the bytes that arrived after the
   * last line (pushed back into the socket by the caller with `unshift`). The connection counts
   * as closed afterwards; no 'close' event is emitted.
   */
  detach (): { socket: net.Socket, head: Buffer } {
    if (this.closed) throw this.closedError()
    this.closed = true
    this.closedWith = new ClosedError('the SAM connection was handed over')
    const s = this.socket
    s.off('readable', this.pump)
    s.off('end', this.onEnd)
    s.off('error', this.onError)
    s.off('close', this.onClose)
    return { socket: s, head: this.splitter.takeRest() }
  }

  /** Destroys the socket (which ends a session created on it). Idempotent. */
  close (err?: Error): void {
    if (this.closed) return
    this.closedWith = err
    this.socket.destroy()
    this.onClose()
  }

  private closedError (): Error {
    if (this.closedWith instanceof UmbraError) return this.closedWith
    const why = this.lastUnsolicited !== '' ? ` (last said: ${this.lastUnsolicited})` : ''
    return new ClosedError(`the SAM connection closed${why}`, { cause: this.closedWith })
  }

  /**
   * Sends the first unsent request once every request before it is answered or given up on
   * (the bridge answers in order, so a late reply still goes to the one given up on).
   */
  private sendNext (): void {
    if (this.closed) return
    for (const p of this.queue) {
      if (!p.sent) { p.sent = true; this.socket.write(p.line); return }
      if (!p.abandoned) return
    }
  }

  private readonly pump = (): void => {
    try {
      while (!this.closed && !this.held) {
        if (this.step()) continue
        const chunk = this.socket.read() as Buffer | null
        if (chunk === null) return
        this.splitter.push(chunk)
      }
    } catch (err) {
      this.close(err instanceof Error ? err : new DecodeError(String(err)))
    }
  }

  /** Handles one buffered line or payload; false if more bytes are needed. */
  private step (): boolean {
    if (this.payload !== undefined) {
      const bytes = this.splitter.nextBytes(this.payload.size)
      if (bytes === undefined) return false
      const { style, args } = this.payload
      this.payload = undefined
      // A throwing listener is the application's bug: rethrow it outside the parser, which goes on.
      try { this.emit('datagram', { style, args, payload: bytes }) } catch (err) { process.nextTick(() => { throw err }) }
      return true
    }
    const text = this.splitter.nextLine()
    if (text === undefined) return false
    if (this.rawLine !== undefined) { this.rawLine.resolve(text.replace(/\r$/, '')); return true }
    this.onLine(parseLine(text))
    return true
  }

  private onLine (line: SamLine): void {
    if (line.verb === 'PING') { this.socket.write(`PONG${line.text !== '' ? ' ' + line.text : ''}\n`); return }
    if ((line.verb === 'DATAGRAM' || line.verb === 'RAW') && line.sub === 'RECEIVED') {
      const size = Number(line.args.get('SIZE'))
      if (!Number.isSafeInteger(size) || size < 0 || size > MAX_DATAGRAM_BYTES) throw new LimitError(`SAM ${line.verb} RECEIVED with SIZE=${line.args.get('SIZE') ?? '?'} (at most ${MAX_DATAGRAM_BYTES})`)
      this.payload = { style: line.verb, args: line.args, size }
      return
    }
    const head = this.queue[0]
    const matches = head !== undefined && head.sent && line.verb === head.expect[0] && line.sub === head.expect[1]
    const result = line.args.get('RESULT')
    const failed = result !== undefined && result !== 'OK'
    if (head === undefined || !head.sent || (!matches && !failed)) {
      if (line.verb === 'PONG') return // an answer to a ping that was given up on
      this.lastUnsolicited = `${line.verb} ${line.sub} ${result ?? ''}`.trim()
      if (head !== undefined && head.sent) throw new DecodeError(`unexpected SAM reply ${line.verb} ${line.sub} to ${head.expect.join(' ')}`)
      return
    }
    this.queue.shift()
    if (failed) head.reject(new SamError(result, line.args.get('MESSAGE') ?? ''))
    else head.resolve(line)
    if (head.hold && !failed) this.held = true
    this.sendNext()
  }

  private readonly onEnd = (): void => { this.close() }
  private readonly onError = (err: Error): void => { this.close(new ClosedError(`the SAM connection failed: ${err.message}`, { cause: err })) }

  private readonly onClose = (): void => {
    if (this.closed) return
    this.closed = true
    this.socket.destroy()
    const err = this.closedError()
    for (const p of this.queue.splice(0)) p.reject(err)
    this.rawLine?.reject(err)
    this.rawLine = undefined
    this.emit('close', this.closedWith)
  }
}

/** Gives a deadline's TimeoutError a message that says what timed out. */
function rename (err: unknown, what: string, timeoutMs: number): unknown {
  if (err instanceof TimeoutError && err.message === 'operation timed out') return new TimeoutError(`${what} timed out after ${timeoutMs} ms`, { cause: err })
  if (err instanceof Error && !(err instanceof UmbraError) && err.name === 'TimeoutError') return new TimeoutError(`${what} timed out after ${timeoutMs} ms`, { cause: err })
  return err
}
