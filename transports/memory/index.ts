/**
 * The in-process transport: `memory://<name>` addresses in a module-level registry, for tests
 * and whole local networks in one process. In reliable mode a Conn is an ordered byte stream
 * (latency and jitter delay it but never reorder it); in unreliable mode it carries datagrams
 * of at most `mtu` bytes that may be lost, duplicated or reordered (from a seedable `rng`).
 *
 * It moves bytes only between transports in the same process; it does not touch the network,
 * and it does not model bandwidth (only latency and a bounded send buffer).
 */
import type { Conn, DialOptions, Listener, ListenOptions, Transport } from '../../src/link/transport.ts'
import { ClosedError, ConfigError, TimeoutError, TransportError } from '../../src/util/errors.ts'
import { raceSignal, throwIfAborted } from '../../src/util/abort.ts'
import { MemoryConn, type LinkModel } from './conn.ts'
import { now } from './delay-line.ts'

export { MemoryConn } from './conn.ts'

/** Options of {@link MemoryTransport}. Loss, duplicate and reorder apply to unreliable mode only. */
export interface MemoryTransportOptions {
  /** Ordered byte stream (true, default) or lossy datagrams (false). */
  reliable?: boolean
  /** One-way delay added to every send (and to dialing), in ms. Default 0. */
  latencyMs?: number
  /** Extra random delay, uniform in [0, jitterMs). Reliable mode keeps order anyway. Default 0. */
  jitterMs?: number
  /** Probability (0..1) that a datagram is dropped. */
  loss?: number
  /** Probability (0..1) that a datagram is delivered twice. */
  duplicate?: number
  /** Probability (0..1) that a datagram is held back, by 1-2x max(latencyMs, 5) ms, and overtaken. */
  reorder?: number
  /** Largest datagram (unreliable) or suggested chunk (reliable). Default 1400 / 65536. */
  mtu?: number
  /** `send` returns false once this many bytes are in flight. Default 1 MiB. */
  highWaterMark?: number
  /** Bytes (reliable) buffered before `setHandlers`. Default 1 MiB. */
  maxPendingBytes?: number
  /** Random source in [0, 1) for loss, duplication, reordering and jitter. Default Math.random. */
  rng?: () => number
  /** Inbound conns a listener keeps at once; more are refused. Default 1024. */
  maxConns?: number
  /** Unreliable only: an inbound conn that receives nothing for this long closes (TimeoutError). Default 120000. */
  idleMs?: number
}

const SCHEME = 'memory://'
const registry = new Map<string, MemoryListener>()
let nextId = 0

function checkProbability (name: string, v: number | undefined): number {
  const p = v ?? 0
  if (!(p >= 0 && p <= 1)) throw new ConfigError(`memory transport: ${name} must be in 0..1, got ${String(v)}`)
  return p
}

/** Resolves options into a link model, rejecting nonsense. */
function resolveModel (o: MemoryTransportOptions): LinkModel {
  const reliable = o.reliable ?? true
  const lossy = { loss: checkProbability('loss', o.loss), duplicate: checkProbability('duplicate', o.duplicate), reorder: checkProbability('reorder', o.reorder) }
  if (reliable && (lossy.loss > 0 || lossy.duplicate > 0 || lossy.reorder > 0)) {
    throw new ConfigError('memory transport: loss, duplicate and reorder need reliable: false')
  }
  const mtu = o.mtu ?? (reliable ? 65536 : 1400)
  const latencyMs = o.latencyMs ?? 0
  const jitterMs = o.jitterMs ?? 0
  if (!(mtu >= 1) || !(latencyMs >= 0) || !(jitterMs >= 0)) throw new ConfigError('memory transport: mtu must be >= 1, latencyMs and jitterMs >= 0')
  return {
    reliable, latencyMs, jitterMs, mtu, ...lossy,
    highWaterMark: o.highWaterMark ?? 1024 * 1024,
    maxPendingBytes: o.maxPendingBytes ?? 1024 * 1024,
    rng: o.rng ?? Math.random
  }
}

/** The registry name of a `memory://name` address, or undefined for other schemes. */
function nameOf (addr: string): string | undefined {
  return addr.startsWith(SCHEME) ? addr.slice(SCHEME.length) : undefined
}

class MemoryListener implements Listener {
  readonly conns = new Set<MemoryConn>()
  closed = false
  private readonly sweeper: NodeJS.Timeout | undefined

  constructor (readonly addr: string, readonly owner: MemoryTransport, readonly onConn: (c: Conn) => void, private readonly limits: { maxConns: number, idleMs: number }) {
    if (!owner.reliable) {
      this.sweeper = setInterval(this.sweep, Math.max(1, limits.idleMs / 2))
      this.sweeper.unref()
    }
  }

