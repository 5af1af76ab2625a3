/**
 * What the local API (SAM bridge, SOCKS proxy, server tunnels) needs from the router, as one
 * small interface so that the API layer depends on a shape rather than on the whole Router,
 * and {@link routerHost}, the adapter for a running Router.
 */
import type { CryptoSuite } from '../crypto/types.ts'
import { destinationHash, type Destination, type DestinationKeys } from '../identity/destination.ts'
import type { Router } from '../router/router.ts'
import type { DestinationSession } from '../router/session.ts'
import { poolSettings, type PoolSettings } from '../tunnel/pool.ts'

/** The router as the local API sees it. */
export interface RouterHost {
  readonly crypto: CryptoSuite
  /** The router's tunnel pool defaults (clients' options override some of them). */
  readonly defaultPool: PoolSettings
  /** Starts a destination; resolves once its tunnels are ready and its LeaseSet is out. */
  createDestination (opts: { keys: DestinationKeys, pool: Partial<PoolSettings>, localDelivery?: boolean, signal?: AbortSignal }): Promise<DestinationSession>
  closeDestination (s: DestinationSession): Promise<void>
  /** The destination with this hash: a local one, or from its LeaseSet in the netDb (NotFoundError). */
  findDestination (hash: Uint8Array, signal?: AbortSignal): Promise<Destination>
}

/** The {@link RouterHost} of a running router. */
export function routerHost (router: Router): RouterHost {
  return {
    crypto: router.crypto,
    defaultPool: poolSettings(router.config.pool),
    createDestination: async (opts) => await router.createDestination(opts),
    closeDestination: async (s) => { await router.closeDestination(s) },
    findDestination: async (hash, signal) => {
      for (const s of router.sessions) {
        if (router.crypto.equal(destinationHash(router.crypto, s.destination.bytes), hash)) return s.destination
      }
      return (await router.netdb.findLeaseSet(hash, signal)).destination
    }
  }
}
