/**
 * The crypto suite interface: every primitive Umbra uses, behind one object handed to whatever
 * needs it (see STYLE.md §8). Tests inject a deterministic suite; a faster backend (a native
 * addon, say) can replace the WASM one without touching callers.
 *
 * Primitives: X25519, Ed25519, BLAKE2b, SHA-256, HKDF-SHA256, ChaCha20-Poly1305 (IETF, 96-bit
 * nonce) and XChaCha20-Poly1305 (192-bit nonce), randomness. Nothing here is hand-rolled: every
 * primitive is libsodium's.
 */

/** A public/secret key pair. For Ed25519 `secretKey` is libsodium's 64-byte form (seed || pk). */
export interface KeyPair {
  publicKey: Uint8Array
  secretKey: Uint8Array
}

/**
 * A ChaCha20-Poly1305 (IETF) cipher bound to one 32-byte key: the hot path of links and
 * tunnels. The nonce is 4 zero bytes followed by `counter` as a 64-bit little-endian integer
 * (Noise's ChaChaPoly nonce layout). Implementations avoid per-call allocation.
 */
export interface AeadCipher {
  /**
   * Encrypts `src` and writes ciphertext followed by the 16-byte tag into `dst` at `dstOff`.
   * Returns the number of bytes written (`src.length + 16`). `dst` may not overlap `src`.
   */
  seal (counter: number, src: Uint8Array, dst: Uint8Array, dstOff: number, ad?: Uint8Array): number
  /**
   * Authenticates and decrypts `src` (ciphertext || tag) into `dst` at `dstOff`. Returns the
   * plaintext length, or -1 if authentication failed (nothing is written in that case).
   */
  open (counter: number, src: Uint8Array, dst: Uint8Array, dstOff: number, ad?: Uint8Array): number
  /** Wipes the key; the cipher must not be used afterwards. */
  dispose (): void
}

/** Every primitive, behind one interface. */
export interface CryptoSuite {
  /** A short name of the backend, for logs and benchmarks. */
  readonly backend: string
  /** `n` random bytes. */
  randomBytes (n: number): Uint8Array

  /** A fresh X25519 key pair (secret key is 32 bytes). */
  x25519Keypair (): KeyPair
  /** The X25519 public key of `secretKey`. */
  x25519Public (secretKey: Uint8Array): Uint8Array
  /** X25519(secretKey, publicKey); throws CryptoError for low-order points (all-zero output). */
  x25519 (secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array

  /** A fresh Ed25519 key pair, or the one derived from a 32-byte `seed`. */
  ed25519Keypair (seed?: Uint8Array): KeyPair
  /** A 64-byte detached Ed25519 signature of `message` by the 64-byte `secretKey`. */
  sign (message: Uint8Array, secretKey: Uint8Array): Uint8Array
  /** Whether `signature` is a valid Ed25519 signature of `message` by `publicKey`. */
  verify (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean

  /** BLAKE2b with `outLen` (16..64) output bytes, optionally keyed (16..64-byte key). */
  blake2b (data: Uint8Array, outLen?: number, key?: Uint8Array): Uint8Array
  /** SHA-256 (for I2P-compatible destination hashes). */
  sha256 (data: Uint8Array): Uint8Array
  /** HKDF-SHA256 (RFC 5869): `length` (<= 8160) bytes from `ikm`, `salt` and `info`. */
  hkdf (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array | string, length: number): Uint8Array

  /** ChaCha20-Poly1305 IETF with a 12-byte nonce; returns ciphertext || tag. */
  aeadEncrypt (key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad?: Uint8Array): Uint8Array
  /** Inverse of aeadEncrypt; throws CryptoError if authentication fails. */
  aeadDecrypt (key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad?: Uint8Array): Uint8Array
  /** XChaCha20-Poly1305 with a 24-byte nonce (safe with random nonces); returns ciphertext || tag. */
  xaeadEncrypt (key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad?: Uint8Array): Uint8Array
  /** Inverse of xaeadEncrypt; throws CryptoError if authentication fails. */
  xaeadDecrypt (key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad?: Uint8Array): Uint8Array

  /** A hot-path cipher bound to `key` (copied). */
  aeadCipher (key: Uint8Array): AeadCipher

  /** Constant-time equality of two byte arrays of equal length. */
  equal (a: Uint8Array, b: Uint8Array): boolean
  /** Overwrites `buf` with zeros. */
  wipe (buf: Uint8Array): void
}

/** Sizes used across the codebase. */
export const KEY_BYTES = 32
export const TAG_BYTES = 16
export const SIGNATURE_BYTES = 64
