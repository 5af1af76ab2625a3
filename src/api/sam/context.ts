/**
 * What every connection of a SAM bridge shares: the router, the session registry, the limits,
 * the users (when authentication is on) and the log.
 */
import type { Logger } from '../../util/log.ts'
import type { RouterHost } from '../host.ts'
import type { Registry } from './registry.ts'
import type { SessionLimits } from './session.ts'

/** Bounds and timeouts of the bridge (defaults in bridge.ts, `SAM_DEFAULTS`). */
export interface BridgeLimits extends SessionLimits {
  /** Open TCP connections at once; more are closed at once. */
  maxConnections: number
  /** Sessions (live and being created) on the bridge. */
  maxSessions: number
  /** Largest datagram payload (bytes) on the control socket or UDP. */
  maxDatagramBytes: number
  /** Time to send HELLO after connecting (ms). */
  helloTimeoutMs: number
  /** A connection with no session closes after this long without a command (ms). */
  idleTimeoutMs: number
  /** SESSION CREATE gives up after this (ms). */
  createTimeoutMs: number
  /** STREAM CONNECT gives up after this (ms). */
  connectTimeoutMs: number
  /** NAMING LOOKUP gives up after this (ms). */
  lookupTimeoutMs: number
}

/** Shared state of one bridge. */
export interface BridgeContext {
  readonly host: RouterHost
  readonly registry: Registry
  readonly limits: BridgeLimits
  /** USER → PASSWORD; authentication is required when this is set. */
  readonly users: ReadonlyMap<string, string> | undefined
  readonly log: Logger
}
