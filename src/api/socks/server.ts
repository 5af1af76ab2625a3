/**
 * The SOCKS5 proxy: a TCP server that speaks the handshake of `protocol.ts` with local
 * applications and relays each CONNECT to a stream opened by the caller's `connect` (the
 * streaming layer, to an Umbra destination). There is no clearnet exit: only names that `allow`
 * accepts (default `*.b32.umbra`, `*.b32.i2p`) reach `connect`; IP addresses and other names get
 * NOT_ALLOWED.
 *
 * Like the control API it binds loopback unless the caller passes `allowRemote`. It is bounded:
 * `maxClients` connections, a deadline for the handshake and for `connect`, and optionally an
 * idle timeout on relayed connections. Destinations and credentials are never logged.
 * Connect failures map to replies by `err.name` (see {@link socksReplyFor}). A client that
 * closes (even half-closes) before its reply has given up: its pending connect is aborted.
 * Relayed connections half-close both ways. Wire details: `docs/socks.md`.
 */
import { timingSafeEqual } from 'node:crypto'
import * as net from 'node:net'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { isLoopbackHost } from '../../util/net.ts'
import { AbortError, ConfigError, TimeoutError } from '../../util/errors.ts'
import { silentLogger, type Logger } from '../../util/log.ts'
import { encodeReply, SocksHandshake, SocksReply, type SocksAction, type SocksReplyCode } from './protocol.ts'
import { corkPerTick } from '../splice.ts'

/** Where a client asked to connect. */
export interface SocksTarget { host: string, port: number }

/** Options of {@link startSocksServer}. */
export interface SocksOptions {
  /** Address to bind. Default `127.0.0.1`; non-loopback only with `allowRemote` (else ConfigError). */
  host?: string
  /** Port; 0 picks a free one (see {@link SocksServer.port}). Default 4447. */
  port?: number
  /** Allow binding a non-loopback address. */
  allowRemote?: boolean
  /** When set, clients must authenticate with one of these (RFC 1929); otherwise only no-auth is offered. Names and passwords are 1..255 UTF-8 bytes. */
  users?: ReadonlyMap<string, string> | Record<string, string>
  /** Opens the stream to an allowed target. Rejects with a typed error (see {@link socksReplyFor}). */
  connect: (target: SocksTarget, signal: AbortSignal) => Promise<Duplex>
  /** Which hosts may be connected at all. Default {@link defaultSocksAllow}. Others get NOT_ALLOWED without calling `connect`. */
  allow?: (host: string) => boolean
  /** Most client connections at once; over it, new TCP connections are closed at once. Default 256. */
  maxClients?: number
  /** Time for greeting + auth + request (ms). Default 10 000. */
  handshakeTimeoutMs?: number
  /** `connect` is aborted after this long and the client gets TTL_EXPIRED (ms). Default 60 000. */
  connectTimeoutMs?: number
  /** A relayed connection with no bytes either way for this long is closed (ms); 0 = never (default). */
  idleTimeoutMs?: number
  /** Connection outcomes at debug level (no hosts, no credentials). */
  log?: Logger
}

/** Counters of a {@link SocksServer}. */
export interface SocksStats {
  /** TCP connections taken on (under `maxClients`). */
  accepted: number
  /** Connections turned away before `connect`: over `maxClients`, protocol errors, failed auth, refused commands or hosts, handshake timeouts, clients leaving mid-handshake. */
  rejected: number
  /** Requests whose `connect` succeeded and that were relayed. */
  connected: number
  /** Requests whose `connect` rejected or timed out. */
  failed: number
  /** Client connections open now. */
  active: number
}

/** A running SOCKS5 proxy. */
export interface SocksServer {
  /** The bound address. */
  readonly host: string
  /** The bound port (the real one when 0 was asked). */
  readonly port: number
  /** A snapshot of the counters. */
  readonly stats: SocksStats
  /** Stops listening, destroys every client socket and open target stream, aborts pending connects. Idempotent. */
  close (): Promise<void>
}

