/**
 * The crypto suite interface: every primitive Umbra uses, behind one object handed to whatever
 * needs it (see STYLE.md §8). Tests inject a deterministic suite; a faster backend (a native
 * addon, say) can replace the WASM one without touching callers.
 *
 * Primitives: X25519, Ed25519, BLAKE2b, SHA-256, HKDF-SHA256, ChaCha20-Poly1305 (IETF, 96-bit
 * nonce) and XChaCha20-Poly1305 (192-bit nonce), the raw ChaCha20 (IETF) stream and one-block
 * AES-256 for tunnel cells, randomness. Nothing here is hand-rolled: every primitive is
 * libsodium's or OpenSSL's (through node:crypto).
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
  /**
   * As `seal`, but returns the ciphertext and the tag as fresh arrays the caller owns, so that
   * a large frame reaches the socket without being copied into a caller's buffer.
   */
  sealParts (counter: number, src: Uint8Array, ad?: Uint8Array): [ciphertext: Uint8Array, tag: Uint8Array]
  /**
   * As `open`, but returns the plaintext as a fresh array the caller owns, or undefined if
   * authentication failed (no plaintext is kept). A plain Uint8Array (not a Buffer, whose
   * `slice` would not copy) over an ArrayBuffer of exactly its size.
   */
  openFresh (counter: number, src: Uint8Array, ad?: Uint8Array): Uint8Array | undefined
  /** Wipes the key; the cipher must not be used afterwards. */
  dispose (): void
}

/**
 * AES-256 on single 16-byte blocks (ECB, no padding) under one key: the tunnel nonce
 * permutation. Implementations keep one cipher context per direction; no per-call setup.
 */
export interface BlockCipher {
  /**
   * Encrypts `blocks` consecutive blocks (ECB: each on its own) from `src[srcOff, srcOff+16·blocks)`
   * into `dst[dstOff, …)` (may overlap exactly). One call for many blocks costs about as much as
   * one for a single block: batch where you can.
   */
  encrypt (src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, blocks?: number): void
  /** Decrypts `blocks` (default 1) consecutive blocks, as {@link encrypt} encrypts them. */
  decrypt (src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, blocks?: number): void
  /** Releases the cipher contexts; the cipher must not be used afterwards. */
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

  /**
   * XORs `len` bytes of `src` from `srcOff` with the ChaCha20 (IETF, RFC 8439) keystream of the
   * 32-byte `key` and 12-byte `nonce`, starting at block `counter` (default 0), and writes them
   * to `dst` at `dstOff`. `dst` defaults to a fresh array of `len` bytes (`dstOff` 0); it may be
   * `src` itself, with any overlap. Defaults: `srcOff` 0, `len` the rest of `src`, `dstOff` 0.
   * Returns `dst`. Throws CryptoError for bad key/nonce sizes, DecodeError for out-of-range
   * offsets or lengths, LimitError if the keystream's 32-bit block counter would wrap.
   * Unauthenticated: callers add a MAC.
   */
  chacha20Xor (key: Uint8Array, nonce: Uint8Array, src: Uint8Array, dst?: Uint8Array, srcOff?: number,
    len?: number, dstOff?: number, counter?: number): Uint8Array
  /** One-block AES-256 bound to the 32-byte `key` (throws CryptoError for another size). */
  blockCipher (key: Uint8Array): BlockCipher

  /** Constant-time equality of two byte arrays of equal length. */
  equal (a: Uint8Array, b: Uint8Array): boolean
  /** Overwrites `buf` with zeros. */
  wipe (buf: Uint8Array): void
}

/** Sizes used across the codebase. */
export const KEY_BYTES = 32
export const TAG_BYTES = 16
export const SIGNATURE_BYTES = 64
/** The ChaCha20 (IETF) nonce size. */
export const STREAM_NONCE_BYTES = 12
/** The AES block size. */
export const BLOCK_BYTES = 16
