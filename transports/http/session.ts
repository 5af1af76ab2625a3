/**
 * The server side of one HTTP session: a Conn fed by the client's requests, in stream mode
 * (one long chunked POST up, one long chunked GET down) or poll mode (sequenced POSTs up,
 * long-polled GETs down with offsets; see wire.ts). It owns no sockets and no routing: the
 * listener (server.ts) finds the session and hands it each request. Bytes queued for the
 * client are bounded (`maxBufferedBytes`); past it the session closes with LimitError.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ClosedError, LimitError, TransportError } from '../../src/util/errors.ts'
import { HttpConnBase } from './conn-base.ts'
import { ByteQueue } from './byte-queue.ts'
import { H_FIN, H_OFFSET, readBody } from './wire.ts'

/** Limits of one server session (see HttpServerOptions for meanings). */
export interface SessionOptions {
  maxBufferedBytes: number
  highWater: number
  pollWaitMs: number
  maxPostBytes: number
  maxResponseBytes: number
}

/** A coarse clock the listener advances; sessions stamp activity with it. */
export interface Ticker { tick: number }

const noop = (): void => {}

/** Answers a request with an empty body. */
export function reply (res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return
  res.writeHead(status, { 'Content-Length': '0', 'Cache-Control': 'no-store', ...headers })
  res.end()
}

/** The server end of a session (see module doc). */
export class ServerSession extends HttpConnBase {
  /** Ticker value of the last request or byte. */
  lastActive: number
  /** Ticker value at creation. */
  readonly born: number
  /** Whether both halves arrived (stream) or the open POST did (poll) and onConn ran. */
  up = false
  /** Whether the listener may forget this session. */
  done = false
  // stream mode
  private upReq: IncomingMessage | undefined
  private upRes: ServerResponse | undefined
  private downRes: ServerResponse | undefined
  // poll mode
  private nextSeq = 1
  private readonly outbox = new ByteQueue()
  private poll: { res: ServerResponse, ack: number, timer: NodeJS.Timeout } | undefined
  private flushScheduled = false

  constructor (
    readonly sid: string,
    readonly mode: 'stream' | 'poll',
    remote: string,
    private readonly opts: SessionOptions,
    private readonly clock: Ticker,
    private readonly onUp: (s: ServerSession) => void,
    private readonly onDone: (s: ServerSession) => void
  ) {
    super(remote, opts.maxBufferedBytes)
    this.lastActive = this.born = clock.tick
  }

  get bufferedAmount (): number {
    if (this.closed) return 0
    return this.mode === 'poll' ? this.outbox.length : this.downRes?.writableLength ?? 0
  }

  /** Whether a stream-mode upload is attached already. */
  get hasUp (): boolean { return this.upReq !== undefined }
  /** Whether a stream-mode download is attached already. */
  get hasDown (): boolean { return this.downRes !== undefined }

  send (data: Uint8Array): boolean {
    if (this.closed) throw new ClosedError('http conn is closed')
    if (this.bufferedAmount + data.byteLength > this.opts.maxBufferedBytes) {
      const err = new LimitError(`more than ${this.opts.maxBufferedBytes} bytes queued for the client`)
      this.close(err)
      throw err
    }
    this.lastActive = this.clock.tick
    let ok: boolean
    if (this.mode === 'stream') {
      ok = (this.downRes as ServerResponse).write(Buffer.from(data)) // copy: the caller may reuse data
    } else {
      this.outbox.push(data)
      if (this.poll !== undefined && !this.flushScheduled) {
        // Answer the waiting poll on the next turn, so that a burst of sends shares one answer.
        this.flushScheduled = true
        setImmediate(this.flushPoll)
      }
      ok = this.outbox.length < this.opts.highWater
    }
    if (!ok) this.needDrain = true
    return ok
  }

  /** Stream mode: the long upload. */
  attachUp (req: IncomingMessage, res: ServerResponse): void {
    this.upReq = req
    this.upRes = res
    this.lastActive = this.clock.tick
    req.on('error', noop)
    res.on('error', noop)
    req.on('data', (d: Buffer) => { this.lastActive = this.clock.tick; this.deliver(d) })
    req.on('end', () => { reply(res, 204); this.close() })
    req.on('close', () => { if (!req.complete) this.close(new TransportError('upload cut short')) })
    this.maybeUp()
  }

