/**
 * The router's state as the control API serves it and `umbra status` shows it. Plain JSON:
 * no bytes, no secrets.
 */
import type { TransportName } from '../link/transport.ts'
import type { AccountingStatus } from '../accounting/accountant.ts'
import type { CoverStats } from './link-cover.ts'

/** Loops through the local destinations' own tunnels (cover loops and tunnel tests). */
export interface LoopStats {
  /** Mean ms between cover loops per pool (0 = no loop cover; tests still run). */
  loopIntervalMs: number
  /** Cover loops sent, and their bytes. */
  loopsSent: number
  loopBytesSent: number
  /** Loops (cover and tests) that came back, and that did not. */
  loopsReturned: number
  loopsLost: number
  /** Lost loops that came back late after all. */
  loopsLate: number
}

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
  /**
   * Link chaff slots per second per link (0 = off), and real versus cover cells and bytes on
   * links; loop cover's mean interval (0 = off) and loops of the local destinations' pools
   * (`docs/cover.md`).
   */
  cover: { linkRate: number } & CoverStats & LoopStats
}
