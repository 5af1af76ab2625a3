/**
 * Garlic wire constants and the plaintext bodies carried inside the encrypted messages: type
 * bytes, fixed overheads, limits, and the (optional) LeaseSet prefix. Byte layouts of whole
 * messages are in docs/garlic.md. Pure; no crypto here (see handshake.ts and tags.ts), no I/O.
 */
import { DESTINATION_BYTES } from '../identity/destination.ts'
import { MAX_LEASE_SET_BYTES } from '../identity/lease-set.ts'
import { DecodeError, LimitError } from '../util/errors.ts'

/** Existing-session message (tagged, ChaCha20-Poly1305 under the session's key). */
export const TYPE_ES = 0x01
/** New-session message (Noise IK-like first message). */
export const TYPE_NS = 0x02
/** New-session reply (the recipient's ephemeral key; keys become forward secret). */
export const TYPE_NSR = 0x03
/** Anonymous one-off (Noise N: no sender, no session). */
export const TYPE_ANON = 0x04
/** Set in the type byte of ES and NSR when the plaintext starts with a bundled LeaseSet. */
export const FLAG_LEASE_SET = 0x80

/** Largest garlic message accepted or produced. */
export const MAX_MESSAGE_BYTES = 65536

/** Sizes of the wire fields. */
export const KEY_BYTES = 32
export const MAC_BYTES = 16
export const TAG_BYTES = 8
/** type + tag: the authenticated header of an ES message. */
export const ES_HEADER_BYTES = 1 + TAG_BYTES
/** type + tag + responder ephemeral. */
export const NSR_HEADER_BYTES = 1 + TAG_BYTES + KEY_BYTES
/** type + ephemeral + encrypted static (32 + MAC) + u16 retransmission index. */
export const NS_HEADER_BYTES = 1 + KEY_BYTES + KEY_BYTES + MAC_BYTES + 2
/** type + ephemeral. */
export const ANON_HEADER_BYTES = 1 + KEY_BYTES
/** Inside the NS plaintext: u32 timestamp, sender destination, u16 LeaseSet length. */
export const NS_BODY_FIXED_BYTES = 4 + DESTINATION_BYTES + 2

/** Bytes an ES adds to a payload (no LeaseSet): 25. */
export const ES_OVERHEAD = ES_HEADER_BYTES + MAC_BYTES
/** Bytes an NSR adds to a payload (no LeaseSet): 57. */
export const NSR_OVERHEAD = NSR_HEADER_BYTES + MAC_BYTES
/** Bytes an NS adds to a payload (no LeaseSet): 496. */
export const NS_OVERHEAD = NS_HEADER_BYTES + MAC_BYTES + NS_BODY_FIXED_BYTES
/** Bytes an anonymous message adds: 49. */
export const ANON_OVERHEAD = ANON_HEADER_BYTES + MAC_BYTES

/** Why `open()` dropped a message: the keys of `stats.dropped`. */
export type DropReason =
  /** Empty, truncated, unknown type byte, or a body that does not parse. */
  | 'malformed'
  /** Larger than {@link MAX_MESSAGE_BYTES}. */
  | 'oversize'
  /** ES/NSR tag not expected: never issued, already used (a replay), outside the window, or its session is gone. */
  | 'unknown-tag'
  /** The tag belongs to the other message kind (an NSR tag on an ES, or the reverse). */
  | 'wrong-type'
  /** Authentication failed: tampered, not for us, or a low-order key. */
  | 'auth'
  /** An NS (ephemeral key and index) already seen. */
  | 'replay'
  /** NS timestamp too old (or at or below the replay cache's watermark) or too far in the future. */
  | 'clock'
  /** The NS's destination does not carry the static key the handshake authenticated. */
  | 'sender-mismatch'

/** Whole seconds since the epoch of wall-clock `now` ms, clamped to u32 (the NS timestamp). */
export function seconds (now: number): number {
  return Math.min(Math.max(Math.floor(now / 1000), 0), 0xffff_ffff)
}