/** Default SOCKS port (I2P's). */
export const DEFAULT_SOCKS_PORT = 4447
/** After a refusal or the target's close, time the client has to take our last bytes and close. */
const LINGER_MS = 2000
/** Most bytes read from a client while its connect is pending; then reading pauses. */
const MAX_EARLY_BYTES = 64 * 1024
const DESTINATION = /^[a-z0-9][a-z0-9.-]*\.b32\.(?:umbra|i2p)$/i

/** The default `allow`: names ending in `.b32.umbra` or `.b32.i2p` (case-insensitive), made of letters, digits, `-` and `.`. */
export function defaultSocksAllow (host: string): boolean {
  return DESTINATION.test(host)
}

/**
 * The reply for a `connect` rejection, by `err.name`: NotFoundError, DecodeError →
 * HOST_UNREACHABLE; ConnectionRefusedError → CONNECTION_REFUSED; TimeoutError (or AbortError
 * when our connect deadline fired) → TTL_EXPIRED; anything else → GENERAL_FAILURE.
 */
export function socksReplyFor (err: unknown, connectTimedOut = false): SocksReplyCode {
  const name = typeof err === 'object' && err !== null ? (err as { name?: unknown }).name : undefined
  switch (name) {
    case 'NotFoundError': case 'DecodeError': return SocksReply.HOST_UNREACHABLE
    case 'ConnectionRefusedError': return SocksReply.CONNECTION_REFUSED
    case 'TimeoutError': return SocksReply.TTL_EXPIRED
    case 'AbortError': return connectTimedOut ? SocksReply.TTL_EXPIRED : SocksReply.GENERAL_FAILURE
    default: return SocksReply.GENERAL_FAILURE
  }
}

/** What each client handler needs. */
interface Ctx {
  readonly connect: SocksOptions['connect']
  readonly allow: (host: string) => boolean
  readonly users: ReadonlyArray<readonly [Buffer, Buffer]> | undefined
  readonly handshakeTimeoutMs: number
  readonly connectTimeoutMs: number
  readonly idleTimeoutMs: number
  readonly log: Logger
  readonly stats: Omit<SocksStats, 'active'>
  readonly clients: Set<net.Socket>
  readonly targets: Set<Duplex>
}

/** Starts the proxy; rejects with ConfigError on bad options or an address it cannot bind. */
export async function startSocksServer (opts: SocksOptions): Promise<SocksServer> {
  const host = opts.host ?? '127.0.0.1'
  const port = opts.port ?? DEFAULT_SOCKS_PORT
  if (opts.allowRemote !== true && !isLoopbackHost(host)) {
    throw new ConfigError(`SOCKS: refusing to bind non-loopback address '${host}' (anyone reaching it could use your tunnels; pass allowRemote to do it anyway)`)
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`SOCKS: port must be 0..65535, got ${port}`)
  if (typeof opts.connect !== 'function') throw new ConfigError('SOCKS: a connect function is required')
  const ctx: Ctx = {
    connect: opts.connect,
    allow: opts.allow ?? defaultSocksAllow,
    users: opts.users === undefined ? undefined : credentials(opts.users),
    handshakeTimeoutMs: count(opts.handshakeTimeoutMs ?? 10_000, 'handshakeTimeoutMs', 1),
    connectTimeoutMs: count(opts.connectTimeoutMs ?? 60_000, 'connectTimeoutMs', 1),
    idleTimeoutMs: count(opts.idleTimeoutMs ?? 0, 'idleTimeoutMs', 0),
    log: opts.log ?? silentLogger,
    stats: { accepted: 0, rejected: 0, connected: 0, failed: 0 },
    clients: new Set(),
    targets: new Set()
  }
  const maxClients = count(opts.maxClients ?? 256, 'maxClients', 1)
  let closing: Promise<void> | undefined

  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    socket.on('error', () => {})
    if (closing !== undefined || ctx.clients.size >= maxClients) {
      ctx.stats.rejected++
      socket.destroy()
      return
    }
    ctx.stats.accepted++
    ctx.clients.add(socket)
    serveClient(socket, ctx)
  })
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new ConfigError(`SOCKS cannot listen on ${host}:${port}: ${err.code === 'EADDRINUSE' ? 'address in use' : err.code ?? err.message}`, { cause: err }))
    }
    server.once('error', onError)
    server.listen({ host, port }, () => { server.off('error', onError); resolve() })
  })
  server.on('error', (err) => { ctx.log.warn('SOCKS server error', { error: err.message }) })
  const addr = server.address() as AddressInfo
  return {
    host: addr.address,
    port: addr.port,
    get stats () { return { ...ctx.stats, active: ctx.clients.size } },
    close: async () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => { resolve() })
        for (const s of ctx.clients) s.destroy()
        for (const t of ctx.targets) t.destroy()
      })
      await closing
    }
  }
}

