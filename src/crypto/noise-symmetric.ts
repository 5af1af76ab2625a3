/**
 * Noise's SymmetricState (chaining key `ck`, handshake hash `h`, current cipher key and
 * counter) over the crypto suite: SHA-256 for the hash, HKDF-SHA256 with salt = ck and 64 bytes
 * of output for MixKey, ChaCha20-Poly1305 with the Noise nonce layout. Shared by the link
 * handshake (Noise XK, `src/link/noise.ts`) and the garlic handshakes (`src/garlic`). Pure.
 */
import type { CryptoSuite } from './types.ts'

const EMPTY = new Uint8Array(0)

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

/** Noise's SymmetricState, initialised from a protocol name and a prologue. */
export class SymmetricState {
  ck: Uint8Array
  h: Uint8Array
  /** The current cipher key (undefined until the first MixKey). */
  k: Uint8Array | undefined
  private n = 0

  constructor (protected readonly c: CryptoSuite, protocolName: string, prologue: Uint8Array) {
    const name = new TextEncoder().encode(protocolName)
    this.h = name.length <= 32 ? concat(name, new Uint8Array(32 - name.length)) : c.sha256(name)
    this.ck = this.h
    this.mixHash(prologue)
  }

  /** h = SHA-256(h || data). */
  mixHash (data: Uint8Array): void { this.h = this.c.sha256(concat(this.h, data)) }

  /** (ck, k) = HKDF(ck, ikm), nonce counter reset; the DH output `ikm` is wiped. */
  mixKey (ikm: Uint8Array): void {
    const out = this.c.hkdf(ikm, this.ck, EMPTY, 64)
    ikm.fill(0)
    this.ck = out.slice(0, 32)
    this.k = out.slice(32, 64)
    out.fill(0)
    this.n = 0
  }

  /** EncryptAndHash (plaintext passes through before any key is mixed, as Noise says). */
  encryptAndHash (pt: Uint8Array): Uint8Array {
    if (this.k === undefined) { const ct = pt.slice(); this.mixHash(ct); return ct }
    const ct = this.c.aeadEncrypt(this.k, nonce12(this.n++), pt, this.h)
    this.mixHash(ct)
    return ct
  }

  /** DecryptAndHash; throws CryptoError if authentication fails (the state is then unchanged). */
  decryptAndHash (ct: Uint8Array): Uint8Array {
    if (this.k === undefined) { this.mixHash(ct); return ct.slice() }
    const pt = this.c.aeadDecrypt(this.k, nonce12(this.n), ct, this.h)
    this.n++
    this.mixHash(ct)
    return pt
  }

  /** A copy of the state, to undo a message that fails authentication. */
  save (): [Uint8Array, Uint8Array, Uint8Array | undefined, number] { return [this.ck, this.h, this.k, this.n] }
  restore (st: [Uint8Array, Uint8Array, Uint8Array | undefined, number]): void { [this.ck, this.h, this.k, this.n] = st }

  /** Split(): the two transport keys (initiator→responder, responder→initiator). */
  split (): [Uint8Array, Uint8Array] {
    const out = this.c.hkdf(EMPTY, this.ck, EMPTY, 64)
    return [out.slice(0, 32), out.slice(32, 64)]
  }
}