/** Big-endian u16 at `off`. */
export function readU16 (b: Uint8Array, off: number): number {
  return ((b[off] as number) << 8) | (b[off + 1] as number)
}

/** Checks a LeaseSet given to seal(): at most {@link MAX_LEASE_SET_BYTES}, and not empty. */
export function checkLeaseSet (ls: Uint8Array | undefined): void {
  if (ls === undefined) return
  if (ls.length === 0 || ls.length > MAX_LEASE_SET_BYTES) {
    throw new LimitError(`bundled LeaseSet of ${ls.length} bytes (need 1..${MAX_LEASE_SET_BYTES})`)
  }
}

/**
 * The plaintext of an ES or NSR: the payload alone, or (with {@link FLAG_LEASE_SET})
 * `u16 length || LeaseSet || payload`.
 */
export function encodeBody (payload: Uint8Array, ls: Uint8Array | undefined): Uint8Array {
  if (ls === undefined) return payload
  const out = new Uint8Array(2 + ls.length + payload.length)
  out[0] = ls.length >>> 8
  out[1] = ls.length & 0xff
  out.set(ls, 2)
  out.set(payload, 2 + ls.length)
  return out
}

/** Inverse of {@link encodeBody} (views into `plain`); throws DecodeError if malformed. */
export function decodeBody (plain: Uint8Array, hasLeaseSet: boolean): { payload: Uint8Array, leaseSet?: Uint8Array } {
  if (!hasLeaseSet) return { payload: plain }
  if (plain.length < 2) throw new DecodeError('LeaseSet length truncated')
  const n = readU16(plain, 0)
  if (n === 0 || n > MAX_LEASE_SET_BYTES || 2 + n > plain.length) throw new DecodeError(`bad LeaseSet length ${n}`)
  return { leaseSet: plain.subarray(2, 2 + n), payload: plain.subarray(2 + n) }
}

/** The fields of an NS plaintext. */
export interface NsBody {
  /** When the sender created the handshake (the same in every copy), seconds since the Unix epoch. */
  timestamp: number
  /** The sender's 391-byte destination (unparsed). */
  destination: Uint8Array
  leaseSet?: Uint8Array
  payload: Uint8Array
}

/** `u32 timestamp || destination (391) || u16 LeaseSet length (0 = none) || LeaseSet || payload`. */
export function encodeNsBody (b: NsBody): Uint8Array {
  if (b.destination.length !== DESTINATION_BYTES) throw new LimitError('NS sender destination must be 391 bytes')
  checkLeaseSet(b.leaseSet)
  const ls = b.leaseSet ?? new Uint8Array(0)
  const out = new Uint8Array(NS_BODY_FIXED_BYTES + ls.length + b.payload.length)
  new DataView(out.buffer).setUint32(0, b.timestamp >>> 0)
  out.set(b.destination, 4)
  out[4 + DESTINATION_BYTES] = ls.length >>> 8
  out[5 + DESTINATION_BYTES] = ls.length & 0xff
  out.set(ls, NS_BODY_FIXED_BYTES)
  out.set(b.payload, NS_BODY_FIXED_BYTES + ls.length)
  return out
}

/** Inverse of {@link encodeNsBody} (views into `plain`); throws DecodeError if malformed. */
export function decodeNsBody (plain: Uint8Array): NsBody {
  if (plain.length < NS_BODY_FIXED_BYTES) throw new DecodeError('NS body truncated')
  const timestamp = new DataView(plain.buffer, plain.byteOffset, 4).getUint32(0)
  const destination = plain.subarray(4, 4 + DESTINATION_BYTES)
  const n = readU16(plain, 4 + DESTINATION_BYTES)
  if (n > MAX_LEASE_SET_BYTES || NS_BODY_FIXED_BYTES + n > plain.length) throw new DecodeError(`bad LeaseSet length ${n}`)
  const body: NsBody = { timestamp, destination, payload: plain.subarray(NS_BODY_FIXED_BYTES + n) }
  if (n > 0) body.leaseSet = plain.subarray(NS_BODY_FIXED_BYTES, NS_BODY_FIXED_BYTES + n)
  return body
}