/** Runs one client connection: handshake, connect, relay. */
function serveClient (socket: net.Socket, ctx: Ctx): void {
  const hs = new SocksHandshake({ requireAuth: ctx.users !== undefined })
  let phase: 'handshake' | 'connecting' | 'relay' | 'closing' = 'handshake'
  let timer: NodeJS.Timeout | undefined = setTimeout(() => {
    ctx.stats.rejected++
    ctx.log.debug('SOCKS handshake timeout')
    socket.destroy()
  }, ctx.handshakeTimeoutMs)
  let aborter: AbortController | undefined
  let target: Duplex | undefined
  /** What the client sent after its request, for the target; read on during connect to notice a client leaving. */
  const early: Uint8Array[] = []
  let earlyBytes = 0

  /** Ends the client after `bytes`, discarding its input, and destroys it after a grace period. */
  const finish = (bytes?: Uint8Array): void => {
    phase = 'closing'
    clearTimeout(timer)
    socket.off('data', onData)
    socket.on('data', () => {})
    socket.resume()
    if (bytes === undefined) socket.end()
    else socket.end(bytes)
    lingerThenDestroy(socket)
  }
  const refuse = (why: string, bytes?: Uint8Array): void => {
    ctx.stats.rejected++
    ctx.log.debug('SOCKS client refused', { why })
    finish(bytes)
  }

  const onData = (chunk: Buffer): void => {
    if (phase === 'handshake') { handle(hs.push(chunk)); return }
    early.push(chunk)
    earlyBytes += chunk.length
    if (earlyBytes >= MAX_EARLY_BYTES) socket.pause()
  }
  const handle = (actions: SocksAction[]): void => {
    for (let i = 0; i < actions.length; i++) {
      const a = actions[i]!
      if (a.type === 'write') socket.write(a.bytes)
      else if (a.type === 'auth') actions.push(...hs.answerAuth(checkUser(ctx.users ?? [], a.username, a.password)))
      else if (a.type === 'fail') { refuse(a.error.message, a.bytes); return } else { request(a.request, a.rest); return }
    }
  }

  const request = (req: SocksTarget, rest: Uint8Array): void => {
    clearTimeout(timer)
    if (rest.length > 0) { early.push(rest); earlyBytes += rest.length }
    let allowed = false
    try { allowed = ctx.allow(req.host) } catch {}
    if (!allowed) { refuse('host not allowed', encodeReply(SocksReply.NOT_ALLOWED)); return }
    phase = 'connecting'
    const ac = new AbortController()
    aborter = ac
    let timedOut = false
    const failed = (code: SocksReplyCode, why: string): void => {
      ctx.stats.failed++
      ctx.log.debug('SOCKS connect failed', { why, reply: code })
      if (!socket.destroyed) finish(encodeReply(code))
    }
    timer = setTimeout(() => {
      timedOut = true
      ac.abort(new TimeoutError(`SOCKS connect took over ${ctx.connectTimeoutMs} ms`))
      failed(SocksReply.TTL_EXPIRED, 'timeout')
    }, ctx.connectTimeoutMs)
    const settled = (): boolean => phase !== 'connecting' || socket.destroyed
    new Promise<Duplex>((resolve) => { resolve(ctx.connect({ host: req.host, port: req.port }, ac.signal)) }).then((stream) => {
      if (settled()) { stream.on('error', () => {}); stream.destroy(); return }
      clearTimeout(timer)
      relay(stream)
    }, (err: unknown) => {
      if (settled()) return
      clearTimeout(timer)
      failed(socksReplyFor(err, timedOut), typeof (err as Error | undefined)?.name === 'string' ? (err as Error).name : 'error')
    })
  }

  const relay = (stream: Duplex): void => {
    phase = 'relay'
    socket.off('data', onData)
    target = stream
    ctx.stats.connected++
    ctx.targets.add(stream)
    stream.on('error', (err: Error) => { ctx.log.debug('SOCKS target error', { error: err.name }); socket.destroy(); stream.destroy() })
    stream.on('close', () => {
      ctx.targets.delete(stream)
      // The target went away without ending cleanly: so does the client. Else let it take the last bytes.
      if (!stream.readableEnded || stream.errored !== null) socket.destroy()
      else if (!socket.destroyed) lingerThenDestroy(socket)
    })
    socket.write(encodeReply(SocksReply.SUCCEEDED))
    for (const chunk of early.splice(0)) stream.write(chunk)
    forward(socket, stream)
    forward(stream, socket)
    if (ctx.idleTimeoutMs > 0) socket.setTimeout(ctx.idleTimeoutMs, () => { ctx.log.debug('SOCKS relay idle'); socket.destroy(); stream.destroy() })
  }

  socket.on('data', onData)
  socket.on('end', () => {
    if (phase === 'handshake') refuse('client left mid-handshake')
    // EOF before our reply: the client gave up (none waits for a reply after closing its side).
    else if (phase === 'connecting') socket.destroy()
  })
  socket.on('error', (err: NodeJS.ErrnoException) => { ctx.log.debug('SOCKS client error', { error: err.code ?? err.name }) })
  socket.on('close', () => {
    clearTimeout(timer)
    ctx.clients.delete(socket)
    if (phase === 'connecting') aborter?.abort(new AbortError('SOCKS client went away'))
    if (target !== undefined && (!socket.readableEnded || socket.errored !== null)) target.destroy()
  })
}

