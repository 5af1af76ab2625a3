/**
 * Joins two byte streams both ways (a local TCP socket and a stream between destinations):
 * backpressure through `pipe`, half-close passed on (an end on one side ends the other's
 * writing), and an error or abrupt close on either side destroys both. Never leaves an
 * 'error' event unhandled.
 */
import type { Duplex } from 'node:stream'

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
  a.pipe(b)
  b.pipe(a)
  a.resume()
  b.resume()
}
