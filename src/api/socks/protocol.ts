/**
 * The server side of the SOCKS5 handshake (RFC 1928, with RFC 1929 username/password) as a
 * pure state machine: feed it bytes as they arrive, in any split, and it says what to do
 * (bytes to write, credentials to check, the request, or a refusal). It does no I/O and keeps
 * no time; `server.ts` owns the socket and the timers. Byte layouts: `docs/socks.md`.
 *
 * Bounded: it copies at most one message at a time (greeting ≤ 257 B, auth ≤ 513 B,
 * request ≤ 262 B). Not spoken: SOCKS4/4a and HTTP (closed without a reply), GSSAPI, BIND and
 * UDP ASSOCIATE (refused with COMMAND_NOT_SUPPORTED).
 */
import { ConfigError, UmbraError } from '../../util/errors.ts'

/** SOCKS5 reply codes (the REP byte of a reply, RFC 1928 §6). */
export const SocksReply = {
  SUCCEEDED: 0,
  GENERAL_FAILURE: 1,
  NOT_ALLOWED: 2,
  NETWORK_UNREACHABLE: 3,
  HOST_UNREACHABLE: 4,
  CONNECTION_REFUSED: 5,
  TTL_EXPIRED: 6,
  COMMAND_NOT_SUPPORTED: 7,
  ADDRESS_TYPE_NOT_SUPPORTED: 8
} as const

/** One of the {@link SocksReply} codes. */
export type SocksReplyCode = typeof SocksReply[keyof typeof SocksReply]

/** Address types of a request or reply (the ATYP byte). */
export const SocksAtyp = { IPV4: 1, DOMAIN: 3, IPV6: 4 } as const

/** Largest valid messages, in bytes: what the parser may hold at most. */
export const SOCKS_MAX_GREETING = 257
export const SOCKS_MAX_AUTH = 513
export const SOCKS_MAX_REQUEST = 262

/**
 * The client broke the protocol, failed to authenticate or asked for something refused.
 * `reply` is the REP code sent in a SOCKS5 reply before closing, if one is sent (none for a
 * wrong version, a refused method or failed authentication: those have their own answers).
 */
export class SocksProtocolError extends UmbraError {
  static override readonly name = 'SocksProtocolError'
  override readonly name = 'SocksProtocolError'
  readonly reply: SocksReplyCode | undefined
  constructor (message: string, reply?: SocksReplyCode, options?: { cause?: unknown }) {
    super(message, options)
    this.reply = reply
  }
}

/** A parsed CONNECT request. `host` is dotted IPv4, RFC 5952 IPv6 or a printable-ASCII name. */
export interface SocksRequest {
  readonly cmd: 1
  readonly atyp: 1 | 3 | 4
  readonly host: string
  readonly port: number
}

/**
 * What the driver must do, in order:
 * - `write`: send `bytes` to the client.
 * - `auth`: check the credentials and call {@link SocksHandshake.answerAuth} (at once: input is
 *   held, uncopied, until then).
 * - `request`: the handshake is over; handle the request. `rest` is what the client sent after
 *   it (application data for the target; may be a view of a pushed chunk).
 * - `fail`: write `bytes` if given, then close. The handshake is over.
 */
export type SocksAction =
  | { readonly type: 'write', readonly bytes: Uint8Array }
  | { readonly type: 'auth', readonly username: Uint8Array, readonly password: Uint8Array }
  | { readonly type: 'request', readonly request: SocksRequest, readonly rest: Uint8Array }
  | { readonly type: 'fail', readonly error: SocksProtocolError, readonly bytes?: Uint8Array }

/** Options of {@link SocksHandshake}. */
export interface SocksHandshakeOptions {
  /** Offer only username/password (0x02) when true, only no-auth (0x00) when false. */
  requireAuth: boolean
}

type Stage = 'greeting' | 'auth' | 'auth-wait' | 'request' | 'done'

/**
 * The server side of one SOCKS5 handshake. `push` bytes as they arrive; act on the returned
 * actions in order. After a `request` or `fail` action it is finished and ignores further input.
 * It never throws on any input.
 */
export class SocksHandshake {
  private stage: Stage = 'greeting'
  private readonly buf = new Uint8Array(SOCKS_MAX_AUTH)
  private len = 0
  private queue: Uint8Array[] = []
  private readonly requireAuth: boolean

  constructor (opts: SocksHandshakeOptions) {
    this.requireAuth = opts.requireAuth
  }

  /** Bytes copied into the parser's own buffer (never more than {@link SOCKS_MAX_AUTH}). */
  get buffered (): number { return this.len }

  /** Whether a `request` or `fail` action has been returned. */
  get finished (): boolean { return this.stage === 'done' }

