/**
 * Codecs of the two datagram kinds SAM offers (protocol numbers in {@link Protocol}):
 *
 * Repliable (protocol 17): the sender's destination and its signature, so the recipient can
 * answer and knows who wrote it. Layout:
 * ```
 * 391  sender destination (Ed25519 + X25519, KEY certificate; src/identity/destination.ts)
 * 64   Ed25519 signature by the destination's signing key over (recipient hash 32 ‖ payload)
 * ...  payload, at most 31744 bytes
 * ```
 * Signing the recipient's destination hash binds a datagram to its recipient, so it cannot be
 * replayed to another destination as if it were written for it.
 *
 * Raw (protocol 18): the payload alone (at most 32768 bytes), anonymous and unauthenticated.
 * Pure; no I/O.
 */
import type { CryptoSuite } from '../crypto/types.ts'
import { SIGNATURE_BYTES } from '../crypto/types.ts'
import { DESTINATION_BYTES, readDestination, type Destination, type DestinationKeys } from '../identity/destination.ts'
import { CryptoError, DecodeError, LimitError } from '../util/errors.ts'
import { Reader } from '../wire/reader.ts'

/** Largest payload of a repliable datagram (as SAM). */
export const MAX_REPLIABLE_PAYLOAD = 31744
/** Largest payload of a raw datagram (as SAM). */
export const MAX_RAW_PAYLOAD = 32768
/** Bytes a repliable datagram adds to its payload. */
export const REPLIABLE_OVERHEAD = DESTINATION_BYTES + SIGNATURE_BYTES

const HASH_BYTES = 32

/** A verified repliable datagram. */
export interface RepliableDatagram {
  /** Who signed it (answer to the hash of `from.bytes`). */
  from: Destination
  payload: Uint8Array
}

function signedPart (toHash: Uint8Array, payload: Uint8Array): Uint8Array {
  const m = new Uint8Array(HASH_BYTES + payload.length)
  m.set(toHash)
  m.set(payload, HASH_BYTES)
  return m
}

/**
 * A repliable datagram from `keys` to the destination whose hash is `toHash`. Throws
 * LimitError if the payload is too long or `toHash` is not 32 bytes.
 */
export function encodeRepliable (crypto: CryptoSuite, keys: DestinationKeys, toHash: Uint8Array, payload: Uint8Array): Uint8Array {
  if (toHash.length !== HASH_BYTES) throw new LimitError(`datagram: recipient hash of ${toHash.length} bytes, need ${HASH_BYTES}`)
  if (payload.length > MAX_REPLIABLE_PAYLOAD) throw new LimitError(`datagram: payload of ${payload.length} bytes (at most ${MAX_REPLIABLE_PAYLOAD})`)
  const sig = crypto.sign(signedPart(toHash, payload), keys.signing.secretKey)
  const out = new Uint8Array(REPLIABLE_OVERHEAD + payload.length)
  out.set(keys.destination.bytes)
  out.set(sig, DESTINATION_BYTES)
  out.set(payload, REPLIABLE_OVERHEAD)
  return out
}

/**
 * Parses and verifies a repliable datagram addressed to us (`ownHash`: our destination hash).
 * Throws DecodeError if it is malformed, too long or from an unsupported destination, and
 * CryptoError if the signature does not verify (forged, or written for another recipient).
 * The payload is a copy.
 */
export function decodeRepliable (crypto: CryptoSuite, bytes: Uint8Array, ownHash: Uint8Array): RepliableDatagram {
  if (ownHash.length !== HASH_BYTES) throw new LimitError(`datagram: own hash of ${ownHash.length} bytes, need ${HASH_BYTES}`)
  if (bytes.length > REPLIABLE_OVERHEAD + MAX_REPLIABLE_PAYLOAD) throw new DecodeError(`datagram of ${bytes.length} bytes is too long`)
  const r = new Reader(bytes)
  const from = readDestination(r)
  const sig = r.bytes(SIGNATURE_BYTES)
  const payload = r.bytes(r.remaining).slice()
  if (!crypto.verify(sig, signedPart(ownHash, payload), from.signingKey)) throw new CryptoError('datagram: bad signature')
  return { from, payload }
}

/** A raw datagram: the payload itself. Throws LimitError if it is too long. */
export function encodeRaw (payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_RAW_PAYLOAD) throw new LimitError(`raw datagram: payload of ${payload.length} bytes (at most ${MAX_RAW_PAYLOAD})`)
  return payload.slice()
}

/** The payload of a raw datagram (a copy). Throws DecodeError if it is too long. */
export function decodeRaw (bytes: Uint8Array): Uint8Array {
  if (bytes.length > MAX_RAW_PAYLOAD) throw new DecodeError(`raw datagram of ${bytes.length} bytes is too long`)
  return bytes.slice()
}