/**
 * Copies `from` into `to` with back-pressure, like `pipe`: `from`'s end ends `to`. What `to` can
 * no longer take (it ended or was destroyed) is dropped.
 */
function forward (from: Duplex, to: Duplex): void {
  corkPerTick(from, to)
  from.on('data', (chunk: Buffer) => { if (to.writable && !to.write(chunk)) from.pause() })
  to.on('drain', () => { from.resume() })
  from.on('end', () => { if (to.writable) to.end() })
  from.resume()
}

/** Once everything written to `socket` is flushed, gives the peer {@link LINGER_MS} to close, then destroys it. */
function lingerThenDestroy (socket: net.Socket): void {
  const arm = (): void => {
    const t = setTimeout(() => { socket.destroy() }, LINGER_MS)
    t.unref()
    socket.once('close', () => { clearTimeout(t) })
  }
  if (socket.writableFinished) arm()
  else socket.once('finish', arm)
}

/** Whether some configured user has exactly these credentials (constant time per entry). */
function checkUser (users: ReadonlyArray<readonly [Buffer, Buffer]>, username: Uint8Array, password: Uint8Array): boolean {
  let ok = false
  for (const [u, p] of users) {
    const a = u.length === username.length && timingSafeEqual(u, username)
    const b = p.length === password.length && timingSafeEqual(p, password)
    if (a && b) ok = true
  }
  return ok
}

/** The `users` option as byte pairs; ConfigError on an empty set or a name/password not 1..255 bytes. */
function credentials (users: ReadonlyMap<string, string> | Record<string, string>): Array<readonly [Buffer, Buffer]> {
  const entries = users instanceof Map ? [...(users as ReadonlyMap<string, string>)] : Object.entries(users)
  if (entries.length === 0) throw new ConfigError('SOCKS: users is empty (nobody could log in); omit it to offer no-auth')
  return entries.map(([u, p]) => {
    const ub = Buffer.from(u, 'utf8')
    const pb = Buffer.from(String(p), 'utf8')
    if (ub.length < 1 || ub.length > 255 || pb.length < 1 || pb.length > 255) {
      throw new ConfigError('SOCKS: every username and password must be 1..255 bytes (UTF-8)')
    }
    return [ub, pb] as const
  })
}

function count (n: number, what: string, min: number): number {
  if (!Number.isSafeInteger(n) || n < min) throw new ConfigError(`SOCKS: ${what} must be an integer ≥ ${min}, got ${n}`)
  return n
}
