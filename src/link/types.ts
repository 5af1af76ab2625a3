/**
 * Link-layer types and defaults shared by the session, carriers and manager.
 */
import type { CryptoSuite, KeyPair } from '../crypto/types.ts'
import type { Clock } from '../util/clock.ts'

/** What the link layer needs to know of a peer: its ID, static key and addresses. */
export interface PeerContact {
  /** The peer's router hash (32 bytes). */
  id: Uint8Array
  /** The peer's X25519 static key, from its verified RouterInfo. */
  staticKey: Uint8Array
  /** Transport addresses, e.g. `udp://127.0.0.1:7001`. */
  addresses: string[]
}

/**
 * Checks the RouterInfo an initiator sent in handshake message 3 and that `remoteStatic`
 * (proven by the handshake) is the key it names. Throws to refuse the peer.
 */
export type VerifyPeer = (info: Uint8Array, remoteStatic: Uint8Array) => PeerContact | Promise<PeerContact>

/** Per-link limits and timers. All have defaults (see LINK_DEFAULTS). */
export interface LinkLimits {
  /** Largest frame plaintext built on stream links (batching unit). */
  maxFramePlaintext: number
  /** Largest frame accepted from a peer (ciphertext bytes). */
  maxFrameCiphertext: number
  /** Frame sizes are padded to a multiple of this. */
  padQuantum: number
  /** Messages queued beyond this many bytes make `send` return false. */
  highWaterBytes: number
  /** Messages queued beyond this many bytes are refused (LimitError). */
  maxQueuedBytes: number
  /** A handshake must complete within this. */
  handshakeTimeoutMs: number
  /** Send a keepalive after this long without sending. */
  keepaliveMs: number
  /** Close the link after this long without receiving anything. */
  idleTimeoutMs: number
  /** Rotate keys after this many frames/packets. */
  rekeyEvery: number
  /** Rotate keys after this long (stream links; datagram links rotate by count). */
  rekeyIntervalMs: number
  /** Largest clock difference accepted in the handshake. */
  maxSkewMs: number
}

export const LINK_DEFAULTS: LinkLimits = {
  maxFramePlaintext: 60 * 1024,
  maxFrameCiphertext: 64 * 1024 - 1,
  padQuantum: 128,
  highWaterBytes: 4 * 1024 * 1024,
  maxQueuedBytes: 16 * 1024 * 1024,
  handshakeTimeoutMs: 10_000,
  keepaliveMs: 15_000,
  idleTimeoutMs: 60_000,
  rekeyEvery: 1 << 20,
  rekeyIntervalMs: 30 * 60_000,
  maxSkewMs: 120_000
}

/** Everything a link needs about its own router. */
export interface LinkContext {
  crypto: CryptoSuite
  clock: Clock
  /** Our X25519 static key pair. */
  staticKey: KeyPair
  /** Our signed RouterInfo bytes, sent to responders in handshake message 3. */
  ownInfo: Uint8Array
  /** Network name bound into every handshake; routers of different networks never link. */
  network: string
  verifyPeer: VerifyPeer
  limits: LinkLimits
  /** Remembers handshake ephemeral keys; `add` returns false for one seen before (a replay). */
  replayCache?: { add (key: Uint8Array, now: number): boolean }
}

/** Counters of one link. */
export interface LinkStats {
  messagesSent: number
  messagesReceived: number
  bytesSent: number
  bytesReceived: number
  framesSent: number
  framesReceived: number
  /** Datagram links: packets dropped as forged, replayed or stale. */
  packetsDropped: number
  /** Datagram links: retransmitted packets. */
  retransmits: number
  /** Key rotations so far (both directions). */
  rekeys: number
}

export function newStats (): LinkStats {
  return { messagesSent: 0, messagesReceived: 0, bytesSent: 0, bytesReceived: 0, framesSent: 0, framesReceived: 0, packetsDropped: 0, retransmits: 0, rekeys: 0 }
}
