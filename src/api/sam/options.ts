/**
 * SESSION CREATE / SESSION ADD arguments → what the bridge does: the style, the I2CP ports and
 * protocol, where received datagrams go, and the tunnel pool's shape from I2CP options
 * (`inbound.length`, `outbound.quantity`, …; unknown options are accepted and ignored). Pure;
 * throws SamRequestError with the RESULT code to answer.
 */
import type { PoolSettings } from '../../tunnel/pool.ts'
import { SamRequestError } from './result.ts'
import { Protocol } from '../../streaming/protocol.ts'

/** Styles of a session or subsession that carry data. */
export type DataStyle = 'STREAM' | 'DATAGRAM' | 'RAW'
/** Every style SESSION CREATE takes (MASTER is PRIMARY's old name). */
export type Style = DataStyle | 'PRIMARY'

/** Protocols RAW sessions may not use (they belong to other styles). */
const RESERVED_RAW = new Set([6, 17, 19, 20])

/** SamRequestError (I2P_ERROR) if `protocol` is reserved for streams or datagrams and so not for RAW. */
export function checkRawProtocol (protocol: number): void {
  if (RESERVED_RAW.has(protocol)) throw new SamRequestError('I2P_ERROR', `PROTOCOL ${protocol} is not allowed for RAW`)
}

/** What one session (or subsession) does with its traffic. */
export interface SubSpec {
  style: DataStyle
  fromPort: number
  toPort: number
  /** RAW: the protocol sent (default 18). */
  protocol: number
  /** Inbound routing: the port (default FROM_PORT) and, for RAW, the protocol (default PROTOCOL) accepted. */
  listenPort: number
  listenProtocol: number
  /** DATAGRAM/RAW: forward received datagrams to this UDP address; undefined = the control socket. */
  forward: { host: string, port: number } | undefined
  /** RAW with HEADER=true: forwarded datagrams start with a `FROM_PORT= TO_PORT= PROTOCOL=` line. */
  header: boolean
}

/** Reads a STYLE= value. */
export function parseStyle (v: string | undefined, primaryAllowed: boolean): Style {
  const s = (v ?? '').toUpperCase()
  if (s === 'STREAM' || s === 'DATAGRAM' || s === 'RAW') return s
  if (primaryAllowed && (s === 'PRIMARY' || s === 'MASTER')) return 'PRIMARY'
  if (v === undefined) throw new SamRequestError('I2P_ERROR', 'missing STYLE')
  throw new SamRequestError('I2P_ERROR', `Unknown STYLE ${v} (STREAM, DATAGRAM, RAW${primaryAllowed ? ', PRIMARY' : ''})`)
}

/** An integer argument in [lo, hi], or `dflt` when absent. */
export function intArg (args: ReadonlyMap<string, string>, key: string, dflt: number, lo: number, hi: number): number {
  const v = args.get(key)
  if (v === undefined || v === '') return dflt
  if (!/^-?\d{1,10}$/.test(v)) throw new SamRequestError('I2P_ERROR', `${key} must be an integer`)
  const n = Number(v)
  if (n < lo || n > hi) throw new SamRequestError('I2P_ERROR', `${key} must be ${lo}..${hi}`)
  return n
}

/** A boolean argument (`true`/`false`, any case), or `dflt`. */
export function boolArg (args: ReadonlyMap<string, string>, key: string, dflt: boolean): boolean {
  const v = args.get(key)
  if (v === undefined || v === '') return dflt
  const l = v.toLowerCase()
  if (l === 'true') return true
  if (l === 'false') return false
  throw new SamRequestError('I2P_ERROR', `${key} must be true or false`)
}

/** The spec of a data session or subsession from its arguments. */
export function parseSubSpec (style: DataStyle, args: ReadonlyMap<string, string>): SubSpec {
  const fromPort = intArg(args, 'FROM_PORT', 0, 0, 65535)
  const toPort = intArg(args, 'TO_PORT', 0, 0, 65535)
  const protocol = style === 'RAW' ? intArg(args, 'PROTOCOL', Protocol.RAW, 0, 255) : style === 'DATAGRAM' ? Protocol.REPLIABLE : Protocol.STREAMING
  if (style === 'RAW') checkRawProtocol(protocol)
  const listenPort = intArg(args, 'LISTEN_PORT', fromPort, 0, 65535)
  if (style === 'STREAM' && listenPort !== fromPort && listenPort !== 0) throw new SamRequestError('I2P_ERROR', 'LISTEN_PORT of a STREAM subsession must be FROM_PORT or 0')
  const listenProtocol = style === 'RAW' ? intArg(args, 'LISTEN_PROTOCOL', protocol, 0, 255) : protocol
  if (style === 'RAW' && listenProtocol === Protocol.STREAMING) throw new SamRequestError('I2P_ERROR', 'LISTEN_PROTOCOL 6 is not allowed')
  let forward: SubSpec['forward']
  if (style !== 'STREAM') {
    const port = intArg(args, 'PORT', 0, 0, 65535)
    const host = args.get('HOST') ?? '127.0.0.1'
    if (port > 0) forward = { host: host === '' ? '127.0.0.1' : host, port }
  }
  return { style, fromPort, toPort, protocol, listenPort, listenProtocol, forward, header: style === 'RAW' && boolArg(args, 'HEADER', false) }
}

/** Bounds on pool options taken from clients. */
const MAX_QUANTITY = 16
const MAX_LENGTH = 7

/**
 * Pool settings from I2CP options. Umbra's pool has one length and one quantity for both
 * directions, so the larger of inbound/outbound is used (never fewer hops than either asked).
 * Out-of-range values are clamped; malformed ones are ignored, like unknown options.
 */
export function poolFromOptions (args: ReadonlyMap<string, string>): Partial<PoolSettings> {
  const num = (k: string): number | undefined => {
    const v = args.get(k)
    return v !== undefined && /^-?\d{1,3}$/.test(v) ? Number(v) : undefined
  }
  const out: Partial<PoolSettings> = {}
  const lens = [num('inbound.length'), num('outbound.length')].filter((n): n is number => n !== undefined)
  if (lens.length > 0) out.length = Math.min(MAX_LENGTH, Math.max(0, ...lens))
  const qs = [num('inbound.quantity'), num('outbound.quantity')].filter((n): n is number => n !== undefined)
  if (qs.length > 0) out.quantity = Math.min(MAX_QUANTITY, Math.max(1, ...qs))
  const vs = [num('inbound.lengthVariance'), num('outbound.lengthVariance')].filter((n): n is number => n !== undefined)
  if (vs.length > 0) out.variance = Math.max(...vs.map(Math.abs))
  return out
}

/**
 * `umbra.localDelivery` (an Umbra option; I2P routers ignore it as unknown): `false` makes the
 * session's messages to and from other destinations of this router go through tunnels
 * (docs/sessions.md). Absent or malformed: undefined (the router's default, true).
 */
export function localDeliveryFromOptions (args: ReadonlyMap<string, string>): boolean | undefined {
  const v = args.get('umbra.localDelivery')?.toLowerCase()
  return v === 'false' ? false : v === 'true' ? true : undefined
}
