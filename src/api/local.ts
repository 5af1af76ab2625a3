/**
 * Starts a router's local API services from its config: the SAM bridge, the SOCKS5 proxy
 * (its streams leave through one shared client destination, made when the first client
 * connects) and the server tunnels, with their keys from the data directory. All bound to
 * loopback. One `close()` stops them all.
 */
import { loadOrCreateDestinationKeys } from '../identity/keystore.ts'
import type { LocalService, ServerTunnelConfig } from '../router/config.ts'
import type { DestinationSession } from '../router/session.ts'
import type { Logger } from '../util/log.ts'
import { startSamBridge, type SamBridge } from './sam/bridge.ts'
import type { RouterHost } from './host.ts'
import { startServerTunnel, type ServerTunnel } from './server-tunnel.ts'
import { startSocksServer, type SocksOptions, type SocksServer } from './socks/server.ts'
import { generateDestination } from '../identity/destination.ts'

/** What to start. */
export interface LocalApiConfig {
  dataDir: string
  sam: (LocalService & { udpPort: number }) | null
  socks: LocalService | null
  serverTunnels: readonly ServerTunnelConfig[]
}

/** The running services. */
export interface LocalApis {
  readonly sam: SamBridge | undefined
  readonly socks: SocksServer | undefined
  readonly tunnels: readonly ServerTunnel[]
  close (): Promise<void>
}

/** How the services are reached, as `umbra router` prints them: `host:port udp:port` / `host:port`, or `off`. */
export function describeApis (apis: LocalApis): { sam: string, socks: string } {
  return {
    sam: apis.sam !== undefined ? `${apis.sam.bind}:${apis.sam.port} udp:${apis.sam.udpPort}` : 'off',
    socks: apis.socks !== undefined ? `${apis.socks.host}:${apis.socks.port}` : 'off'
  }
}

/** Opens SOCKS streams from one lazily created transient destination (see module doc). */
function socksConnector (host: RouterHost): { connect: SocksOptions['connect'], close: () => Promise<void> } {
  let client: Promise<DestinationSession> | undefined
  return {
    connect: async (target, signal) => {
      if (client === undefined) {
        const made = host.createDestination({ keys: generateDestination(host.crypto), pool: {} })
        client = made
        made.catch(() => { if (client === made) client = undefined })
      }
      const session = await client
      return await session.connect(target.host, { toPort: target.port, signal })
    },
    close: async () => {
      const c = await client?.catch(() => undefined)
      if (c !== undefined) await host.closeDestination(c)
    }
  }
}

/** Starts every configured service; on failure, stops what started and rethrows. */
export async function startLocalApis (host: RouterHost, cfg: LocalApiConfig, log: Logger): Promise<LocalApis> {
  let sam: SamBridge | undefined
  let socks: SocksServer | undefined
  const connector = socksConnector(host)
  const tunnels: ServerTunnel[] = []
  const close = async (): Promise<void> => {
    await Promise.allSettled([sam?.close(), socks?.close(), ...tunnels.map(async t => { await t.close() })])
    await connector.close()
  }
  try {
    if (cfg.sam !== null) {
      sam = await startSamBridge({ host, bind: cfg.sam.host, port: cfg.sam.port, udpPort: cfg.sam.udpPort, log: log.child({ component: 'sam' }), ...(cfg.sam.users !== undefined ? { users: cfg.sam.users } : {}) })
    }
    if (cfg.socks !== null) {
      socks = await startSocksServer({ host: cfg.socks.host, port: cfg.socks.port, connect: connector.connect, log: log.child({ component: 'socks' }), ...(cfg.socks.users !== undefined ? { users: cfg.socks.users } : {}) })
    }
    for (const t of cfg.serverTunnels) {
      const { keys } = await loadOrCreateDestinationKeys(host.crypto, cfg.dataDir, t.name)
      tunnels.push(startServerTunnel(host, { name: t.name, keys, host: t.host, port: t.port, log: log.child({ component: 'tunnel', name: t.name }), ...(t.hops !== undefined ? { hops: t.hops } : {}) }))
    }
  } catch (err) {
    await close()
    throw err
  }
  return { sam, socks, tunnels, close }
}