  /** Stream mode: the long download. */
  attachDown (res: ServerResponse): void {
    this.downRes = res
    this.lastActive = this.clock.tick
    res.on('error', noop)
    res.on('drain', () => { this.drained() })
    res.on('close', () => { if (!res.writableFinished) this.close(new TransportError('download cut short')) })
    this.maybeUp()
  }

  /** Poll mode: the opening POST (seq 0) created this session. */
  open (): void {
    this.up = true
    this.onUp(this)
  }

  /** Poll mode: one sequenced upload. */
  async handleUp (req: IncomingMessage, res: ServerResponse, seq: number, fin: boolean): Promise<void> {
    this.lastActive = this.clock.tick
    let body: Buffer
    try {
      body = await readBody(req, this.opts.maxPostBytes)
    } catch (err) {
      if (err instanceof LimitError) reply(res, 413, { Connection: 'close' })
      return
    }
    this.lastActive = this.clock.tick
    if (seq > this.nextSeq) { reply(res, 409); return }
    if (seq === this.nextSeq && !this.closed) {
      this.nextSeq++
      this.deliver(body)
      if (fin) {
        this.close()
        this.finish()
      }
    }
    reply(res, 200) // also for a repeated seq, and after our own close (the client learns it by poll)
  }

  /** Poll mode: one long poll for bytes from `ack` on. */
  handleDown (res: ServerResponse, ack: number): void {
    this.lastActive = this.clock.tick
    res.on('error', noop)
    if (this.poll !== undefined) this.answerPoll() // superseded by this one
    if (ack < this.outbox.start || ack > this.outbox.end) { reply(res, 409); return }
    this.outbox.dropTo(ack)
    if (this.outbox.length < this.opts.highWater >>> 1) this.drained()
    if (this.outbox.end > ack || this.closed) { this.respond(res, ack); return }
    const timer = setTimeout(this.answerPoll, this.opts.pollWaitMs)
    this.poll = { res, ack, timer }
    res.on('close', () => {
      if (this.poll?.res !== res) return
      clearTimeout(this.poll.timer)
      this.poll = undefined
    })
  }

  protected teardown (err?: Error): void {
    if (this.mode === 'poll') {
      // A clean close reaches the client as X-Umbra-Fin on its next poll; until then the
      // session lingers (bounded by the listener). After an error it goes at once: the
      // client's next request gets 404 and fails too.
      if (this.poll !== undefined) this.answerPoll()
      if (err !== undefined) this.finish()
      return
    }
    const down = this.downRes
    if (down !== undefined && !down.writableEnded) {
      if (err !== undefined) down.destroy()
      else {
        if (!down.headersSent) down.writeHead(this.up ? 200 : 410, { 'Cache-Control': 'no-store' })
        down.end()
      }
    }
    const req = this.upReq
    if (req !== undefined && !req.complete) {
      if (err !== undefined) req.destroy()
      else {
        reply(this.upRes as ServerResponse, 204)
        // The client ends its upload when it sees the download end; do not wait forever.
        setTimeout(() => { req.destroy() }, 5000).unref()
      }
    }
    this.finish()
  }

  /** Marks the session forgettable and tells the listener. */
  finish (): void {
    if (this.done) return
    this.done = true
    this.onDone(this)
  }

  private maybeUp (): void {
    if (this.up || this.closed || this.upReq === undefined || this.downRes === undefined) return
    this.up = true
    this.downRes.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no'
    })
    this.downRes.flushHeaders()
    this.onUp(this)
  }

  private readonly flushPoll = (): void => {
    this.flushScheduled = false
    if (this.poll !== undefined) this.answerPoll()
  }

  private readonly answerPoll = (): void => {
    const p = this.poll
    if (p === undefined) return
    this.poll = undefined
    clearTimeout(p.timer)
    this.respond(p.res, p.ack)
  }

  private respond (res: ServerResponse, ack: number): void {
    if (res.headersSent || res.destroyed) return
    const body = this.outbox.read(ack, this.opts.maxResponseBytes)
    const fin = this.closed && ack + body.length === this.outbox.end
    const headers: Record<string, string> = {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(body.length),
      'Cache-Control': 'no-store',
      [H_OFFSET]: String(ack)
    }
    if (fin) headers[H_FIN] = '1'
    res.writeHead(200, headers)
    res.end(body)
    if (fin) this.finish()
  }
}
