/**
 * The HTTP transport's wire conventions, shared by server and client: address parsing, the
 * request paths (`<prefix>/<sid>/up`, `<prefix>/<sid>/down`), query and header names, session
 * ids, and a bounded body reader. Pure apart from `readBody`, which only consumes a stream.
 *
 * Poll mode on the wire:
 * - `POST <prefix>/<sid>/up?seq=N[&fin=1]`, body = the next bytes client→server. seq 0 opens
 *   the session (body may be empty); the server applies seq N only after N−1 and answers a
 *   repeated seq with 200 without applying it again. `fin=1`: the client closed after these bytes.
 * - `GET <prefix>/<sid>/down?ack=OFFSET`: the client has received every server byte before
 *   OFFSET. The answer (at once if bytes past OFFSET are queued, else after the poll wait with
 *   an empty body) carries `X-Umbra-Offset: OFFSET` and the bytes from OFFSET on; the server
 *   keeps bytes until acked, so a lost answer is recovered by asking again with the same OFFSET.
 *   `X-Umbra-Fin: 1`: the server closed and these are its last bytes.
 * Stream mode: `POST <prefix>/<sid>/up` (chunked request body) and `GET <prefix>/<sid>/down`
 * (chunked response body); the down response's headers are sent once both halves arrived.
 */
import { randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import { LimitError, TransportError } from '../../src/util/errors.ts'
import { formatTransportUrl, parseTransportUrl } from '../url.ts'

/** Default path prefix of the HTTP transport. */
export const DEFAULT_PREFIX = '/umbra'
/** Response header: the stream offset of the first body byte of a poll answer. */
export const H_OFFSET = 'x-umbra-offset'
/** Response header: the server closed; no bytes follow this answer. */
export const H_FIN = 'x-umbra-fin'

/** A parsed `http://host:port/prefix` address. */
export interface HttpAddr {
  readonly host: string
  readonly port: number
  readonly prefix: string
}

/** Parses `http://host[:port][/prefix]` (prefix defaults to /umbra). Throws ConfigError. */
export function parseHttpAddr (addr: string): HttpAddr {
  const { host, port, path } = parseTransportUrl(addr, 'http', { path: true, defaultPort: 80 })
  return { host, port, prefix: path === '' ? DEFAULT_PREFIX : path }
}

/** Formats host, port and prefix as an http:// URL. */
export function formatHttpAddr (host: string, port: number, prefix: string): string {
  return formatTransportUrl('http', host, port, prefix)
}

/** A fresh random session id: 16 bytes, hex. */
export function newSessionId (): string {
  return randomBytes(16).toString('hex')
}

/** A request to one half of a session. */
export interface Route {
  readonly sid: string
  readonly half: 'up' | 'down'
  readonly query: URLSearchParams
}

const SID = /^[0-9a-f]{32}$/

/** Parses a request target under `prefix`; undefined for anything that is not ours. */
export function parseRoute (target: string, prefix: string): Route | undefined {
  if (!target.startsWith(prefix + '/')) return undefined
  const q = target.indexOf('?')
  const path = target.slice(prefix.length + 1, q < 0 ? undefined : q)
  const parts = path.split('/')
  if (parts.length !== 2) return undefined
  const [sid, half] = parts as [string, string]
  if (!SID.test(sid) || (half !== 'up' && half !== 'down')) return undefined
  return { sid, half, query: new URLSearchParams(q < 0 ? '' : target.slice(q + 1)) }
}

/** Reads a non-negative safe integer query parameter; undefined if absent, NaN if malformed. */
export function intParam (query: URLSearchParams, name: string): number | undefined {
  const v = query.get(name)
  if (v === null) return undefined
  return /^[0-9]{1,15}$/.test(v) ? Number(v) : NaN
}

/** Reads a whole body of at most `max` bytes. Rejects with LimitError above it, TransportError if cut. */
export async function readBody (stream: Readable, max: number): Promise<Buffer> {
  return await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    let n = 0
    const onData = (d: Buffer): void => {
      n += d.length
      if (n > max) {
        cleanup()
        stream.destroy()
        reject(new LimitError(`body over ${max} bytes`))
        return
      }
      chunks.push(d)
    }
    const onEnd = (): void => { cleanup(); resolve(chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks, n)) }
    const onClose = (): void => { cleanup(); reject(new TransportError('body cut short')) }
    const cleanup = (): void => {
      stream.off('data', onData)
      stream.off('end', onEnd)
      stream.off('close', onClose)
      // The 'error' listener stays: a late error must not go unhandled.
    }
    stream.on('data', onData)
    stream.once('end', onEnd)
    stream.once('close', onClose)
    stream.on('error', onClose)
  })
}
