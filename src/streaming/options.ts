/**
 * Tunables of one stream and their defaults (docs/streaming.md, "Timers and defaults"), with
 * validation. The defaults are chosen for tunnels: round trips of 5-30 ms on a local testnet
 * and up to seconds across a loaded network, messages of up to about 1 KiB.
 */
import { ConfigError } from '../util/errors.ts'
import { MAX_PAYLOAD, MIN_MSS } from './packet.ts'

/** Options of one stream. All times are milliseconds, sizes bytes. */
export interface StreamOptions {
  /** Largest payload per packet we send and announce (default 900). */
  mss?: number
  /** Bound on bytes written but not yet acknowledged (default 256 KiB). */
  sendBufferBytes?: number
  /** Receive buffer: received bytes not yet read, and the window we advertise (default 256 KiB, at least 16 KiB). */
  recvWindowBytes?: number
  /** RTO before the first RTT sample (default 1000, RFC 6298 2.1). */
  initialRtoMs?: number
  /**
   * Floor of the RTO (default 100). Testnet tunnels have RTTs of 5-30 ms, so SRTT + 4·RTTVAR is
   * usually below 100 ms; the floor keeps a jitter spike (a busy hop, a delayed ACK) from firing
   * a spurious timeout, which would collapse the window, while a lost tail still costs only a
   * few RTTs. On slower paths the computed RTO is above the floor and the floor does nothing.
   */
  minRtoMs?: number
  /** Ceiling of the RTO with backoff (default 20000). */
  maxRtoMs?: number
  /** Consecutive RTOs (or unanswered window probes) tolerated; one more fails the stream (default 8). */
  maxRetransmits?: number
  /** Longest an ACK is held back (default 5); every second packet is acknowledged at once. */
  ackDelayMs?: number
  /** The handshake must complete within this (default 30000). */
  connectTimeoutMs?: number
  /** No data moving either way for this long closes the stream with a TimeoutError (default 300000). */
  idleTimeoutMs?: number
  /** Hard cap on the congestion window, in packets (default 1024). */
  maxCwndPackets?: number
}

/** Defaults of {@link StreamOptions}. */
export const STREAM_DEFAULTS: Readonly<Required<StreamOptions>> = Object.freeze({
  mss: 900,
  sendBufferBytes: 256 * 1024,
  recvWindowBytes: 256 * 1024,
  initialRtoMs: 1000,
  minRtoMs: 100,
  maxRtoMs: 20_000,
  maxRetransmits: 8,
  ackDelayMs: 5,
  connectTimeoutMs: 30_000,
  idleTimeoutMs: 300_000,
  maxCwndPackets: 1024
})

/**
 * Window a sender assumes before it has heard from the peer (data riding behind the SYN), and so
 * the smallest receive window a stream may have.
 */
export const INITIAL_PEER_WINDOW = 16 * 1024
/** MSS a sender assumes before the peer's MSS option arrived. */
export const DEFAULT_MSS = 900

/** `opts` over the defaults; throws ConfigError on a value out of range. */
export function resolveOptions (opts: StreamOptions = {}): Required<StreamOptions> {
  const o: Required<StreamOptions> = { ...STREAM_DEFAULTS }
  for (const [k, v] of Object.entries(opts)) {
    if (v === undefined) continue
    if (!(k in STREAM_DEFAULTS)) throw new ConfigError(`stream: unknown option ${k}`)
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ConfigError(`stream: ${k} must be a finite number >= 0`)
    o[k as keyof StreamOptions] = v
  }
  if (!Number.isInteger(o.mss) || o.mss < MIN_MSS || o.mss > MAX_PAYLOAD) throw new ConfigError(`stream: mss must be an integer in ${MIN_MSS}..${MAX_PAYLOAD}`)
  if (o.recvWindowBytes < INITIAL_PEER_WINDOW || o.recvWindowBytes > 0xffff_ffff) throw new ConfigError(`stream: recvWindowBytes must be in ${INITIAL_PEER_WINDOW}..2^32-1`)
  if (o.sendBufferBytes < 1) throw new ConfigError('stream: sendBufferBytes must be >= 1')
  if (o.minRtoMs <= 0 || o.minRtoMs > o.maxRtoMs) throw new ConfigError('stream: need 0 < minRtoMs <= maxRtoMs')
  if (o.maxCwndPackets < 2) throw new ConfigError('stream: maxCwndPackets must be >= 2')
  if (!Number.isInteger(o.maxRetransmits)) throw new ConfigError('stream: maxRetransmits must be an integer')
  if (o.connectTimeoutMs <= 0 || o.idleTimeoutMs <= 0) throw new ConfigError('stream: timeouts must be > 0')
  return o
}
