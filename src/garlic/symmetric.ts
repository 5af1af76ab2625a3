/**
 * Noise's SymmetricState (chaining key, handshake hash, current key) for the garlic handshakes,
 * and the derivation of per-direction session keys from a chaining key.
 *
 * Same construction as src/link/noise.ts (SHA-256 hash, HKDF-SHA256 with salt = ck and 64 bytes
 * of output for MixKey), with one addition: payloads may be encrypted under an explicit nonce
 * without being mixed into `h` (NS and NSR retransmissions share one transcript; see
 * docs/garlic.md). Pure; holds no long-term secrets.
 */
import type { CryptoSuite } from '../crypto/types.ts'
import { CryptoError } from '../util/errors.ts'

const EMPTY = new Uint8Array(0)

/** Protocol names (hashed into the initial state, so the patterns never share keys). */
export const PROTOCOL_IK = 'Umbra_Garlic_IK_25519_ChaChaPoly_SHA256'
export const PROTOCOL_N = 'Umbra_Garlic_N_25519_ChaChaPoly_SHA256'
/** Prologue of every garlic handshake (the protocol version). */
export const PROLOGUE = new TextEncoder().encode('umbra/garlic/1')

/** The 12-byte ChaChaPoly nonce of counter `n`: 4 zero bytes, then `n` as u64 little-endian. */
export function nonce12 (n: number): Uint8Array {
  const b = new Uint8Array(12)
  const v = new DataView(b.buffer)
  v.setUint32(4, n >>> 0, true)
  v.setUint32(8, Math.floor(n / 0x1_0000_0000) >>> 0, true)
  return b
}

/** `a || b`. */
export function concat (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

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

/** X25519, with a low-order result surfacing as CryptoError (dropped by `open`). */
export function dh (c: CryptoSuite, sk: Uint8Array, pk: Uint8Array): Uint8Array {
  return c.x25519(sk, pk)
}

/** Noise's SymmetricState. */
export class SymmetricState {
  ck: Uint8Array
  h: Uint8Array
  k: Uint8Array | undefined

  constructor (private readonly c: CryptoSuite, protocol: string) {
    const name = new TextEncoder().encode(protocol)
    this.h = name.length <= 32 ? concat(name, new Uint8Array(32 - name.length)) : c.sha256(name)
    this.ck = this.h
    this.mixHash(PROLOGUE)
  }

  /** h = SHA-256(h || data). */
  mixHash (data: Uint8Array): void { this.h = this.c.sha256(concat(this.h, data)) }

  /** (ck, k) = HKDF(ck, ikm); the DH output `ikm` is wiped. */
  mixKey (ikm: Uint8Array): void {
    const out = this.c.hkdf(ikm, this.ck, EMPTY, 64)
    ikm.fill(0)
    this.ck = out.slice(0, 32)
    this.k = out.slice(32, 64)
    out.fill(0)
  }

  private key (): Uint8Array {
    if (this.k === undefined) throw new CryptoError('no key mixed yet')
    return this.k
  }

  /** EncryptAndHash with nonce 0 (each key encrypts exactly one transcript field). */
  encryptAndHash (pt: Uint8Array): Uint8Array {
    const ct = this.c.aeadEncrypt(this.key(), nonce12(0), pt, this.h)
    this.mixHash(ct)
    return ct
  }

  /** DecryptAndHash with nonce 0; throws CryptoError if authentication fails. */
  decryptAndHash (ct: Uint8Array): Uint8Array {
    const pt = this.c.aeadDecrypt(this.key(), nonce12(0), ct, this.h)
    this.mixHash(ct)
    return pt
  }
}
