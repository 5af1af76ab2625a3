/**
 * Keyword blocks (KBlocks), after GNUnet's ECRS: a search by keyword finds a file's URI and
 * metadata, while a storer that does not know the keyword can neither read nor forge them.
 *
 * Everything is derived from the normalized keyword: seed = BLAKE2b-256('umbra-fs-ksk-v1\0' ||
 * keyword), an Ed25519 key pair from the seed, encKey = HKDF-SHA256(seed, salt
 * 'umbra-fs-ksk-v1', info 'enc', 32) and query = BLAKE2b-256(publicKey). A storer indexes blocks
 * under the query and checks (verifyKBlock) that the block is signed by the key hashing to it;
 * only someone knowing the keyword can make that key, and decrypt the payload. Pure codec.
 */
import type { CryptoSuite } from '../../crypto/types.ts'
import { ConfigError, CryptoError, DecodeError, LimitError, UmbraError } from '../../util/errors.ts'
import { packRecord, unpackRecord } from '../../wire/msgpack.ts'
import { checkMeta, metaToRecord, type FileMeta } from './meta.ts'

/** The largest KBlock, in bytes. */
export const MAX_KBLOCK_BYTES = 4096
/** The longest normalized keyword, in Unicode code points. */
export const MAX_KEYWORD_CHARS = 64
/** The longest URI carried in a KBlock, in UTF-16 code units. */
export const MAX_KBLOCK_URI_CHARS = 2048
/** The only KBlock version. */
export const KBLOCK_VERSION = 1

/** What a KBlock carries: a file's URI and its metadata. */
export interface KBlockPayload { uri: string, meta: FileMeta }

const LABEL = 'umbra-fs-ksk-v1'
const PK_OFF = 1
const EXP_OFF = 33
const NONCE_OFF = 37
/** version 1 + publicKey 32 + expiresAt 4 + nonce 24. */
const HEADER_BYTES = 61
const TAG = 16
const SIG = 64
/** The shortest well-formed block: header, empty ciphertext tag, signature. */
const MIN_BYTES = HEADER_BYTES + TAG + SIG
const encoder = new TextEncoder()

/**
 * Normalizes a keyword: Unicode NFC, trimmed, lower-cased, one leading '+' (the "mandatory"
 * marker of a search) stripped. Throws ConfigError if the result is empty, longer than
 * {@link MAX_KEYWORD_CHARS} code points, or contains whitespace, control characters or lone
 * surrogates.
 */
export function normalizeKeyword (k: string): string {
  if (typeof k !== 'string') throw new ConfigError('keyword must be a string')
  let s = k.normalize('NFC').trim().toLowerCase().normalize('NFC')
  if (s.startsWith('+')) s = s.slice(1)
  if (s === '') throw new ConfigError('empty keyword')
  if ([...s].length > MAX_KEYWORD_CHARS) throw new ConfigError(`keyword longer than ${MAX_KEYWORD_CHARS} characters`)
  if (/[\s\p{Cc}\p{Cs}]/u.test(s)) throw new ConfigError('keyword contains whitespace or control characters')
  return s
}

interface KeywordKeys { publicKey: Uint8Array, secretKey: Uint8Array, encKey: Uint8Array, query: Uint8Array }

/** The keys of the (already normalized) keyword `kw`. */
function deriveKeys (crypto: CryptoSuite, kw: string): KeywordKeys {
  const seed = crypto.blake2b(encoder.encode(`${LABEL}\0${kw}`), 32)
  const { publicKey, secretKey } = crypto.ed25519Keypair(seed)
  const encKey = crypto.hkdf(seed, encoder.encode(LABEL), 'enc', 32)
  crypto.wipe(seed)
  return { publicKey, secretKey, encKey, query: crypto.blake2b(publicKey, 32) }
}

/** The 32-byte query under which blocks for `keyword` are stored: BLAKE2b-256 of its public key. */
export function keywordQuery (crypto: CryptoSuite, keyword: string): Uint8Array {
  const keys = deriveKeys(crypto, normalizeKeyword(keyword))
  crypto.wipe(keys.secretKey)
  crypto.wipe(keys.encKey)
  return keys.query
}

