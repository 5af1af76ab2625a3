/**
 * NetDb records: a verified RouterInfo or LeaseSet under its key, and the one function that
 * turns bytes from a peer (or from disk) into such a record. Only this function makes a
 * {@link NetDbRecord}, and it only does so after the signature, size and time checks pass, so
 * nothing unverified can enter the store (the record types hold `Verified<…>` values).
 */
import type { CryptoSuite } from '../crypto/types.ts'
import { parseRouterInfo, routerHash, verifyRouterInfo, type RouterInfo, type Verified } from '../identity/index.ts'
import { DESTINATION_BYTES, destinationHash } from '../identity/destination.ts'
import { ROUTER_IDENTITY_BYTES } from '../identity/router-identity.ts'
import { parseLeaseSet, verifyLeaseSet, type LeaseSet } from '../identity/lease-set.ts'
import { toHex } from '../util/bytes.ts'
import { CryptoError } from '../util/errors.ts'
import { RecordKind } from './messages.ts'

/** What a record may claim about time. */
export interface RecordPolicy {
  /** How far in the future `published` may be. Default 2 min. */
  maxSkewMs: number
  /** A RouterInfo older than this is dropped. Default 24 h (routers republish every 30 min). */
  routerInfoMaxAgeMs: number
}

export const RECORD_POLICY_DEFAULTS: RecordPolicy = { maxSkewMs: 120_000, routerInfoMaxAgeMs: 24 * 3600_000 }

interface Common {
  /** The 32-byte key: router hash, or destination hash. */
  readonly key: Uint8Array
  /** `key` in hex, for maps. */
  readonly keyHex: string
  readonly published: number
  /** Wall-clock ms after which the record is dropped. */
  readonly expires: number
  /** Exact signed bytes, served unchanged. */
  readonly raw: Uint8Array
}
/** A verified RouterInfo under its router hash. */
export interface RouterInfoRecord extends Common { readonly kind: typeof RecordKind.ROUTER_INFO, readonly info: Verified<RouterInfo> }
/** A verified LeaseSet under its destination hash. */
export interface LeaseSetRecord extends Common { readonly kind: typeof RecordKind.LEASE_SET, readonly leaseSet: Verified<LeaseSet> }
/** A verified netDb record. */
export type NetDbRecord = RouterInfoRecord | LeaseSetRecord

/** The record of a RouterInfo already verified elsewhere (our own, or one a link checked). */
export function routerInfoRecord (crypto: CryptoSuite, info: Verified<RouterInfo>, policy: RecordPolicy): RouterInfoRecord {
  const key = routerHash(crypto, info.identity)
  return { kind: RecordKind.ROUTER_INFO, key, keyHex: toHex(key), published: info.published, expires: info.published + policy.routerInfoMaxAgeMs, raw: info.raw, info }
}

/** The record of a LeaseSet already verified (one we publish ourselves). */
export function leaseSetRecord (crypto: CryptoSuite, leaseSet: Verified<LeaseSet>): LeaseSetRecord {
  const key = destinationHash(crypto, leaseSet.destination.bytes)
  return { kind: RecordKind.LEASE_SET, key, keyHex: toHex(key), published: leaseSet.published, expires: leaseSet.expires, raw: leaseSet.raw, leaseSet }
}

/**
 * Parses and verifies `bytes` as a record of `kind`. Throws DecodeError (malformed, oversize),
 * CryptoError (bad signature) or LimitError (published too far ahead, expired). When
 * `expectKey` is given the record's own key must equal it (a lookup answer for another key is
 * poison): CryptoError otherwise.
 */
export function verifyRecord (crypto: CryptoSuite, kind: RecordKind, bytes: Uint8Array, now: number, policy: RecordPolicy, expectKey?: Uint8Array): NetDbRecord {
  let rec: NetDbRecord
  if (kind === RecordKind.ROUTER_INFO) {
    const info = verifyRouterInfo(crypto, parseRouterInfo(bytes), { now, maxSkewMs: policy.maxSkewMs, maxAgeMs: policy.routerInfoMaxAgeMs })
    rec = routerInfoRecord(crypto, info, policy)
  } else {
    rec = leaseSetRecord(crypto, verifyLeaseSet(crypto, parseLeaseSet(bytes), { now, maxSkewMs: policy.maxSkewMs }))
  }
  if (expectKey !== undefined && !crypto.equal(rec.key, expectKey)) {
    throw new CryptoError('record is not the one asked for: its key differs')
  }
  return rec
}

/**
 * The key a record's bytes claim, without verifying anything (the hash of the identity or
 * destination at its fixed offset), or undefined if too short. Only for finding a stored
 * record with the very same bytes, which then needs no second signature check.
 */
export function claimedKey (crypto: CryptoSuite, kind: RecordKind, bytes: Uint8Array): Uint8Array | undefined {
  const len = kind === RecordKind.ROUTER_INFO ? ROUTER_IDENTITY_BYTES : DESTINATION_BYTES
  return bytes.length > 1 + len ? crypto.sha256(bytes.subarray(1, 1 + len)) : undefined
}
