/**
 * The SAM client's public API: {@link createSession} and the {@link Session} it returns, with
 * streams (connect, accept, listen, forward), datagrams (send, and 'datagram' events read from
 * the control socket), name lookups and ping. Each stream operation opens its own SAM connection,
 * as the protocol requires; the session ends when its control connection closes. One-shot
 * commands without a session (DEST GENERATE, NAMING LOOKUP) are in `oneshot.ts`.
 */
import type * as net from 'node:net'
import * as dgram from 'node:dgram'
import { isIPv6 } from 'node:net'
import { EventEmitter } from 'node:events'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { formatLine } from '../sam/line.ts'
import { SamConnection, SamError, DEFAULT_HOST, type ReceivedDatagram } from './connection.ts'
import { b32AddressOf, isBase64Destination, publicFromPrivate } from './address.ts'
import { parsePeerLine, type SamClientOptions, connectOptions } from './oneshot.ts'
import { ClosedError, ConfigError, DecodeError, LimitError, TransportError } from '../../util/errors.ts'
import { withTimeout } from '../../util/abort.ts'

/** Kinds of session this client makes. */
export type SessionStyle = 'STREAM' | 'DATAGRAM' | 'RAW'

/** Options of {@link createSession}. */
export interface SessionOptions extends SamClientOptions {
  /** Default STREAM. */
  style?: SessionStyle
  /** Session nickname, unique on the bridge; default 12 random characters from `A-Za-z0-9_-`. */
  id?: string
  /** Base64 private key to reuse a destination; default TRANSIENT (a new Ed25519 one). */
  privateKey?: string
  /** Tunnel shape, sent as `inbound.length=` etc. */
  inboundLength?: number
  outboundLength?: number
  inboundQuantity?: number
  outboundQuantity?: number
  /** More I2CP/streaming options, passed through as given. */
  options?: Record<string, string>
  /** I2CP ports (3.2+) and the RAW protocol (default 18 on the bridge). */
  fromPort?: number
  toPort?: number
  protocol?: number
  /** SESSION CREATE waits until tunnels are built; default 120_000 ms. */
  createTimeoutMs?: number
}

/** A received datagram ('datagram' event). */
export interface Datagram {
  /** The sender's base64 destination; DATAGRAM (repliable) sessions only. */
  from?: string
  payload: Buffer
  fromPort: number
  toPort: number
  /** RAW sessions, when the bridge says. */
  protocol?: number
}

/** A stream that arrived through {@link Session.accept}. */
export interface AcceptedStream {
  socket: net.Socket
  /** The peer's base64 destination. */
  remote: string
  fromPort?: number
  toPort?: number
}

/** Events of a {@link Session}. 'error' is only emitted when a listener is attached. */
export interface SessionEvents {
  datagram: [Datagram]
  close: []
  error: [Error]
}

const MAX_PAYLOAD = 32 * 1024
const MAX_CACHED_NAMES = 256
const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'

/** Creates a session on the bridge (waiting for its tunnels). Throws SamError, TimeoutError, AbortError, ClosedError, ConfigError. */
export async function createSession (opts: SessionOptions = {}): Promise<Session> {
  const style = opts.style ?? 'STREAM'
  if (!['STREAM', 'DATAGRAM', 'RAW'].includes(style)) throw new ConfigError(`unknown session style ${style}`)
  const id = opts.id ?? Array.from(randomBytes(12), b => ID_CHARS[b & 63]).join('')
  if (!/^[A-Za-z0-9_.~-]{1,64}$/.test(id)) throw new ConfigError(`session id must be 1-64 characters from A-Za-z0-9_.~-, got ${JSON.stringify(id)}`)
  const conn = await SamConnection.open(connectOptions(opts))
  try {
    const transient = opts.privateKey === undefined
    const pairs: Array<[string, string | number | undefined]> = [
      ['STYLE', style], ['ID', id], ['DESTINATION', opts.privateKey ?? 'TRANSIENT'], ['SIGNATURE_TYPE', transient ? 7 : undefined],
      ['FROM_PORT', opts.fromPort], ['TO_PORT', opts.toPort], ['PROTOCOL', style === 'RAW' ? opts.protocol : undefined],
      ['inbound.length', opts.inboundLength], ['outbound.length', opts.outboundLength],
      ['inbound.quantity', opts.inboundQuantity], ['outbound.quantity', opts.outboundQuantity],
      ...Object.entries(opts.options ?? {})
    ]
    const reply = await conn.request(formatLine(['SESSION', 'CREATE'], pairs), ['SESSION', 'STATUS'],
      { timeoutMs: opts.createTimeoutMs ?? 120_000, signal: opts.signal, hold: true })
    const privateKey = reply.args.get('DESTINATION') ?? opts.privateKey
    if (privateKey === undefined || privateKey === '') throw new DecodeError('SESSION STATUS RESULT=OK without DESTINATION')
    const destination = publicFromPrivate(privateKey)
    return new Session(conn, { id, style, privateKey, destination, address: b32AddressOf(destination) }, opts)
  } catch (err) {
    conn.close()
    throw err
  }
}

