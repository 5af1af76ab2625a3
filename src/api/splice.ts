/**
 * Joins two byte streams both ways (a local TCP socket and a stream between destinations):
 * backpressure through `pipe`, half-close passed on (an end on one side ends the other's
 * writing), and an error or abrupt close on either side destroys both. Never leaves an
 * 'error' event unhandled. {@link spliceToTcp} does it for a stream and a new connection to a
 * local service.
 */
import * as net from 'node:net'
import type { Duplex, Writable } from 'node:stream'
import { TimeoutError } from '../util/errors.ts'

/**
 * Makes what `from` emits within one turn of the event loop reach `to` in one write: `to` is
 * corked at the first chunk and uncorked on the next tick. A stream between destinations
 * hands over one packet (about 4 KB) at a time, many per turn; written one by one, each would
 * cost a socket its own syscall. Add it before the 'data' listener that writes (`pipe`).
 */
export function corkPerTick (from: Duplex, to: Writable): void {
  let corked = false
  const uncork = (): void => { corked = false; to.uncork() }
  from.on('data', () => {
    if (corked || to.destroyed) return
    corked = true
    to.cork()
    process.nextTick(uncork)
  })
}

/** Options of {@link splice}. */
export interface SpliceOptions {
  /** Written to `b` before anything read from `a` (bytes that arrived with the last command). */
  headA?: Uint8Array
  /** Close both when no byte moved either way for this long (ms); 0 = never. */
  idleMs?: number
  /** Called once when both sides are closed. */
  onClose?: () => void
}

/** Splices `a` and `b` (see module doc). */
export function splice (a: Duplex, b: Duplex, opts: SpliceOptions = {}): void {
  let done = false
  let idle: NodeJS.Timeout | undefined
  const kill = (): void => {
    if (idle !== undefined) clearTimeout(idle)
    a.destroy()
    b.destroy()
  }
  a.on('error', kill)
  b.on('error', kill)
  let closed = 0
  const onClose = (s: Duplex) => (): void => {
    // An abrupt close (reset, destroy) of one side takes the other down; a clean one (both
    // directions ended) just waits for the other to finish.
    if (!s.readableEnded || !s.writableFinished) kill()
    if (++closed === 2 && !done) {
      done = true
      if (idle !== undefined) clearTimeout(idle)
      opts.onClose?.()
    }
  }
  a.once('close', onClose(a))
  b.once('close', onClose(b))
  if (opts.idleMs !== undefined && opts.idleMs > 0) {
    const ms = opts.idleMs
    const touch = (): void => { idle?.refresh() }
    idle = setTimeout(kill, ms)
    idle.unref()
    a.on('data', touch)
    b.on('data', touch)
  }
  if (opts.headA !== undefined && opts.headA.length > 0) b.write(opts.headA)
  corkPerTick(a, b)
  corkPerTick(b, a)
  a.pipe(b)
  b.pipe(a)
  a.resume()
  b.resume()
}

/** Options of {@link spliceToTcp}. */
export interface TcpTarget {
  host: string
  port: number
  /** The service must accept within this (ms); otherwise the stream is reset. */
  connectTimeoutMs: number
  /** Written to the TCP connection first (e.g. the SAM peer line). */
  head?: string
  /** The connection was accepted and the splice started. */
  onConnect?: () => void
  /** The service did not accept (refused, unreachable or too slow); the stream was reset. */
  onFail?: (err: Error) => void
}

/**
 * Opens a TCP connection to a local service for `stream` (an incoming stream of a FORWARD or a
 * server tunnel) and splices the two; if the service does not accept in time, the stream is
 * reset. Returns the TCP socket (destroy it to abort).
 */
export function spliceToTcp (stream: Duplex, t: TcpTarget): net.Socket {
  stream.on('error', () => {})
  const c = net.connect({ host: t.host, port: t.port, allowHalfOpen: true })
  const timer = setTimeout(() => { c.destroy(new TimeoutError(`no connection within ${t.connectTimeoutMs} ms`)) }, t.connectTimeoutMs)
  timer.unref()
  let connected = false
  c.once('error', (err) => { if (!connected) t.onFail?.(err) })
  c.once('close', () => { clearTimeout(timer); if (!connected) stream.destroy() })
  c.once('connect', () => {
    connected = true
    clearTimeout(timer)
    if (t.head !== undefined) c.write(t.head)
    splice(c, stream)
    t.onConnect?.()
  })
  return c
}
