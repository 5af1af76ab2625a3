/**
 * LeaseSet: a destination's signed list of leases (the inbound tunnel gateways that reach it,
 * each with an end time), as published in the netDb under the destination hash.
 *
 * Parse, then verify (STYLE.md §9): {@link parseLeaseSet} checks structure and bounds only;
 * {@link verifyLeaseSet} checks the destination's signature and the times, and is the only
 * producer of `Verified<LeaseSet>`. `raw` keeps the exact signed bytes for re-sending. No I/O,
 * no clock: `now` is an argument. Tunnels (which fill the leases) come with the tunnel layer.
 */
import type { CryptoSuite } from '../crypto/types.ts'
import { Reader } from '../wire/reader.ts'
import { Writer } from '../wire/writer.ts'
import { ConfigError, CryptoError, DecodeError, LimitError } from '../util/errors.ts'
import { DESTINATION_BYTES, readDestination, type Destination, type DestinationKeys } from './destination.ts'
import { appendSignature, SIGNATURE_BYTES, trailingSignatureValid } from './signed.ts'
import { markVerified, type Verified } from './verified.ts'

/** Layout version of a LeaseSet. */
export const LEASE_SET_VERSION = 1
/** At most this many leases. */
export const MAX_LEASES = 16
/** A LeaseSet may not claim to stay valid longer than this after it was published (20 min). */
export const MAX_LEASE_SET_LIFETIME_MS = 20 * 60_000
const LEASE_BYTES = 32 + 4 + 8
const SIG = SIGNATURE_BYTES
/** Largest encoded LeaseSet (1177 bytes). */
export const MAX_LEASE_SET_BYTES = 1 + DESTINATION_BYTES + 8 + 8 + 1 + MAX_LEASES * LEASE_BYTES + SIG

/** One inbound tunnel that reaches the destination. */
export interface Lease {
  /** Router hash of the tunnel's gateway (32 bytes). */
  readonly gateway: Uint8Array
  /** Tunnel ID at the gateway. */
  readonly tunnelId: number
  /** When the tunnel expires (wall-clock ms). */
  readonly end: number
}

/** A LeaseSet with its signature and exact encoded bytes. */
export interface LeaseSet {
  readonly destination: Destination
  /** Wall-clock ms when it was signed; a newer LeaseSet replaces an older one. */
  readonly published: number
  /** Wall-clock ms after which it is dropped. */
  readonly expires: number
  readonly leases: readonly Lease[]
  readonly signature: Uint8Array
  readonly raw: Uint8Array
}

/** A structurally valid LeaseSet whose signature and times have not been checked. */
export type UncheckedLeaseSet = LeaseSet

function problem (published: number, expires: number, leases: readonly Lease[]): string | undefined {
  if (!Number.isSafeInteger(published) || published < 0) return 'published must be a non-negative integer'
  if (!Number.isSafeInteger(expires) || expires <= published) return 'expires must be after published'
  if (expires - published > MAX_LEASE_SET_LIFETIME_MS) return 'expires more than 20 minutes after published'
  if (leases.length > MAX_LEASES) return `more than ${MAX_LEASES} leases`
  for (const l of leases) {
    if (l.gateway.length !== 32) return 'lease gateway must be a 32-byte router hash'
    if (!Number.isInteger(l.tunnelId) || l.tunnelId < 0 || l.tunnelId > 0xffff_ffff) return 'tunnel ID must be a u32'
    if (!Number.isSafeInteger(l.end) || l.end < 0 || l.end > expires) return 'lease must end by the LeaseSet expiry'
  }
  return undefined
}

/**
 * Signs a LeaseSet for `keys`. Layout (integers big-endian):
 * ```
 * u8   version = 1
 * 391  destination (I2P public-destination layout)
 * u64  published (ms since the Unix epoch)
 * u64  expires (ms; after published, at most 20 min later)
 * u8   lease count (0..16), then per lease: 32 gateway router hash, u32 tunnel ID, u64 end (ms, <= expires)
 * 64   Ed25519 signature by the destination's signing key over all preceding bytes
 * ```
 * Throws ConfigError for fields out of bounds.
 */
export function signLeaseSet (crypto: CryptoSuite, keys: DestinationKeys, fields: { published: number, expires: number, leases: readonly Lease[] }): UncheckedLeaseSet {
  const bad = problem(fields.published, fields.expires, fields.leases)
  if (bad !== undefined) throw new ConfigError(`LeaseSet: ${bad}`)
  const w = new Writer({ initialSize: 1024, limit: MAX_LEASE_SET_BYTES })
  w.u8(LEASE_SET_VERSION).bytes(keys.destination.bytes).u64(fields.published).u64(fields.expires).u8(fields.leases.length)
  for (const l of fields.leases) w.bytes(l.gateway).u32(l.tunnelId).u64(l.end)
  return parseLeaseSet(appendSignature(crypto, w.finish(), keys.signing.secretKey))
}

/** Parses a LeaseSet (layout: see {@link signLeaseSet}); bounds only, DecodeError on anything wrong. Copies. */
export function parseLeaseSet (bytes: Uint8Array): UncheckedLeaseSet {
  if (bytes.length > MAX_LEASE_SET_BYTES) throw new DecodeError(`LeaseSet of ${bytes.length} bytes exceeds maximum ${MAX_LEASE_SET_BYTES}`)
  const raw = bytes.slice()
  const r = new Reader(raw)
  const version = r.u8()
  if (version !== LEASE_SET_VERSION) throw new DecodeError(`unknown LeaseSet version ${version}`)
  const destination = readDestination(r)
  const published = r.u64Number()
  const expires = r.u64Number()
  const n = r.u8()
  if (n > MAX_LEASES) throw new DecodeError(`LeaseSet has ${n} leases, over ${MAX_LEASES}`)
  const leases: Lease[] = []
  for (let i = 0; i < n; i++) leases.push(Object.freeze({ gateway: r.bytes(32), tunnelId: r.u32(), end: r.u64Number() }))
  const signature = r.bytes(SIG)
  r.end()
  const bad = problem(published, expires, leases)
  if (bad !== undefined) throw new DecodeError(`LeaseSet: ${bad}`)
  return Object.freeze({ destination, published, expires, leases: Object.freeze(leases), signature, raw })
}

/**
 * Verifies `u`: re-parses `raw`, checks the signature by the destination's own key
 * (CryptoError), that it was not published more than `maxSkewMs` in the future and has not
 * expired (LimitError). The only producer of `Verified<LeaseSet>`.
 */
export function verifyLeaseSet (crypto: CryptoSuite, u: UncheckedLeaseSet, window: { now: number, maxSkewMs: number }): Verified<LeaseSet> {
  const ls = parseLeaseSet(u.raw)
  if (!trailingSignatureValid(crypto, ls.raw, ls.signature, ls.destination.signingKey)) throw new CryptoError('LeaseSet signature is invalid')
  if (ls.published > window.now + window.maxSkewMs) throw new LimitError('LeaseSet published time is too far in the future')
  if (ls.expires <= window.now) throw new LimitError('LeaseSet has expired')
  return markVerified(ls)
}