/**
 * A SAM session: a destination with tunnels, alive as long as its control connection.
 * Emits 'datagram' (DATAGRAM/RAW sessions), 'close' once when it ends for any reason, and
 * 'error' (why it ended, or a failed {@link listen} accept) only if an 'error' listener is
 * attached, so an unobserved session never throws an unhandled 'error' event.
 */
export class Session extends EventEmitter<SessionEvents> {
  /** Session nickname on the bridge. */
  readonly id: string
  readonly style: SessionStyle
  /** Own public destination, I2P base64. */
  readonly destination: string
  /** Own private key, I2P base64 (keep it to reuse the destination). */
  readonly privateKey: string
  /** Own `<52>.b32.umbra` address. */
  readonly address: string
  private readonly opts: SessionOptions
  private readonly sockets = new Set<net.Socket>()
  private readonly conns = new Set<SamConnection>()
  private readonly listenLoops = new Set<{ close: () => Promise<void> }>()
  private readonly names = new Map<string, string>()
  private udp: dgram.Socket | undefined
  private closed = false

  /** @internal Use {@link createSession}. */
  constructor (private readonly conn: SamConnection, info: { id: string, style: SessionStyle, privateKey: string, destination: string, address: string }, opts: SessionOptions) {
    super()
    this.id = info.id
    this.style = info.style
    this.privateKey = info.privateKey
    this.destination = info.destination
    this.address = info.address
    this.opts = opts
    conn.on('datagram', (d) => { this.emit('datagram', toDatagram(d)) })
    conn.on('close', (err) => { this.shutdown(new ClosedError(`session ${this.id}: the SAM control connection closed`, { cause: err })) })
    conn.resume()
  }

  private get timeoutMs (): number { return this.opts.timeoutMs ?? 30_000 }

  /**
   * Opens a stream to `dest` (base64, `<b32>.b32.umbra`/`.b32.i2p`, or a name the bridge knows).
   * Resolves with the socket carrying the stream. It is half-open capable: after 'end', call
   * `end()` yourself. Throws SamError (CANT_REACH_PEER, INVALID_KEY, …), TimeoutError (default
   * 60 s), AbortError, ClosedError.
   */
  async connect (dest: string, opts: { fromPort?: number, toPort?: number, timeoutMs?: number, signal?: AbortSignal } = {}): Promise<net.Socket> {
    const timeoutMs = opts.timeoutMs ?? 60_000
    const signal = withTimeout(timeoutMs, opts.signal)
    const conn = await this.openSide(timeoutMs, signal)
    try {
      await conn.request(formatLine(['STREAM', 'CONNECT'], [['ID', this.id], ['DESTINATION', dest], ['SILENT', 'false'], ['FROM_PORT', opts.fromPort], ['TO_PORT', opts.toPort]]),
        ['STREAM', 'STATUS'], { timeoutMs, signal, hold: true })
      return this.adopt(conn)
    } catch (err) {
      conn.close()
      throw err
    } finally { this.conns.delete(conn) }
  }