  /** Closes unreliable inbound conns that have been idle too long. */
  private readonly sweep = (): void => {
    const oldest = now() - this.limits.idleMs
    for (const c of [...this.conns]) {
      if (c.lastReceived < oldest) c.close(new TimeoutError(`memory conn from ${c.remote} idle for ${this.limits.idleMs} ms`))
    }
  }

  /** Hands a new inbound conn to `onConn`; false if this listener does not accept it. */
  accept (conn: MemoryConn): boolean {
    if (this.closed || this.conns.size >= this.limits.maxConns) return false
    this.conns.add(conn)
    try {
      this.onConn(conn)
    } catch (err) {
      conn.close(new TransportError('memory listener: onConn threw', { cause: err }))
    }
    return true
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.sweeper !== undefined) clearInterval(this.sweeper)
    if (registry.get(nameOf(this.addr) ?? '') === this) registry.delete(nameOf(this.addr) ?? '')
    this.owner.listeners.delete(this)
    for (const c of [...this.conns]) c.close()
  }
}

/** The in-process transport; see the module doc. */
export class MemoryTransport implements Transport {
  readonly name = 'memory' as const
  readonly reliable: boolean
  readonly mtu: number
  /** @internal listeners of this transport, for {@link MemoryTransport.close}. */
  readonly listeners = new Set<MemoryListener>()
  private readonly conns = new Set<MemoryConn>()
  private readonly model: LinkModel
  private readonly limits: { maxConns: number, idleMs: number }
  private readonly id = nextId++
  private dials = 0
  private closed = false

  constructor (opts: MemoryTransportOptions = {}) {
    this.model = resolveModel(opts)
    this.limits = { maxConns: opts.maxConns ?? 1024, idleMs: opts.idleMs ?? 120_000 }
    this.reliable = this.model.reliable
    this.mtu = this.model.mtu
  }

  bid (addr: string): number | undefined {
    return nameOf(addr) !== undefined ? 5 : undefined
  }

  async dial (addr: string, opts: DialOptions): Promise<Conn> {
    throwIfAborted(opts.signal)
    if (this.closed) throw new ClosedError('memory transport is closed')
    const name = nameOf(addr)
    if (name === undefined) throw new TransportError(`memory transport cannot dial ${addr}`)
    if (this.model.latencyMs > 0) {
      let timer: NodeJS.Timeout | undefined
      await raceSignal(new Promise<void>(resolve => { timer = setTimeout(resolve, this.model.latencyMs) }), opts.signal, () => clearTimeout(timer))
      if (this.closed) throw new ClosedError('memory transport is closed')
    }
    const listener = registry.get(name)
    if (listener === undefined || listener.closed) throw new TransportError(`nobody listens on ${addr}`)
    if (listener.owner.reliable !== this.reliable) throw new TransportError(`${addr} is ${listener.owner.reliable ? '' : 'un'}reliable, this transport is not`)

    const local = new MemoryConn(addr, this.model, c => this.conns.delete(c))
    const remote = new MemoryConn(`${SCHEME}~dialer-${this.id}-${this.dials++}`, listener.owner.model, c => listener.conns.delete(c))
    this.conns.add(local)
    if (this.reliable) {
      MemoryConn.pair(local, remote)
      if (!listener.accept(remote)) {
        this.conns.delete(local)
        throw new TransportError(`${addr} refused the conn (closed or full)`)
      }
    } else {
      MemoryConn.pair(local, remote, c => listener.accept(c))
    }
    return local
  }

  async listen (addr: string, onConn: (conn: Conn) => void, opts?: ListenOptions): Promise<Listener> {
    throwIfAborted(opts?.signal)
    if (this.closed) throw new ClosedError('memory transport is closed')
    let name = nameOf(addr)
    if (name === undefined) throw new TransportError(`memory transport cannot listen on ${addr}`)
    if (name === '' || name === '0') name = `auto-${this.id}-${nextId++}`
    if (registry.has(name)) throw new TransportError(`${SCHEME}${name} is already in use`)
    const listener = new MemoryListener(SCHEME + name, this, onConn, this.limits)
    registry.set(name, listener)
    this.listeners.add(listener)
    opts?.signal?.addEventListener('abort', () => { void listener.close() }, { once: true })
    return listener
  }

  async close (): Promise<void> {
    this.closed = true
    await Promise.all([...this.listeners].map(async l => { await l.close() }))
    for (const c of [...this.conns]) c.close()
  }
}

/** Creates a {@link MemoryTransport}. */
export function createMemoryTransport (opts?: MemoryTransportOptions): MemoryTransport {
  return new MemoryTransport(opts)
}
