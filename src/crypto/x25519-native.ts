/**
 * X25519 agreement on OpenSSL (node:crypto): ~56 us per agreement (public key import included)
 * against ~140 us in libsodium's WASM, which was most of a link handshake's CPU.
 *
 * OpenSSL wants its keys as KeyObjects, and importing a private key costs ~40 us (JWK; PKCS#8
 * DER is ten times slower), so each secret key's KeyObject is kept, keyed by the secret key's
 * array, for as long as that array lives (a WeakMap). The entry also holds a BLAKE2b digest of
 * the key it was made from: an array changed in place (wiped, reused) is imported afresh, never
 * agreed with under its old key. No copy of a secret is kept in JS; OpenSSL holds it in the
 * KeyObject, dropped by the suite's `wipe` (or freed with the array). The base64 strings JWK
 * import goes through cannot be wiped; they live until the next GC. Suites generate key pairs
 * themselves (random secret, libsodium's public key) and only their public keys are remembered
 * here, to save recomputing them at import. Key pairs are never generated with OpenSSL
 * (`generateKeyPairSync` then a JWK export): on Node 20 that deadlocks now and then, when a GC
 * during the export destroys the finished key-generation job, whose destructor waits on the
 * key's mutex the export holds (test/crypto/x25519-native.test.ts generates thousands).
 *
 * Same results as libsodium's `crypto_scalarmult` (RFC 7748: clamped scalar, the public key's
 * top bit ignored), and an all-zero result (a low-order public key) is refused the same way.
 */
import { createPrivateKey, createPublicKey, diffieHellman, timingSafeEqual, type KeyObject } from 'node:crypto'
import { CryptoError } from '../util/errors.ts'

interface Entry { digest: Uint8Array, publicKey: Uint8Array, key?: KeyObject }

const b64u = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64url')

/** X25519 agreement with cached private KeyObjects (see module doc). */
export class NativeX25519 {
  private readonly entries = new WeakMap<Uint8Array, Entry>()

  /**
   * @param publicOf the X25519 public key of a secret key (for keys not generated here)
   * @param digest a short digest of a secret key (BLAKE2b), to notice arrays changed in place
   */
  constructor (
    private readonly publicOf: (secretKey: Uint8Array) => Uint8Array,
    private readonly digest: (secretKey: Uint8Array) => Uint8Array
  ) {}

  /** Drops the KeyObject kept for `secretKey` (the suite's `wipe` calls this), so OpenSSL's copy goes with it. */
  forget (secretKey: Uint8Array): void { this.entries.delete(secretKey) }

  /** Notes a key pair just generated, so agreeing with it needs no public key computation. */
  remember (secretKey: Uint8Array, publicKey: Uint8Array): void {
    this.entries.set(secretKey, { digest: this.digest(secretKey), publicKey })
  }

  /** X25519(secretKey, publicKey), both 32 bytes; CryptoError for a low-order public key. */
  agree (secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
    if (secretKey.length !== 32 || publicKey.length !== 32) throw new CryptoError('X25519 keys must be 32 bytes')
    let out: Buffer
    try {
      out = diffieHellman({
        privateKey: this.privateKey(secretKey),
        publicKey: createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64u(publicKey) }, format: 'jwk' })
      })
    } catch (err) {
      throw new CryptoError('X25519 with a low-order public key', { cause: err })
    }
    let any = 0
    for (let i = 0; i < out.length; i++) any |= out[i]!
    if (out.length !== 32 || any === 0) throw new CryptoError('X25519 with a low-order public key')
    const shared = Uint8Array.from(out)
    out.fill(0)
    return shared
  }

  private privateKey (sk: Uint8Array): KeyObject {
    let e = this.entries.get(sk)
    const digest = this.digest(sk)
    if (e === undefined || !timingSafeEqual(e.digest, digest)) {
      e = { digest, publicKey: this.publicOf(sk) }
      this.entries.set(sk, e)
    }
    e.key ??= createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64u(sk), x: b64u(e.publicKey) }, format: 'jwk' })
    return e.key
  }
}
