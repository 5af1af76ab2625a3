/**
 * Options of the garlic layer, their defaults and validation, and the stats it reports.
 * Pure data; no behaviour beyond checking numbers.
 */
import { ConfigError } from '../util/errors.ts'
import type { Destination } from '../identity/destination.ts'
import type { DropReason } from './layout.ts'

/** Bounds and timers of a {@link Garlic} instance (all optional). */
export interface GarlicOptions {
  /** Most sessions kept; the least recently used is evicted beyond it. Default 4096. */
  maxSessions?: number
  /**
   * `tick` drops a handshake nothing arrived on for this long (sending does not count: the peer
   * may have lost it), and a session once none is left. Default 10 min.
   */
  sessionIdleMs?: number
  /** Tags expected beyond the highest received (and kept behind it for reordering). Default 128. */
  tagWindow?: number
  /** While no NSR has arrived, an NS is retransmitted (instead of an ES) at most this often. Default 5 s. */
  nsResendMs?: number
  /**
   * While answering the peer's handshake with NSRs and receiving nothing on it for this long,
   * start our own handshake instead (the peer may not hold that one). Default 15 s.
   */
  replyTimeoutMs?: number
  /**
   * Oldest NS accepted, by its handshake's creation time (a pending handshake is replaced by a
   * new one after half of this). Default 5 min.
   */
  nsMaxAgeMs?: number
  /** How far in the future an NS timestamp may be. Default 2 min. */
  maxClockSkewMs?: number
  /** NS replay cache entries (see replay.ts). Default 16384. */
  replayCacheSize?: number
}

/** Options with every default filled in. */
export type ResolvedOptions = Required<GarlicOptions>

/** The defaults. */
export const DEFAULT_OPTIONS: ResolvedOptions = Object.freeze({
  maxSessions: 4096,
  sessionIdleMs: 10 * 60_000,
  tagWindow: 128,
  nsResendMs: 5_000,
  replyTimeoutMs: 15_000,
  nsMaxAgeMs: 5 * 60_000,
  maxClockSkewMs: 2 * 60_000,
  replayCacheSize: 16384
})

const RANGES: Record<keyof GarlicOptions, [number, number]> = {
  maxSessions: [1, 1_000_000],
  sessionIdleMs: [1, 7 * 24 * 3600_000],
  tagWindow: [1, 65536],
  nsResendMs: [0, 24 * 3600_000],
  replyTimeoutMs: [1000, 24 * 3600_000],
  nsMaxAgeMs: [1000, 24 * 3600_000],
  maxClockSkewMs: [0, 24 * 3600_000],
  replayCacheSize: [1, 10_000_000]
}

/** Fills defaults; throws ConfigError for a value that is not an integer within its range. */
export function resolveOptions (opts: GarlicOptions = {}): ResolvedOptions {
  const out: ResolvedOptions = { ...DEFAULT_OPTIONS }
  for (const key of Object.keys(RANGES) as Array<keyof GarlicOptions>) {
    const v = opts[key]
    if (v === undefined) continue
    const [lo, hi] = RANGES[key]
    if (!Number.isInteger(v) || v < lo || v > hi) throw new ConfigError(`garlic option ${key} must be an integer in ${lo}..${hi}, not ${v}`)
    out[key] = v
  }
  return out
}

/** What `open` returns for a message addressed to us. */
export interface Opened {
  /** The sender, or undefined for an anonymous message. */
  from?: Destination
  /** The sender's destination hash in hex (SHA-256 of its bytes), with `from`. */
  fromId?: string
  payload: Uint8Array
  /** A LeaseSet the sender bundled (opaque bytes; the router verifies it). */
  leaseSet?: Uint8Array
}

/** Counters of a {@link Garlic} instance. */
export interface GarlicStats {
  /** Sessions currently held. */
  readonly sessions: number
  /** Messages produced by `seal` and `sealAnonymous`. */
  sealed: number
  /** Messages `open` returned. */
  opened: number
  /** Messages `open` dropped, by reason. */
  readonly dropped: Record<DropReason, number>
}
