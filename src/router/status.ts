/**
 * The router's state as the control API serves it and `umbra status` shows it. Plain JSON:
 * no bytes, no secrets.
 */
import type { TransportName } from '../link/transport.ts'
import type { AccountingStatus } from '../accounting/accountant.ts'
import type { CoverStats } from './link-cover.ts'

/** A snapshot of a running router. */
export interface RouterStatus {
  /** Router ID (hex SHA-256 of its identity). */
  id: string
  /** Network name. */
  network: string
  /** Package version. */
  version: string
  /** Milliseconds since the router started. */
  uptimeMs: number
  /** Bound transport addresses. */
  addresses: string[]
  /** Open links (one per peer). */
  peers: number
  /** Open links per transport. */
  links: Record<TransportName, number>
  /** Records in the netDb. */
  netdb: { routerInfos: number, leaseSets: number }
  /** Load per resource, per-peer credit, drops by reason (`docs/accounting.md`). */
  accounting: AccountingStatus
  /** Link chaff slots per second per link (0 = off), and real versus cover cells and bytes on links (`docs/cover.md`). */
  cover: { linkRate: number } & CoverStats
}
