/**
 * Options, limits and counters of the StreamManager (manager.ts), with the limits' defaults and
 * validation. Types and one pure function; no behaviour.
 */
import type { Clock } from '../util/clock.ts'
import { ConfigError } from '../util/errors.ts'
import type { StreamOptions } from './options.ts'

/** Names a remote destination (the router uses the destination hash in hex). */
export type PeerKey = string

/** Hands one message to the layer below. */
export type SendFn = (to: PeerKey, protocol: number, fromPort: number, toPort: number, data: Uint8Array) => void

/** Bounds of one manager. */
export interface StreamLimits {
  /** Streams at once, in any state until forgotten (default 1024). */
  maxStreams?: number
  /** Streams with one peer (default 128). */
  maxStreamsPerPeer?: number
  /** Accepted streams whose handshake has not completed (default 64); more SYNs are refused. */
  maxPendingAccepts?: number
  /** Send buffer and receive window of each stream, bytes (default 256 KiB, at least 16 KiB). */
  maxBufferedBytes?: number
  /** RSTs sent per second on average (burst: twice that) (default 50). */
  rstPerSecond?: number
}

/** Options of {@link StreamManager}. */
export interface StreamManagerOptions {
  clock: Clock
  send: SendFn
  /** Largest payload per packet (default 900). */
  mss?: number
  limits?: StreamLimits
  /** Timers and congestion settings of every stream (see StreamOptions). */
  stream?: Omit<StreamOptions, 'mss' | 'sendBufferBytes' | 'recvWindowBytes'>
  /** Source of stream IDs, nonzero u32 (default: crypto-random). */
  randomId?: () => number
}

/** Options of {@link StreamManager.connect}. */
export interface ConnectOptions {
  /** Our port (default 0). */
  fromPort?: number
  /** The peer's port (default 0). */
  toPort?: number
  signal?: AbortSignal
  /** The handshake must complete within this (default: the stream's connectTimeoutMs, 30 s). */
  timeoutMs?: number
  /** Bytes sent with the SYN and right behind it, before the handshake completes. */
  data?: Uint8Array
}

/** Counters of one manager. */
export interface StreamManagerStats {
  streams: number
  pendingAccepts: number
  listeners: number
  packetsIn: number
  packetsOut: number
  malformed: number
  /** Packets for no stream that were not answered (RSTs, or data racing a lost SYN). */
  unroutable: number
  refused: number
  rstSent: number
  rstSuppressed: number
  accepted: number
}

const LIMIT_DEFAULTS: Readonly<Required<StreamLimits>> = Object.freeze({
  maxStreams: 1024, maxStreamsPerPeer: 128, maxPendingAccepts: 64, maxBufferedBytes: 256 * 1024, rstPerSecond: 50
})

/** `limits` over the defaults; throws ConfigError unless every value is an integer >= 1. */
export function resolveLimits (limits: StreamLimits = {}): Required<StreamLimits> {
  const out: Required<StreamLimits> = { ...LIMIT_DEFAULTS }
  for (const [k, v] of Object.entries(limits)) {
    if (v === undefined) continue
    if (!(k in LIMIT_DEFAULTS) || typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ConfigError(`streams: limit ${k} must be an integer >= 1`)
    out[k as keyof StreamLimits] = v
  }
  return out
}