/** Validates a payload to be published (ConfigError, LimitError for an oversize URI). */
function checkPayload (payload: KBlockPayload): { uri: string, meta: FileMeta } {
  const { uri } = payload
  if (typeof uri !== 'string' || uri === '') throw new ConfigError('KBlock uri must be a non-empty string')
  if (uri.length > MAX_KBLOCK_URI_CHARS) throw new LimitError(`KBlock uri longer than ${MAX_KBLOCK_URI_CHARS} characters`)
  try {
    return { uri, meta: checkMeta(payload.meta) }
  } catch (err) {
    throw new ConfigError(`invalid KBlock metadata: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * Builds a KBlock for `keyword` carrying `payload`, valid until `expiresAtSec` (unix seconds,
 * a u32). Layout: version u8 = 1 | publicKey 32 | expiresAt u32 BE | nonce 24 (random) |
 * ciphertext = XChaCha20-Poly1305(encKey, nonce, packRecord({uri, meta}), ad = the 61 bytes
 * before it) | signature 64 = Ed25519 over all bytes before it. Returns it with its query.
 * Throws ConfigError for a bad keyword, expiry or payload, LimitError if the URI is longer
 * than {@link MAX_KBLOCK_URI_CHARS} or the block would exceed {@link MAX_KBLOCK_BYTES}.
 */
export function createKBlock (crypto: CryptoSuite, keyword: string, payload: KBlockPayload,
  expiresAtSec: number): { query: Uint8Array, block: Uint8Array } {
  const kw = normalizeKeyword(keyword)
  if (!Number.isInteger(expiresAtSec) || expiresAtSec < 0 || expiresAtSec > 0xffffffff) {
    throw new ConfigError('expiresAtSec must be an integer in [0, 2^32)')
  }
  const { uri, meta } = checkPayload(payload)
  const plain = packRecord({ uri, meta: metaToRecord(meta) }, MAX_KBLOCK_BYTES - MIN_BYTES)
  const keys = deriveKeys(crypto, kw)
  const block = new Uint8Array(MIN_BYTES + plain.length)
  block[0] = KBLOCK_VERSION
  block.set(keys.publicKey, PK_OFF)
  new DataView(block.buffer).setUint32(EXP_OFF, expiresAtSec)
  block.set(crypto.randomBytes(24), NONCE_OFF)
  const header = block.subarray(0, HEADER_BYTES)
  const ct = crypto.xaeadEncrypt(keys.encKey, block.subarray(NONCE_OFF, HEADER_BYTES), plain, header)
  block.set(ct, HEADER_BYTES)
  const sigOff = HEADER_BYTES + ct.length
  block.set(crypto.sign(block.subarray(0, sigOff), keys.secretKey), sigOff)
  crypto.wipe(keys.secretKey)
  crypto.wipe(keys.encKey)
  return { query: keys.query, block }
}

/** Whether `block` has a valid length and version (no signature check). */
function wellFormed (block: Uint8Array): boolean {
  return block instanceof Uint8Array && block.length >= MIN_BYTES && block.length <= MAX_KBLOCK_BYTES &&
    block[0] === KBLOCK_VERSION
}

/** Whether the Ed25519 signature at the end of a well-formed `block` is valid for its key. */
function signatureValid (crypto: CryptoSuite, block: Uint8Array): boolean {
  const sigOff = block.length - SIG
  return crypto.verify(block.subarray(sigOff), block.subarray(0, sigOff), block.subarray(PK_OFF, EXP_OFF))
}

/**
 * What a storer checks before keeping `block` under `query`, without knowing the keyword:
 * length in [141, {@link MAX_KBLOCK_BYTES}], version 1, BLAKE2b-256(publicKey) = query, the
 * signature valid, and expiresAt > `nowSec`. Never throws; false on anything wrong.
 */
export function verifyKBlock (crypto: CryptoSuite, query: Uint8Array, block: Uint8Array, nowSec: number): boolean {
  try {
    if (!wellFormed(block) || !(query instanceof Uint8Array) || query.length !== 32) return false
    if (!crypto.equal(crypto.blake2b(block.subarray(PK_OFF, EXP_OFF), 32), query)) return false
    if (!(kblockExpiry(block) > nowSec)) return false
    return signatureValid(crypto, block)
  } catch {
    return false
  }
}

/** The expiry (unix seconds) written in `block`. DecodeError if shorter than a KBlock can be. */
export function kblockExpiry (block: Uint8Array): number {
  if (block.length < MIN_BYTES) throw new DecodeError(`KBlock of ${block.length} bytes is shorter than ${MIN_BYTES}`)
  return new DataView(block.buffer, block.byteOffset, block.byteLength).getUint32(EXP_OFF)
}

/**
 * Opens a KBlock with the keyword it was published under (expiry is not checked: see
 * kblockExpiry). Throws ConfigError for a bad keyword; DecodeError for a bad length or version;
 * CryptoError if the block's key is not the keyword's (wrong keyword), the signature is
 * invalid or decryption fails; DecodeError if the payload is not {uri: non-empty string of at
 * most {@link MAX_KBLOCK_URI_CHARS}, meta: valid FileMeta}.
 */
export function openKBlock (crypto: CryptoSuite, keyword: string, block: Uint8Array): KBlockPayload {
  const kw = normalizeKeyword(keyword)
  if (!(block instanceof Uint8Array) || block.length < MIN_BYTES || block.length > MAX_KBLOCK_BYTES) {
    throw new DecodeError('KBlock length out of bounds')
  }
  if (block[0] !== KBLOCK_VERSION) throw new DecodeError(`unknown KBlock version ${String(block[0])}`)
  const keys = deriveKeys(crypto, kw)
  crypto.wipe(keys.secretKey)
  try {
    if (!crypto.equal(keys.publicKey, block.subarray(PK_OFF, EXP_OFF))) throw new CryptoError('KBlock is not for this keyword')
    if (!signatureValid(crypto, block)) throw new CryptoError('KBlock signature invalid')
    let plain: Uint8Array
    try {
      plain = crypto.xaeadDecrypt(keys.encKey, block.subarray(NONCE_OFF, HEADER_BYTES),
        block.subarray(HEADER_BYTES, block.length - SIG), block.subarray(0, HEADER_BYTES))
    } catch (err) {
      throw err instanceof CryptoError ? err : new CryptoError('KBlock decryption failed', { cause: err })
    }
    const r = unpackRecord(plain, MAX_KBLOCK_BYTES)
    if (typeof r.uri !== 'string' || r.uri === '' || r.uri.length > MAX_KBLOCK_URI_CHARS) {
      throw new DecodeError('KBlock uri is not a non-empty string of at most 2048 characters')
    }
    return { uri: r.uri, meta: checkMeta(r.meta) }
  } catch (err) {
    if (err instanceof UmbraError) throw err
    throw new DecodeError('malformed KBlock', { cause: err })
  } finally {
    crypto.wipe(keys.encKey)
  }
}
