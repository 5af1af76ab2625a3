/**
 * The HTTP transport: a reliable, ordered byte stream carried over plain HTTP/1.1 so that a
 * link passes where only web traffic does (the fallback of last resort). Addresses are
 * `http://host:port/prefix` (prefix default /umbra). The client dials in stream mode (two
 * long chunked requests) or poll mode (short complete requests, for buffering proxies); the
 * server (server.ts) accepts both and answers anything else like a plain web server.
 * `send` copies its input, so callers may reuse their buffers.
 * No TLS here (that would be an https transport) and no proxy support on the client side.
 */
import http from 'node:http'
import type { Conn, DialOptions, Listener, ListenOptions, Transport } from '../../src/link/transport.ts'
import { ClosedError } from '../../src/util/errors.ts'
import { throwIfAborted } from '../../src/util/abort.ts'
import { HTTP_MTU, type HttpConnBase } from './conn-base.ts'
import { HttpListener, type HttpServerOptions } from './server.ts'
import { dialStream } from './client-stream.ts'
import { PollClientConn, dialPoll, type PollClientOptions } from './client-poll.ts'
import { parseHttpAddr } from './wire.ts'

export type { HttpServerOptions } from './server.ts'

/** Options of {@link HttpTransport}: the client's mode and limits, and the server's. */
export interface HttpTransportOptions extends HttpServerOptions {
  /** How this transport dials: 'stream' (default) or 'poll' (through buffering proxies). */
  mode?: 'stream' | 'poll'
  /** Poll mode: most bytes per upload POST. Default 256 KiB (nginx's default body limit is 1 MiB). */
  postBytes?: number
  /** Poll mode: a single request taking longer than this is cut and retried. Default 45 000 ms. */
  pollTimeoutMs?: number
  /** Poll mode: tries of a failed request before the Conn closes. Default 4. */
  retries?: number
}

/** Cost bid for http:// addresses: the most expensive transport, used when nothing else works. */
export const HTTP_BID = 60

/** The HTTP transport (see module doc). */
export class HttpTransport implements Transport {
  readonly name = 'http' as const
  readonly reliable = true
  readonly mtu = HTTP_MTU
  private readonly mode: 'stream' | 'poll'
  private readonly server: Required<HttpServerOptions>
  private readonly poll: PollClientOptions
  private readonly pollAgent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 32 })
  private readonly streamAgent = new http.Agent({ keepAlive: false, maxSockets: Infinity })
  private readonly conns = new Set<HttpConnBase>()
  private readonly listeners = new Set<HttpListener>()
  private closed = false

  constructor (options: HttpTransportOptions = {}) {
    this.mode = options.mode ?? 'stream'
    this.server = {
      maxSessions: options.maxSessions ?? 1024,
      maxBufferedBytes: options.maxBufferedBytes ?? 8 * 1024 * 1024,
      highWater: options.highWater ?? 1024 * 1024,
      idleTimeoutMs: options.idleTimeoutMs ?? 120_000,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 15_000,
      pollWaitMs: options.pollWaitMs ?? 20_000,
      maxPostBytes: options.maxPostBytes ?? 1024 * 1024,
      maxResponseBytes: options.maxResponseBytes ?? 1024 * 1024,
      maxHeaderSize: options.maxHeaderSize ?? 16 * 1024
    }
    this.poll = {
      postBytes: options.postBytes ?? 256 * 1024,
      pollTimeoutMs: options.pollTimeoutMs ?? 45_000,
      retries: options.retries ?? 4,
      highWater: this.server.highWater,
      maxBufferedBytes: this.server.maxBufferedBytes,
      maxResponseBytes: this.server.maxResponseBytes + 1024
    }
  }

  bid (addr: string): number | undefined {
    try {
      parseHttpAddr(addr)
      return HTTP_BID
    } catch {
      return undefined
    }
  }

  async dial (addr: string, opts: DialOptions): Promise<Conn> {
    throwIfAborted(opts.signal)
    if (this.closed) throw new ClosedError('http transport is closed')
    const a = parseHttpAddr(addr)
    const conn = this.mode === 'poll'
      ? await dialPoll(a, this.pollAgent, opts.signal, this.poll)
      : await dialStream(a, this.streamAgent, opts.signal, this.server.maxBufferedBytes)
    if (this.closed) {
      conn.close(new ClosedError('http transport is closed'))
      throw new ClosedError('http transport is closed')
    }
    this.conns.add(conn)
    conn.onFinal = c => { this.conns.delete(c) }
    return conn
  }

  async listen (addr: string, onConn: (conn: Conn) => void, opts: ListenOptions = {}): Promise<Listener> {
    throwIfAborted(opts.signal)
    if (this.closed) throw new ClosedError('http transport is closed')
    const a = parseHttpAddr(addr)
    const l = await HttpListener.start(a.host, a.port, a.prefix, this.server, onConn)
    if (this.closed || opts.signal?.aborted === true) {
      await l.close()
      throwIfAborted(opts.signal)
      throw new ClosedError('http transport is closed')
    }
    this.listeners.add(l)
    const close = async (): Promise<void> => {
      this.listeners.delete(l)
      opts.signal?.removeEventListener('abort', onAbort)
      await l.close()
    }
    const onAbort = (): void => { void close() }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    return { addr: l.addr, close }
  }

  async close (): Promise<void> {
    this.closed = true
    const conns = [...this.conns]
    this.conns.clear()
    for (const c of conns) c.close()
    const ls = [...this.listeners]
    this.listeners.clear()
    // Let poll conns deliver their fin (bounded), then cut whatever is left.
    const polls = conns.filter(c => c instanceof PollClientConn)
    let timer: NodeJS.Timeout | undefined
    await Promise.all([
      ...ls.map(async l => { await l.close() }),
      Promise.race([
        Promise.all(polls.map(async c => { await c.settled })),
        new Promise(resolve => { timer = setTimeout(resolve, 1000) })
      ])
    ])
    clearTimeout(timer)
    for (const c of polls) c.abort()
    this.pollAgent.destroy()
    this.streamAgent.destroy()
  }
}