  /**
   * Waits for one incoming stream (STREAM ACCEPT on its own connection). The wait for a peer
   * is bounded only by `signal` and the session's life; the ACCEPT itself by `timeoutMs`.
   * Throws SamError, TimeoutError, AbortError, ClosedError.
   */
  async accept (opts: { signal?: AbortSignal } = {}): Promise<AcceptedStream> {
    const conn = await this.openSide(this.timeoutMs, withTimeout(this.timeoutMs, opts.signal))
    try {
      await conn.request(formatLine(['STREAM', 'ACCEPT'], [['ID', this.id], ['SILENT', 'false']]), ['STREAM', 'STATUS'],
        { timeoutMs: this.timeoutMs, signal: opts.signal, hold: true })
      const peer = parsePeerLine(await conn.readLine(opts.signal))
      return { socket: this.adopt(conn), ...peer }
    } catch (err) {
      conn.close()
      throw err
    } finally { this.conns.delete(conn) }
  }

  /**
   * Has the bridge open a TCP connection to `host:port` for every incoming stream (STREAM
   * FORWARD; the first line there is the peer destination unless `silent`). Forwarding lasts
   * until `close()` or the session's end. Not allowed together with accept()/listen().
   */
  async forward (port: number, opts: { host?: string, silent?: boolean } = {}): Promise<{ close: () => Promise<void> }> {
    const conn = await this.openSide(this.timeoutMs, withTimeout(this.timeoutMs))
    try {
      await conn.request(formatLine(['STREAM', 'FORWARD'], [['ID', this.id], ['PORT', port], ['HOST', opts.host], ['SILENT', opts.silent === true]]),
        ['STREAM', 'STATUS'], { timeoutMs: this.timeoutMs })
    } catch (err) {
      conn.close()
      this.conns.delete(conn)
      throw err
    }
    conn.once('close', () => { this.conns.delete(conn) })
    return { close: async () => { conn.close() } }
  }