  /** Feeds the next bytes from the client; returns what to do now (possibly nothing). */
  push (chunk: Uint8Array): SocksAction[] {
    if (this.stage === 'done' || chunk.length === 0) return []
    this.queue.push(chunk)
    return this.stage === 'auth-wait' ? [] : this.run()
  }

  /** Answers the last `auth` action: whether the credentials are valid. */
  answerAuth (ok: boolean): SocksAction[] {
    if (this.stage !== 'auth-wait') throw new Error('SocksHandshake.answerAuth: no credentials are pending')
    if (!ok) return this.fail(new SocksProtocolError('authentication failed'), Uint8Array.of(1, 1))
    this.stage = 'request'
    return [{ type: 'write', bytes: Uint8Array.of(1, 0) }, ...this.run()]
  }

  private run (): SocksAction[] {
    const out: SocksAction[] = []
    while (this.stage === 'greeting' || this.stage === 'auth' || this.stage === 'request') {
      const step = this.stage === 'greeting' ? this.greeting() : this.stage === 'auth' ? this.auth() : this.request()
      if (typeof step !== 'number') { out.push(...step); continue }
      if (!this.fill(step)) break
    }
    return out
  }

  /** Copies queued input until `len === want`; false when the input ran out first. */
  private fill (want: number): boolean {
    while (this.len < want) {
      const head = this.queue[0]
      if (head === undefined) return false
      const n = Math.min(want - this.len, head.length)
      this.buf.set(head.subarray(0, n), this.len)
      this.len += n
      if (n === head.length) this.queue.shift()
      else this.queue[0] = head.subarray(n)
    }
    return true
  }

  private fail (error: SocksProtocolError, bytes?: Uint8Array): SocksAction[] {
    this.stage = 'done'
    this.queue = []
    this.buf.fill(0, 0, this.len)
    this.len = 0
    return [bytes === undefined ? { type: 'fail', error } : { type: 'fail', error, bytes }]
  }

  private refuse (message: string, reply: SocksReplyCode): SocksAction[] {
    return this.fail(new SocksProtocolError(message, reply), encodeReply(reply))
  }

  /** VER(5) NMETHODS METHODS[NMETHODS]. Returns the byte count needed, or the outcome. */
  private greeting (): number | SocksAction[] {
    const b = this.buf
    if (this.len < 1) return 1
    if (b[0] !== 5) return this.fail(new SocksProtocolError(`not SOCKS5 (${wrongProtocol(b[0]!)}); closed without a reply`))
    if (this.len < 2) return 2
    const total = 2 + b[1]!
    if (this.len < total) return total
    const want = this.requireAuth ? 2 : 0
    const ok = b.subarray(2, total).includes(want)
    this.len = 0
    if (!ok) return this.fail(new SocksProtocolError('no acceptable authentication method offered'), Uint8Array.of(5, 0xff))
    this.stage = this.requireAuth ? 'auth' : 'request'
    return [{ type: 'write', bytes: Uint8Array.of(5, want) }]
  }

  /** VER(1) ULEN UNAME[ULEN] PLEN PASSWD[PLEN] (RFC 1929). */
  private auth (): number | SocksAction[] {
    const b = this.buf
    if (this.len < 2) return 2
    if (b[0] !== 1) return this.fail(new SocksProtocolError(`bad username/password sub-negotiation version ${b[0]!}`))
    const ulen = b[1]!
    if (this.len < 3 + ulen) return 3 + ulen
    const total = 3 + ulen + b[2 + ulen]!
    if (this.len < total) return total
    const username = b.slice(2, 2 + ulen)
    const password = b.slice(3 + ulen, total)
    b.fill(0, 0, total)
    this.len = 0
    this.stage = 'auth-wait'
    return [{ type: 'auth', username, password }]
  }

  /** VER(5) CMD RSV ATYP DST.ADDR DST.PORT(2, big-endian). RSV is ignored. */
  private request (): number | SocksAction[] {
    const b = this.buf
    if (this.len < 4) return 4
    if (b[0] !== 5) return this.refuse(`bad request version ${b[0]!}`, SocksReply.GENERAL_FAILURE)
    if (b[1] !== 1) return this.refuse(`command ${b[1]!} not supported (only CONNECT)`, SocksReply.COMMAND_NOT_SUPPORTED)
    const atyp = b[3]!
    let total: number
    if (atyp === SocksAtyp.IPV4) total = 10
    else if (atyp === SocksAtyp.IPV6) total = 22
    else if (atyp === SocksAtyp.DOMAIN) {
      if (this.len < 5) return 5
      total = 7 + b[4]!
    } else return this.refuse(`address type ${atyp} not supported`, SocksReply.ADDRESS_TYPE_NOT_SUPPORTED)
    if (this.len < total) return total
    const addr = b.subarray(atyp === SocksAtyp.DOMAIN ? 5 : 4, total - 2)
    const port = (b[total - 2]! << 8) | b[total - 1]!
    let host: string
    if (atyp === SocksAtyp.IPV4) host = addr.join('.')
    else if (atyp === SocksAtyp.IPV6) host = formatIPv6(addr)
    else {
      if (addr.length === 0 || addr.some((c) => c < 0x21 || c > 0x7e)) return this.refuse('unusable host name', SocksReply.HOST_UNREACHABLE)
      host = String.fromCharCode(...addr)
    }
    this.len = 0
    this.stage = 'done'
    const rest = concat(this.queue)
    this.queue = []
    return [{ type: 'request', request: { cmd: 1, atyp: atyp as 1 | 3 | 4, host, port }, rest }]
  }
}

