/**
 * SAM commands that need no session, each on a short-lived connection (DEST GENERATE, NAMING
 * LOOKUP), the client options shared by every call, and the parser of the peer line that
 * starts an accepted stream.
 */
import { formatLine, parseLine } from '../sam/line.ts'
import { SamConnection, SamError, type ConnectOptions } from './connection.ts'
import { b32AddressOf, isBase64Destination, publicFromPrivate } from './address.ts'
import { DecodeError } from '../../util/errors.ts'

/** Where the SAM bridge is, how to log in, and how long a command may take. */
export interface SamClientOptions {
  /** Default 127.0.0.1. */
  host?: string
  /** SAM control port, default 7656. */
  port?: number
  /** SAM datagram (UDP) port, default 7655. */
  udpPort?: number
  /** Only if the bridge has authentication on (SAM 3.2+). */
  user?: string
  password?: string
  /** Deadline of each command (and of connect + HELLO), default 30_000 ms. */
  timeoutMs?: number
  /** Aborts the call (for createSession: the creation only, not the session afterwards). */
  signal?: AbortSignal
}

/** A new destination from the bridge. */
export interface GeneratedDestination {
  /** Public destination, I2P base64. */
  publicKey: string
  /** Private key, I2P base64: pass it as `privateKey` to createSession to use the destination. */
  privateKey: string
  /** `<52>.b32.umbra`. */
  address: string
}

/** @internal The connection part of the client options. */
export function connectOptions (opts: SamClientOptions): ConnectOptions {
  return { host: opts.host, port: opts.port, user: opts.user, password: opts.password, timeoutMs: opts.timeoutMs ?? 30_000, signal: opts.signal }
}

async function oneShot<T> (opts: SamClientOptions, run: (conn: SamConnection, timeoutMs: number) => Promise<T>): Promise<T> {
  const conn = await SamConnection.open(connectOptions(opts))
  try {
    return await run(conn, opts.timeoutMs ?? 30_000)
  } finally {
    conn.close()
  }
}

/** A new Ed25519 destination (DEST GENERATE SIGNATURE_TYPE=7). Throws SamError, TimeoutError, ClosedError, DecodeError. */
export async function generateDestination (opts: SamClientOptions = {}): Promise<GeneratedDestination> {
  return await oneShot(opts, async (conn, timeoutMs) => {
    const reply = await conn.request(formatLine(['DEST', 'GENERATE'], [['SIGNATURE_TYPE', 7]]), ['DEST', 'REPLY'], { timeoutMs, signal: opts.signal })
    const publicKey = reply.args.get('PUB') ?? ''
    const privateKey = reply.args.get('PRIV') ?? ''
    if (!isBase64Destination(publicKey) || publicFromPrivate(privateKey) !== publicFromPrivate(publicKey)) throw new DecodeError('DEST REPLY without a matching PUB and PRIV')
    return { publicKey, privateKey, address: b32AddressOf(publicKey) }
  })
}

/**
 * Resolves a name or `.b32` address to a base64 destination (NAMING LOOKUP without a session,
 * using the router's own lookups). Throws SamError (KEY_NOT_FOUND, INVALID_KEY, …),
 * TimeoutError, ClosedError.
 */
export async function lookupName (name: string, opts: SamClientOptions = {}): Promise<string> {
  return await oneShot(opts, async (conn, timeoutMs) => {
    const reply = await conn.request(formatLine(['NAMING', 'LOOKUP'], [['NAME', name]]), ['NAMING', 'REPLY'], { timeoutMs, signal: opts.signal })
    const value = reply.args.get('VALUE')
    if (value === undefined || value === '') throw new DecodeError(`NAMING REPLY for ${name} without VALUE`)
    return value
  })
}

/**
 * The line that starts an accepted stream: `<base64 destination>[ FROM_PORT=n TO_PORT=n]`, or
 * a STATUS line if the bridge gave up on the ACCEPT (then a SamError is thrown).
 */
export function parsePeerLine (line: string): { remote: string, fromPort?: number, toPort?: number } {
  if (/^(STREAM|SESSION) STATUS\b/i.test(line)) {
    const status = parseLine(line)
    throw new SamError(status.args.get('RESULT') ?? 'I2P_ERROR', status.args.get('MESSAGE') ?? 'the bridge ended the ACCEPT')
  }
  const space = line.indexOf(' ')
  const remote = space < 0 ? line : line.slice(0, space)
  if (!isBase64Destination(remote)) throw new DecodeError(`STREAM ACCEPT: the peer line is not a destination: ${line.slice(0, 60)}`)
  const out: { remote: string, fromPort?: number, toPort?: number } = { remote }
  if (space >= 0) {
    const args = parseLine(`PEER ${line.slice(space + 1)}`).args
    for (const [k, key] of [['FROM_PORT', 'fromPort'], ['TO_PORT', 'toPort']] as const) {
      const v = Number(args.get(k))
      if (args.has(k) && Number.isInteger(v)) out[key] = v
    }
  }
  return out
}
