/**
 * Content-hash-key (CHK) block encryption for anonymous file sharing, in the GNUnet ECRS manner:
 * a block's key is the hash of its plaintext, so equal plaintexts give equal ciphertexts
 * (convergent encryption), and its query is the hash of its ciphertext, so anyone storing or
 * relaying a block can check it against the query without being able to read it.
 *
 * key   = BLAKE2b-256(plain)
 * okm   = HKDF-SHA256(ikm = key, salt = utf8("umbra-fs-chk-v1"), info = "block", 44 bytes)
 * block = ChaCha20-IETF(okm[0..32) as key, okm[32..44) as nonce, counter 0) XOR plain
 * query = BLAKE2b-256(block)
 *
 * The block has exactly the plaintext's length (0..BLOCK_SIZE bytes); nothing is padded.
 */
import type { CryptoSuite } from '../../crypto/types.ts'
import { ConfigError, DecodeError, LimitError } from '../../util/errors.ts'

/** Plaintext bytes per data block (DBlock); also the maximum size of any block. */
export const BLOCK_SIZE = 32 * 1024
/** Bytes of a CHK key or query (BLAKE2b-256). */
export const HASH_BYTES = 32
/** Bytes of an encoded CHK: key (32) || query (32). */
export const CHK_BYTES = 2 * HASH_BYTES

/** A content hash key: `key` decrypts the block, `query` (its ciphertext's hash) finds it. 32 bytes each. */
export interface Chk {
  key: Uint8Array
  query: Uint8Array
}

const SALT = new TextEncoder().encode('umbra-fs-chk-v1')

/** XORs `data` with the keystream derived from `key` (encrypts and decrypts alike). */
function xorStream (crypto: CryptoSuite, key: Uint8Array, data: Uint8Array): Uint8Array {
  const okm = crypto.hkdf(key, SALT, 'block', 44)
  const out = crypto.chacha20Xor(okm.subarray(0, 32), okm.subarray(32, 44), data)
  crypto.wipe(okm)
  return out
}

function checkChk (chk: Chk): void {
  if (chk.key.length !== HASH_BYTES || chk.query.length !== HASH_BYTES) {
    throw new ConfigError(`a CHK's key and query must be ${HASH_BYTES} bytes each`)
  }
}

/**
 * Encrypts one block's plaintext (0..BLOCK_SIZE bytes; LimitError above). Returns its CHK and the
 * ciphertext block (same length as `plain`, a fresh array: `plain` may be reused afterwards).
 */
export function encryptBlock (crypto: CryptoSuite, plain: Uint8Array): { chk: Chk, block: Uint8Array } {
  if (plain.length > BLOCK_SIZE) throw new LimitError(`block plaintext of ${plain.length} bytes exceeds ${BLOCK_SIZE}`)
  const key = crypto.blake2b(plain, HASH_BYTES)
  const block = xorStream(crypto, key, plain)
  return { chk: { key, query: crypto.blake2b(block, HASH_BYTES) }, block }
}

/**
 * Decrypts `block` under `chk` and returns the plaintext (a fresh array). Throws DecodeError,
 * saying the block is corrupt and why, if the block is longer than BLOCK_SIZE, does not hash to
 * `chk.query`, or decrypts to a plaintext that does not hash to `chk.key`; ConfigError if the
 * CHK's fields are not 32 bytes.
 */
export function decryptBlock (crypto: CryptoSuite, chk: Chk, block: Uint8Array): Uint8Array {
  checkChk(chk)
  if (block.length > BLOCK_SIZE) {
    throw new DecodeError(`corrupt block: ${block.length} bytes exceeds the ${BLOCK_SIZE}-byte maximum`)
  }
  if (!crypto.equal(crypto.blake2b(block, HASH_BYTES), chk.query)) {
    throw new DecodeError('corrupt block: its hash does not match the query')
  }
  return openVerifiedBlock(crypto, chk, block)
}

/**
 * {@link decryptBlock} for a block the caller has already checked against `chk.query` (with
 * {@link verifyBlock}: a download does, to tell a bad node from a good one), which saves hashing
 * it twice. Throws DecodeError if the block is over BLOCK_SIZE or its plaintext does not hash to
 * `chk.key`, ConfigError for a bad CHK.
 */
export function openVerifiedBlock (crypto: CryptoSuite, chk: Chk, block: Uint8Array): Uint8Array {
  const plain = openVerifiedLeaf(crypto, chk, block)
  if (!plainMatchesKey(crypto, plain, chk.key)) {
    throw new DecodeError('corrupt block: the plaintext does not hash to the key (wrong key)')
  }
  return plain
}

/**
 * The plaintext of a leaf the caller has already checked against `chk.query`, left unhashed:
 * a download checks every leaf's plaintext against its key once, when it reads the whole file
 * back at the end ({@link plainMatchesKey}). The query check alone already proves the block is
 * the one the verified tree names; only a publisher whose tree is inconsistent (a leaf that
 * does not hash to its own key) or, for a file of one leaf, a wrong key in the URI gets past
 * it (a download checks that leaf at once), and the final check rejects such a file. Throws
 * DecodeError if the block is over BLOCK_SIZE, ConfigError for a bad CHK.
 */
export function openVerifiedLeaf (crypto: CryptoSuite, chk: Chk, block: Uint8Array): Uint8Array {
  checkChk(chk)
  if (block.length > BLOCK_SIZE) throw new DecodeError(`corrupt block: ${block.length} bytes exceeds the ${BLOCK_SIZE}-byte maximum`)
  return xorStream(crypto, chk.key, block)
}

/** Whether `plain` is the plaintext of a block whose CHK key is `key` (it hashes to it). */
export function plainMatchesKey (crypto: CryptoSuite, plain: Uint8Array, key: Uint8Array): boolean {
  return crypto.equal(crypto.blake2b(plain, HASH_BYTES), key)
}

/**
 * What a storer or relay can check without the key: `block` is at most BLOCK_SIZE bytes and
 * hashes to `query`. Never throws.
 */
export function verifyBlock (crypto: CryptoSuite, query: Uint8Array, block: Uint8Array): boolean {
  if (block.length > BLOCK_SIZE || query.length !== HASH_BYTES) return false
  return crypto.equal(crypto.blake2b(block, HASH_BYTES), query)
}

/** The 64-byte encoding of a CHK: key (32) || query (32). ConfigError if a field is not 32 bytes. */
export function encodeChk (chk: Chk): Uint8Array {
  checkChk(chk)
  const out = new Uint8Array(CHK_BYTES)
  out.set(chk.key, 0)
  out.set(chk.query, HASH_BYTES)
  return out
}

/**
 * Reads a CHK (key (32) || query (32)) from `bytes` at `offset` (default 0), copying both fields.
 * DecodeError if fewer than 64 bytes remain or `offset` is not a valid index.
 */
export function decodeChk (bytes: Uint8Array, offset = 0): Chk {
  if (!Number.isInteger(offset) || offset < 0 || bytes.length - offset < CHK_BYTES) {
    throw new DecodeError(`truncated CHK: need ${CHK_BYTES} bytes at offset ${offset} of ${bytes.length}`)
  }
  return {
    key: bytes.slice(offset, offset + HASH_BYTES),
    query: bytes.slice(offset + HASH_BYTES, offset + CHK_BYTES)
  }
}

function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Whether two CHKs have the same key and query (not constant-time: CHKs are not secrets to a holder). */
export function chkEquals (a: Chk, b: Chk): boolean {
  return bytesEqual(a.key, b.key) && bytesEqual(a.query, b.query)
}