  /**
   * Keeps `concurrency` (default 4) ACCEPTs pending and calls `onStream` for each incoming
   * stream, re-arming after each. Failures are reported as 'error' events (if listened for) and
   * retried after a second; after close() or the session's end they are swallowed.
   */
  listen (onStream: (socket: net.Socket, remote: string, ports: { fromPort?: number, toPort?: number }) => void, opts: { concurrency?: number } = {}): { close: () => Promise<void> } {
    const ac = new AbortController()
    const worker = async (): Promise<void> => {
      while (!ac.signal.aborted && !this.closed) {
        try {
          const s = await this.accept({ signal: ac.signal })
          try { onStream(s.socket, s.remote, { fromPort: s.fromPort, toPort: s.toPort }) } catch (err) { s.socket.destroy(); this.report(err) }
        } catch (err) {
          if (ac.signal.aborted || this.closed) return
          this.report(err)
          await sleep(1000, undefined, { signal: ac.signal }).catch(() => {})
        }
      }
    }
    const workers = Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker)
    const handle = { close: async () => { ac.abort(); await Promise.allSettled(workers); this.listenLoops.delete(handle) } }
    this.listenLoops.add(handle)
    return handle
  }

  /**
   * Sends one datagram (one UDP packet to the bridge's datagram port). DATAGRAM and RAW sessions
   * only. `dest` may be a name or b32 address; it is looked up first (and cached). Delivery is
   * not confirmed. Throws ConfigError (STREAM session), LimitError (payload not 1..32768
   * bytes), SamError (lookup), TransportError, ClosedError. An Umbra router sends at most
   * 14 186 bytes repliable and 16 265 raw (what one message through tunnels holds, docs/sam.md);
   * it drops a larger one, counted in its bridge's failed sends (there is no reply over UDP).
   */
  async send (dest: string, payload: Uint8Array, opts: { fromPort?: number, toPort?: number, protocol?: number } = {}): Promise<void> {
    if (this.closed) throw new ClosedError(`session ${this.id} is closed`)
    if (this.style === 'STREAM') throw new ConfigError('send() needs a DATAGRAM or RAW session')
    if (payload.length < 1 || payload.length > MAX_PAYLOAD) throw new LimitError(`datagram payload of ${payload.length} bytes (1..${MAX_PAYLOAD})`)
    const to = isBase64Destination(dest) ? dest : await this.resolve(dest)
    const header = formatLine(['3.0', this.id, to], [['FROM_PORT', opts.fromPort], ['TO_PORT', opts.toPort], ['PROTOCOL', opts.protocol]])
    const host = this.opts.host ?? DEFAULT_HOST
    if (this.udp === undefined) {
      this.udp = dgram.createSocket(isIPv6(host) ? 'udp6' : 'udp4')
      this.udp.on('error', (err) => { this.report(err) })
    }
    const udp = this.udp
    await new Promise<void>((resolve, reject) => {
      udp.send([Buffer.from(header), payload], this.opts.udpPort ?? 7655, host, (err) => {
        if (err !== null) reject(new TransportError(`cannot send a datagram to ${host}: ${err.message}`, { cause: err })); else resolve()
      })
    })
  }

  /** NAMING LOOKUP on the control connection: a name or b32 to a base64 destination; 'ME' is this session. Throws SamError (KEY_NOT_FOUND, INVALID_KEY, …), TimeoutError, ClosedError. */
  async lookup (name: string): Promise<string> {
    const reply = await this.conn.request(formatLine(['NAMING', 'LOOKUP'], [['NAME', name]]), ['NAMING', 'REPLY'], { timeoutMs: this.timeoutMs })
    const value = reply.args.get('VALUE')
    if (value === undefined || value === '') throw new DecodeError(`NAMING REPLY for ${name} without VALUE`)
    return value
  }

  /** PING/PONG on the control connection (bridge speaks SAM 3.2+). Throws SamError (NOVERSION), TimeoutError, ClosedError. */
  async ping (): Promise<void> {
    if (Number(this.conn.version) < 3.2) throw new SamError('NOVERSION', `PING needs SAM 3.2, the bridge speaks ${this.conn.version}`)
    const token = randomBytes(8).toString('hex')
    const reply = await this.conn.request(`PING ${token}\n`, ['PONG', ''], { timeoutMs: this.timeoutMs })
    if (reply.text !== token) throw new DecodeError(`PONG ${reply.text} does not answer PING ${token}`)
  }

  /** Ends the session: closes the control connection and every socket and connection it made. Idempotent; emits 'close' once. */
  async close (): Promise<void> {
    const listening = [...this.listenLoops].map(async l => { await l.close() })
    this.shutdown(undefined)
    await Promise.allSettled(listening)
  }

  private shutdown (err: Error | undefined): void {
    if (this.closed) return
    this.closed = true
    this.conn.close()
    for (const c of this.conns) c.close()
    for (const s of this.sockets) s.destroy()
    this.conns.clear()
    this.sockets.clear()
    this.udp?.close()
    if (err !== undefined) this.report(err)
    this.emit('close')
  }

  private report (err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', err instanceof Error ? err : new Error(String(err)))
  }

  private async resolve (name: string): Promise<string> {
    const hit = this.names.get(name)
    if (hit !== undefined) return hit
    const value = await this.lookup(name)
    if (this.names.size >= MAX_CACHED_NAMES) this.names.delete(this.names.keys().next().value as string)
    this.names.set(name, value)
    return value
  }

  /** A new connection (HELLO done) that close() will close too. */
  private async openSide (timeoutMs: number, signal: AbortSignal): Promise<SamConnection> {
    if (this.closed) throw new ClosedError(`session ${this.id} is closed`)
    const conn = await SamConnection.open({ ...connectOptions(this.opts), timeoutMs, signal })
    if (this.closed) { conn.close(); throw new ClosedError(`session ${this.id} is closed`) }
    this.conns.add(conn)
    return conn
  }

  /** Turns a connection that said STREAM STATUS RESULT=OK into the stream's socket. */
  private adopt (conn: SamConnection): net.Socket {
    const { socket, head } = conn.detach()
    if (head.length > 0) socket.unshift(head)
    this.sockets.add(socket)
    socket.once('close', () => { this.sockets.delete(socket) })
    return socket
  }
}

function toDatagram (d: ReceivedDatagram): Datagram {
  const num = (k: string): number | undefined => { const v = d.args.get(k); return v === undefined || v === '' ? undefined : Number(v) }
  const out: Datagram = { payload: d.payload, fromPort: num('FROM_PORT') ?? 0, toPort: num('TO_PORT') ?? 0 }
  const from = d.args.get('DESTINATION')
  if (d.style === 'DATAGRAM' && from !== undefined) out.from = from
  const protocol = num('PROTOCOL')
  if (protocol !== undefined) out.protocol = protocol
  return out
}
