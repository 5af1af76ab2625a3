/**
 * The HTTP transport's listener: a node:http server that routes `<prefix>/<sid>/up|down`
 * requests to server sessions (session.ts) and answers everything else like a plain web
 * server (404, 405). It bounds the number of sessions, expires idle and half-open ones, and
 * leaves malformed HTTP to node's parser (400/431 and a closed socket).
 * It does not speak the session protocol itself; see wire.ts for that.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { TransportError, TimeoutError } from '../../src/util/errors.ts'
import type { Conn } from '../../src/link/transport.ts'
import { ServerSession, reply, type SessionOptions, type Ticker } from './session.ts'
import { formatHttpAddr, intParam, parseRoute } from './wire.ts'

/** Options of the HTTP server side. */
export interface HttpServerOptions {
  /** Most concurrent sessions; further ones get 503. Default 1024. */
  maxSessions?: number
  /** Bytes queued per session, either way, before it closes with LimitError. Default 8 MiB. */
  maxBufferedBytes?: number
  /** `send` returns false above this many queued bytes. Default 1 MiB. */
  highWater?: number
  /** A session without traffic for this long is closed. Default 120 000 ms. */
  idleTimeoutMs?: number
  /** A stream session whose second half does not arrive within this is dropped. Default 15 000 ms. */
  handshakeTimeoutMs?: number
  /** How long a poll waits for bytes before an empty answer. Default 20 000 ms. */
  pollWaitMs?: number
  /** Largest poll-mode POST body accepted. Default 1 MiB. */
  maxPostBytes?: number
  /** Largest poll answer body. Default 1 MiB. */
  maxResponseBytes?: number
  /** Largest request header block (node's parser answers 431 above it). Default 16 KiB. */
  maxHeaderSize?: number
}

const SWEEP_MS = 1000

/** A listening HTTP endpoint and its sessions. */
export class HttpListener {
  readonly addr: string
  private readonly sessions = new Map<string, ServerSession>()
  private readonly clock: Ticker = { tick: 0 }
  private readonly sweepTimer: NodeJS.Timeout
  private closing: Promise<void> | undefined

  private constructor (
    private readonly server: http.Server,
    host: string,
    readonly prefix: string,
    private readonly opts: Required<HttpServerOptions>,
    private readonly onConn: (c: Conn) => void
  ) {
    this.addr = formatHttpAddr(host, (server.address() as AddressInfo).port, prefix)
    server.on('request', (req, res) => { this.route(req, res) })
    this.sweepTimer = setInterval(() => { this.sweep() }, SWEEP_MS)
    this.sweepTimer.unref()
  }

  /** Binds host:port and starts serving. Rejects with TransportError if it cannot bind. */
  static async start (host: string, port: number, prefix: string, opts: Required<HttpServerOptions>, onConn: (c: Conn) => void): Promise<HttpListener> {
    const server = http.createServer({
      requestTimeout: 0, // uploads and downloads are long-lived; sessions expire on their own
      headersTimeout: 20_000,
      keepAliveTimeout: 30_000,
      maxHeaderSize: opts.maxHeaderSize,
      noDelay: true
    })
    server.maxConnections = opts.maxSessions * 3 + 16
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => { reject(new TransportError(`cannot listen on ${host}:${port}`, { cause: err })) })
      server.listen({ host, port }, resolve)
    })
    server.on('error', () => {})
    return new HttpListener(server, host, prefix, opts, onConn)
  }

  /** Number of live sessions (for tests and status). */
  get size (): number { return this.sessions.size }

  /** Closes every session and the server. Idempotent. */
  async close (): Promise<void> {
    if (this.closing !== undefined) return await this.closing
    clearInterval(this.sweepTimer)
    this.closing = new Promise<void>(resolve => { this.server.close(() => { resolve() }) })
    for (const s of [...this.sessions.values()]) { s.close(); s.finish() }
    this.server.closeAllConnections()
    return await this.closing
  }

  private route (req: http.IncomingMessage, res: http.ServerResponse): void {
    res.on('error', () => {})
    req.on('error', () => {})
    const r = parseRoute(req.url ?? '', this.prefix)
    if (r === undefined || this.closing !== undefined) { reply(res, 404); return }
    const want = r.half === 'up' ? 'POST' : 'GET'
    if (req.method !== want) { reply(res, 405, { Allow: want }); return }
    let s = this.sessions.get(r.sid)
    const seq = intParam(r.query, 'seq')
    const ack = intParam(r.query, 'ack')
    const mode = (r.half === 'up' ? seq : ack) === undefined ? 'stream' : 'poll'
    if (Number.isNaN(seq) || Number.isNaN(ack) || (s !== undefined && s.mode !== mode)) { reply(res, 400); return }
    if (mode === 'poll') {
      if (s === undefined) {
        if (r.half !== 'up' || seq !== 0) { reply(res, 404); return }
        s = this.create(r.sid, 'poll', req, res)
        if (s === undefined) return
        s.open()
      }
      if (r.half === 'up') void s.handleUp(req, res, seq as number, r.query.get('fin') === '1')
      else s.handleDown(res, ack as number)
      return
    }
    s ??= this.create(r.sid, 'stream', req, res)
    if (s === undefined) return
    if (s.closed || (r.half === 'up' ? s.hasUp : s.hasDown)) { reply(res, 409); return }
    if (r.half === 'up') s.attachUp(req, res)
    else s.attachDown(res)
  }

  private create (sid: string, mode: 'stream' | 'poll', req: http.IncomingMessage, res: http.ServerResponse): ServerSession | undefined {
    if (this.sessions.size >= this.opts.maxSessions) {
      reply(res, 503, { 'Retry-After': '5' })
      return undefined
    }
    const sock = req.socket
    const remote = formatHttpAddr(sock.remoteAddress ?? 'unknown', sock.remotePort ?? 0, '')
    const s = new ServerSession(sid, mode, remote, this.opts as SessionOptions, this.clock, this.up, this.forget)
    this.sessions.set(sid, s)
    return s
  }

  private readonly up = (s: ServerSession): void => {
    try {
      this.onConn(s)
    } catch (err) {
      s.close(err instanceof Error ? err : new Error(String(err)))
    }
  }

  private readonly forget = (s: ServerSession): void => {
    if (this.sessions.get(s.sid) === s) this.sessions.delete(s.sid)
  }

  private sweep (): void {
    const now = ++this.clock.tick
    const idle = Math.ceil(this.opts.idleTimeoutMs / SWEEP_MS)
    const hs = Math.ceil(this.opts.handshakeTimeoutMs / SWEEP_MS)
    const linger = Math.ceil(2 * this.opts.pollWaitMs / SWEEP_MS)
    for (const s of [...this.sessions.values()]) {
      if (s.closed) {
        // Closed poll sessions wait for the client to collect their fin, not forever.
        if (now - s.lastActive > linger) s.finish()
      } else if (!s.up && now - s.born > hs) {
        s.close(new TimeoutError('session handshake timed out'))
        s.finish()
      } else if (now - s.lastActive > idle) {
        s.close(new TimeoutError('session idle'))
        s.finish()
      }
    }
  }
}