/**
 * Encodes a reply: VER(5) REP RSV(0) ATYP BND.ADDR BND.PORT. The bind address is IPv4 or IPv6
 * text, else a name (1..255 ASCII bytes); default 0.0.0.0:0. Throws ConfigError on a bad one.
 */
export function encodeReply (code: SocksReplyCode, bindHost = '0.0.0.0', bindPort = 0): Uint8Array {
  if (!Number.isInteger(bindPort) || bindPort < 0 || bindPort > 65535) throw new ConfigError(`SOCKS reply: bad port ${bindPort}`)
  const v4 = parseIPv4(bindHost)
  const v6 = v4 === undefined ? parseIPv6(bindHost) : undefined
  let addr: Uint8Array
  let atyp: number
  if (v4 !== undefined) { addr = v4; atyp = SocksAtyp.IPV4 } else if (v6 !== undefined) { addr = v6; atyp = SocksAtyp.IPV6 } else {
    const name = Buffer.from(bindHost, 'latin1')
    if (name.length === 0 || name.length > 255 || !/^[\x21-\x7e]+$/.test(bindHost)) throw new ConfigError(`SOCKS reply: bad bind address '${bindHost.slice(0, 64)}'`)
    addr = Uint8Array.of(name.length, ...name)
    atyp = SocksAtyp.DOMAIN
  }
  const out = new Uint8Array(6 + addr.length)
  out.set([5, code, 0, atyp])
  out.set(addr, 4)
  out[out.length - 2] = bindPort >> 8
  out[out.length - 1] = bindPort & 0xff
  return out
}

/** Joins chunks into one array (no copy for a single chunk). */
function concat (chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) { out.set(c, at); at += c.length }
  return out
}

/** A guess at what a non-SOCKS5 first byte means, for the log. */
function wrongProtocol (first: number): string {
  if (first === 4) return 'looks like SOCKS4'
  if (first >= 0x41 && first <= 0x5a) return 'looks like HTTP'
  return `version byte ${first}`
}

/** RFC 5952 text of a 16-byte IPv6 address: lower-case hex, the longest run of ≥ 2 zero groups as `::`. */
export function formatIPv6 (b: Uint8Array): string {
  const g: number[] = []
  for (let i = 0; i < 16; i += 2) g.push((b[i]! << 8) | b[i + 1]!)
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen) { best = i; bestLen = j - i }
    i = j > i ? j : i + 1
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':')
  if (best < 0) return hex(g)
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`
}

function parseIPv4 (s: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s)
  if (m === null) return undefined
  const parts = m.slice(1).map(Number)
  return parts.every((n) => n <= 255) ? Uint8Array.from(parts) : undefined
}

function parseIPv6 (s: string): Uint8Array | undefined {
  const out = new Uint8Array(16)
  let text = s
  if (text.includes('.')) {
    const cut = text.lastIndexOf(':')
    const v4 = parseIPv4(text.slice(cut + 1))
    if (cut < 0 || v4 === undefined) return undefined
    out.set(v4, 12)
    text = `${text.slice(0, cut + 1)}0:0`
  }
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const split = (p: string): string[] => p === '' ? [] : p.split(':')
  const head = split(halves[0]!)
  const tail = halves.length === 2 ? split(halves[1]!) : []
  const n = head.length + tail.length
  if (halves.length === 1 ? n !== 8 : n > 7) return undefined
  const groups = [...head, ...new Array<string>(8 - n).fill('0'), ...tail]
  for (let i = 0; i < 8; i++) {
    const t = groups[i]!
    if (!/^[0-9a-f]{1,4}$/i.test(t)) return undefined
    const v = parseInt(t, 16)
    if (i < 6 || !s.includes('.')) { out[2 * i] = v >> 8; out[2 * i + 1] = v & 0xff }
  }
  return out
}
