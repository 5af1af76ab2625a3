/**
 * The SAM v3 bridge: a TCP server for SAM commands (default 127.0.0.1:7656) and a UDP port for
 * datagrams (default 127.0.0.1:7655), both bound to loopback unless `allowRemote`. Each TCP
 * connection is a {@link SamConnection}; sessions live in one {@link Registry}. Protocol and
 * limits: `docs/sam.md`.
 */
import * as net from 'node:net'
import { isLoopbackHost } from '../../util/net.ts'
import { ConfigError } from '../../util/errors.ts'
import { silentLogger, type Logger } from '../../util/log.ts'
import { SamConnection } from './conn.ts'
import type { BridgeContext, BridgeLimits } from './context.ts'
import type { RouterHost } from '../host.ts'
import { Registry } from './registry.ts'
import { startSamUdp, type SamUdp, type UdpStats } from './udp.ts'

export type { BridgeLimits } from './context.ts'

/** Default limits and timeouts. */
export const SAM_DEFAULTS: BridgeLimits = {
  maxConnections: 1024,
  maxSessions: 64,
  maxPendingAccepts: 64,
  maxQueuedStreams: 32,
  queuedStreamMs: 10_000,
  maxControlBacklog: 1024 * 1024,
  forwardConnectMs: 5000,
  maxDatagramBytes: 32 * 1024,
  helloTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  createTimeoutMs: 120_000,
  connectTimeoutMs: 60_000,
  lookupTimeoutMs: 15_000
}

/** Options of {@link startSamBridge}. */
export interface SamBridgeOptions {
  /** The router (see `routerHost`). */
  host: RouterHost
  /** Address to bind (TCP and UDP). Default 127.0.0.1; non-loopback only with `allowRemote`. */
  bind?: string
  /** TCP port; 0 = a free one. Default 7656. */
  port?: number
  /** UDP datagram port; 0 = a free one. Default 7655. */
  udpPort?: number
  allowRemote?: boolean
  /** When set (even empty), HELLO must carry a matching USER and PASSWORD. */
  users?: ReadonlyMap<string, string> | Record<string, string>
  limits?: Partial<BridgeLimits>
  log?: Logger
}

/** A running bridge. */
export interface SamBridge {
  readonly bind: string
  readonly port: number
  readonly udpPort: number
  /** Counters: connections, sessions, datagram port. */
  stats (): { connections: number, refused: number, sessions: number, udp: UdpStats }
  /** Stops listening, closes every connection and session. Idempotent. */
  close (): Promise<void>
}

/** Starts a SAM bridge (see module doc). */
export async function startSamBridge (opts: SamBridgeOptions): Promise<SamBridge> {
  const bind = opts.bind ?? '127.0.0.1'
  if (opts.allowRemote !== true && !isLoopbackHost(bind)) throw new ConfigError(`SAM bridge: ${bind} is not a loopback address (set allowRemote to expose it)`)
  const users = opts.users === undefined ? undefined : opts.users instanceof Map ? opts.users : new Map(Object.entries(opts.users))
  const ctx: BridgeContext = {
    host: opts.host,
    registry: new Registry(),
    limits: { ...SAM_DEFAULTS, ...opts.limits },
    users,
    log: opts.log ?? silentLogger
  }
  const conns = new Set<SamConnection>()
  let refused = 0
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    if (conns.size >= ctx.limits.maxConnections) { refused++; socket.destroy(); return }
    const c = new SamConnection(socket, ctx)
    conns.add(c)
    socket.once('close', () => { conns.delete(c) })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 7656, bind, () => { server.off('error', reject); resolve() })
  })
  server.on('error', (err) => { ctx.log.warn('sam server error', { error: err.message }) })
  let udp: SamUdp
  try {
    udp = await startSamUdp(ctx, bind, opts.udpPort ?? 7655)
  } catch (err) {
    server.close()
    throw err
  }
  const port = (server.address() as net.AddressInfo).port
  ctx.log.info('SAM bridge listening', { tcp: `${bind}:${port}`, udp: `${bind}:${udp.port}`, auth: users !== undefined })
  let closing: Promise<void> | undefined
  return {
    bind,
    port,
    udpPort: udp.port,
    stats: () => ({ connections: conns.size, refused, sessions: ctx.registry.size, udp: udp.stats }),
    close: async () => {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => { server.close(() => { resolve() }) })
        for (const c of conns) c.socket.destroy()
        await stopped
        await udp.close()
      })()
      await closing
    }
  }
}
