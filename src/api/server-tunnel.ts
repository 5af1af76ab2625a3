/**
 * Server tunnels: a local TCP service (a web server, say) published under a persistent
 * destination. Every stream that reaches the destination, on any port, is relayed to
 * host:port over a new TCP connection; if the service does not answer within a few seconds
 * the stream is reset. The keys live in the data directory (`destinations/<name>.key`), so
 * the address stays the same across restarts. Setup: `docs/server-tunnels.md`.
 */
import * as net from 'node:net'
import { b32Address, type DestinationKeys } from '../identity/destination.ts'
import type { DestinationSession } from '../router/session.ts'
import type { StreamSocket } from '../streaming/socket.ts'
import type { Logger } from '../util/log.ts'
import type { RouterHost } from './host.ts'
import { spliceToTcp } from './splice.ts'

/** Options of {@link startServerTunnel}. */
export interface ServerTunnelOptions {
  name: string
  keys: DestinationKeys
  /** The local service. */
  host: string
  port: number
  /** Tunnel length; default the router's. */
  hops?: number
  /** Streams relayed at once; more are reset. Default 256. */
  maxStreams?: number
  /** The service must accept within this (ms). Default 5000. */
  connectTimeoutMs?: number
  log: Logger
  signal?: AbortSignal
}

/** A server tunnel. */
export interface ServerTunnel {
  readonly name: string
  /** `<52 chars>.b32.umbra`: known at once, from the keys. */
  readonly address: string
  /** Resolves once its tunnels are up and its LeaseSet is published (it waits for the network). */
  readonly ready: Promise<DestinationSession>
  readonly stats: { accepted: number, relayed: number, failed: number, active: number }
  close (): Promise<void>
}

/**
 * Starts a server tunnel. It returns at once: the destination comes up in the background (see
 * `ready`), so a router does not wait for its network before it serves anything else.
 */
export function startServerTunnel (host: RouterHost, o: ServerTunnelOptions): ServerTunnel {
  const abort = new AbortController()
  const signal = o.signal !== undefined ? AbortSignal.any([o.signal, abort.signal]) : abort.signal
  const starting = host.createDestination({ keys: o.keys, pool: o.hops !== undefined ? { length: o.hops } : {}, signal })
  const stats = { accepted: 0, relayed: 0, failed: 0, active: 0 }
  const open = new Set<net.Socket>()
  const max = o.maxStreams ?? 256
  const relay = (s: StreamSocket): void => {
    stats.accepted++
    s.on('error', () => {})
    if (stats.active >= max) { stats.failed++; s.destroy(); return }
    stats.active++
    const c = spliceToTcp(s, {
      host: o.host,
      port: o.port,
      connectTimeoutMs: o.connectTimeoutMs ?? 5000,
      onConnect: () => { stats.relayed++ },
      onFail: (err) => { stats.failed++; o.log.debug('server tunnel: service did not answer', { name: o.name, error: err.message }) }
    })
    open.add(c)
    c.once('close', () => { open.delete(c); stats.active-- })
  }
  const ready = starting.then((session) => {
    session.listen('any', relay)
    o.log.info('server tunnel up', { name: o.name, target: `${o.host}:${o.port}` })
    return session
  })
  ready.catch((err: unknown) => {
    if (!abort.signal.aborted) o.log.warn('server tunnel failed to start', { name: o.name, error: err instanceof Error ? err.message : String(err) })
  })
  return {
    name: o.name,
    address: b32Address(host.crypto, o.keys.destination.bytes),
    ready,
    stats,
    close: async () => {
      abort.abort()
      for (const c of open) c.destroy()
      const session = await ready.catch(() => undefined)
      if (session !== undefined) await host.closeDestination(session)
    }
  }
}
