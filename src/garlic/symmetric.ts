/**
 * The garlic handshakes' use of Noise's SymmetricState (shared with the link handshake, in
 * src/crypto/noise-symmetric.ts): protocol names, prologue, and the derivation of
 * per-direction session keys from a chaining key. Payloads encrypted under an explicit nonce
 * without being mixed into `h` (NS and NSR retransmissions share one transcript; see
 * docs/garlic.md) are sealed in handshake.ts. Pure; holds no long-term secrets.
 */
import type { CryptoSuite } from '../crypto/types.ts'
import { SymmetricState as NoiseSymmetricState } from '../crypto/noise-symmetric.ts'

const EMPTY = new Uint8Array(0)

/** Protocol names (hashed into the initial state, so the patterns never share keys). */
export const PROTOCOL_IK = 'Umbra_Garlic_IK_25519_ChaChaPoly_SHA256'
export const PROTOCOL_N = 'Umbra_Garlic_N_25519_ChaChaPoly_SHA256'
/** Prologue of every garlic handshake (the protocol version). */
export const PROLOGUE = new TextEncoder().encode('umbra/garlic/1')

/** The keys of one direction of a session: AEAD key and tag key. */
export interface DirectionKeys {
  readonly key: Uint8Array
  readonly tagKey: Uint8Array
}

/** Splits `n` 32-byte keys from `ck` with HKDF(ikm = "", salt = ck, info = label). */
export function expand (c: CryptoSuite, ck: Uint8Array, label: string, n: number): Uint8Array[] {
  const okm = c.hkdf(EMPTY, ck, label, 32 * n)
  const out: Uint8Array[] = []
  for (let i = 0; i < n; i++) out.push(okm.slice(32 * i, 32 * i + 32))
  okm.fill(0)
  return out
}

/** The shared Noise SymmetricState under a garlic protocol name and the garlic prologue. */
export class SymmetricState extends NoiseSymmetricState {
  constructor (c: CryptoSuite, protocol: string) { super(c, protocol, PROLOGUE) }
}
