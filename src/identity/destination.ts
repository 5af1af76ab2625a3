/**
 * Destinations (application endpoints) in I2P's binary layout, so that SAM client libraries
 * compute the same `.b32` addresses (shared/reference/sam-v3.md §7).
 *
 * Umbra's destinations are Ed25519 (sigtype 7) + X25519 (cryptotype 4) under a KEY certificate,
 * 391 bytes. Others (null certificate, other sigtypes, offline signatures) parse structurally but
 * are refused with {@link UnsupportedDestinationError}, so callers can say why. The padding in
 * the key fields is random at generation and fixed afterwards: the bytes are the identity.
 * No I/O here; the keystore persists private keys.
 */
import type { CryptoSuite, KeyPair } from '../crypto/types.ts'
import { Reader } from '../wire/reader.ts'
import { base32Decode, base32Encode } from '../wire/base32.ts'
import { base64I2pDecode, base64I2pEncode } from '../wire/base64i2p.ts'
import { DecodeError } from '../util/errors.ts'

/** Size of an Umbra (Ed25519 + X25519, KEY certificate) destination. */
export const DESTINATION_BYTES = 391
/** Size of its private key file (I2P PrivateKeyFile layout). */
export const PRIVATE_KEY_BYTES = 679
/** Certificate types and key types used here (I2P numbering). */
export const CERT_NULL = 0
export const CERT_KEY = 5
export const SIGTYPE_ED25519 = 7
export const CRYPTOTYPE_X25519 = 4
/** Suffix of Umbra addresses; `.b32.i2p` is accepted as well. */
export const B32_SUFFIX = '.b32.umbra'

const ENC_FIELD = 256
const SIG_FIELD = 128
const KEY = 32
const MAX_CERT_PAYLOAD = 512
const MAX_PRIVATE_INPUT = 4096

/** A parsed, supported public destination. */
export interface Destination {
  /** The exact 391 bytes: what is hashed for the address and sent in base64. */
  readonly bytes: Uint8Array
  /** X25519 public key (first 32 bytes of the encryption-key field). */
  readonly encryptionKey: Uint8Array
  /** Ed25519 public key (last 32 bytes of the signing-key field). */
  readonly signingKey: Uint8Array
}

/** A destination with its private keys. `signing.secretKey` is libsodium's 64-byte form. */
export interface DestinationKeys {
  readonly destination: Destination
  /** The 679-byte private key file; `destination.bytes` is its prefix. */
  readonly privateKey: Uint8Array
  readonly encryption: KeyPair
  readonly signing: KeyPair
}

/**
 * A destination that parsed but uses keys or certificates Umbra does not support. Its `name` is
 * `DecodeError` (it is one); match it with `instanceof` or `code`.
 */
export class UnsupportedDestinationError extends DecodeError {
  readonly code = 'UNSUPPORTED_DESTINATION'
  constructor (message: string, readonly certType: number, readonly sigType: number | undefined, readonly cryptoType: number | undefined) {
    super(message)
  }
}

interface RawDestination { bytes: Uint8Array, certType: number, sigType: number | undefined, cryptoType: number | undefined }

/**
 * Reads any destination's structure (a copy of its bytes and key types), bounded:
 * ```
 * 256  encryption-key field
 * 128  signing-key field
 * u8   certificate type (0 NULL, 5 KEY, others)
 * u16  certificate payload length (<= 512; NULL: 0; KEY: >= 4)
 * ...  payload (KEY: u16 sigtype, u16 cryptotype, then any excess key bytes)
 * ```
 */
function readRaw (r: Reader): RawDestination {
  const start = r.offset
  r.bytes(ENC_FIELD + SIG_FIELD)
  const certType = r.u8()
  const len = r.lengthPrefix(MAX_CERT_PAYLOAD)
  const payload = r.bytes(len)
  let sigType: number | undefined
  let cryptoType: number | undefined
  if (certType === CERT_NULL) {
    if (len !== 0) throw new DecodeError('null certificate with a payload')
    sigType = 0
    cryptoType = 0
  } else if (certType === CERT_KEY) {
    if (len < 4) throw new DecodeError(`KEY certificate payload of ${len} bytes, need at least 4`)
    sigType = ((payload[0] as number) << 8) | (payload[1] as number)
    cryptoType = ((payload[2] as number) << 8) | (payload[3] as number)
  }
  return { bytes: r.since(start).slice(), certType, sigType, cryptoType }
}

/** Throws UnsupportedDestinationError unless `raw` is Ed25519 + X25519 in a 4-byte KEY cert. */
function supported (raw: RawDestination): Destination {
  const { certType, sigType, cryptoType } = raw
  if (certType !== CERT_KEY) {
    throw new UnsupportedDestinationError(`unsupported destination certificate type ${certType} (need KEY certificate, sigtype 7, cryptotype 4)`, certType, sigType, cryptoType)
  }
  if (sigType !== SIGTYPE_ED25519 || cryptoType !== CRYPTOTYPE_X25519 || raw.bytes.length !== DESTINATION_BYTES) {
    throw new UnsupportedDestinationError(`unsupported destination: sigtype ${sigType ?? '?'} cryptotype ${cryptoType ?? '?'} (need sigtype 7 EdDSA_SHA512_Ed25519, cryptotype 4 X25519)`, certType, sigType, cryptoType)
  }
  return {
    bytes: raw.bytes,
    encryptionKey: raw.bytes.slice(0, KEY),
    signingKey: raw.bytes.slice(ENC_FIELD + SIG_FIELD - KEY, ENC_FIELD + SIG_FIELD)
  }
}

/**
 * Reads one destination from `r` (it is self-delimiting; layout: see parseDestination), e.g. from
 * inside a larger message. Throws DecodeError if malformed, UnsupportedDestinationError if it
 * parses but is not Ed25519 + X25519.
 */
export function readDestination (r: Reader): Destination {
  return supported(readRaw(r))
}

function toBytes (input: Uint8Array | string, max: number): Uint8Array {
  return typeof input === 'string' ? base64I2pDecode(input, max) : input
}

/**
 * Parses a public destination from its bytes or I2P base64 (padding optional). Layout (391
 * bytes for Umbra): 256-byte encryption-key field (X25519 key in its first 32 bytes, then
 * padding), 128-byte signing-key field (padding, then the Ed25519 key in its last 32 bytes),
 * certificate `05 0004 0007 0004`. Throws DecodeError (truncated, trailing bytes, bad base64,
 * bad certificate) or UnsupportedDestinationError (387-byte null certificate, other key types).
 */
export function parseDestination (input: Uint8Array | string): Destination {
  const bytes = toBytes(input, ENC_FIELD + SIG_FIELD + 3 + MAX_CERT_PAYLOAD)
  const r = new Reader(bytes)
  const raw = readRaw(r)
  r.end()
  return supported(raw)
}

/** Builds keys from a parsed destination and its secrets, checking they belong together. */
function withSecrets (crypto: CryptoSuite, destination: Destination, encPrivField: Uint8Array, seed: Uint8Array): DestinationKeys {
  const encSecret = encPrivField.slice(0, KEY)
  const encryption: KeyPair = { secretKey: encSecret, publicKey: crypto.x25519Public(encSecret) }
  const signing = crypto.ed25519Keypair(seed)
  if (!crypto.equal(encryption.publicKey, destination.encryptionKey) || !crypto.equal(signing.publicKey, destination.signingKey)) {
    throw new DecodeError('private key does not match its destination')
  }
  const privateKey = new Uint8Array(PRIVATE_KEY_BYTES)
  privateKey.set(destination.bytes)
  privateKey.set(encPrivField, DESTINATION_BYTES)
  privateKey.set(seed, DESTINATION_BYTES + ENC_FIELD)
  return { destination, privateKey, encryption, signing }
}

/** A new destination with random keys and random (then fixed) padding. */
export function generateDestination (crypto: CryptoSuite): DestinationKeys {
  const enc = crypto.x25519Keypair()
  const sig = crypto.ed25519Keypair()
  const bytes = new Uint8Array(DESTINATION_BYTES)
  bytes.set(enc.publicKey, 0)
  bytes.set(crypto.randomBytes(ENC_FIELD - KEY), KEY)
  bytes.set(crypto.randomBytes(SIG_FIELD - KEY), ENC_FIELD)
  bytes.set(sig.publicKey, ENC_FIELD + SIG_FIELD - KEY)
  bytes.set([CERT_KEY, 0, 4, 0, SIGTYPE_ED25519, 0, CRYPTOTYPE_X25519], ENC_FIELD + SIG_FIELD)
  const encPrivField = new Uint8Array(ENC_FIELD)
  encPrivField.set(enc.secretKey)
  return withSecrets(crypto, parseDestination(bytes), encPrivField, sig.secretKey.subarray(0, KEY))
}

/**
 * Loads a destination's keys from its private key (bytes or I2P base64, padding optional).
 * Layout, 679 bytes: destination (391) + 256-byte encryption private-key field (X25519 secret in
 * its first 32 bytes; the rest is ignored) + 32-byte Ed25519 seed. Throws DecodeError if
 * malformed or if the secrets do not match the public keys; UnsupportedDestinationError for
 * other key types or an all-zero signing key (I2P offline signatures).
 */
export function destinationFromPrivate (crypto: CryptoSuite, input: Uint8Array | string): DestinationKeys {
  const bytes = toBytes(input, MAX_PRIVATE_INPUT)
  if (bytes.length > MAX_PRIVATE_INPUT) throw new DecodeError(`private key of ${bytes.length} bytes is too long`)
  const r = new Reader(bytes)
  const raw = readRaw(r)
  const destination = supported(raw)
  const encPrivField = r.bytes(ENC_FIELD)
  const seed = r.bytes(KEY)
  r.end()
  if (seed.every(b => b === 0)) {
    throw new UnsupportedDestinationError('offline-signed private keys are not supported', raw.certType, raw.sigType, raw.cryptoType)
  }
  return withSecrets(crypto, destination, encPrivField.slice(), seed.slice())
}

/** The destination's public bytes in I2P base64 (524 characters ending in `==`). */
export function destinationToBase64 (d: Destination): string {
  return base64I2pEncode(d.bytes)
}

/** The private key in I2P base64 (908 characters ending in `==`). */
export function privateKeyToBase64 (k: DestinationKeys): string {
  return base64I2pEncode(k.privateKey)
}

/** The 32-byte hash that names a destination: SHA-256 of its exact public bytes. */
export function destinationHash (crypto: CryptoSuite, publicBytes: Uint8Array): Uint8Array {
  return crypto.sha256(publicBytes)
}

/** `<52 base32 chars>.b32.umbra`: lowercase unpadded base32 of SHA-256 of the public bytes. */
export function b32Address (crypto: CryptoSuite, publicBytes: Uint8Array): string {
  return base32Encode(destinationHash(crypto, publicBytes)) + B32_SUFFIX
}

/** Whether `name` ends in `.b32.umbra` or `.b32.i2p` (any case): a b32 address, if well formed. */
export function isB32Address (name: string): boolean {
  return /\.b32\.(umbra|i2p)$/i.test(name)
}

/**
 * The 32-byte destination hash named by `<52 chars>.b32.umbra` or `<52 chars>.b32.i2p`
 * (case-insensitive). Throws DecodeError for anything else, including longer b33 names.
 */
export function parseB32Address (name: string): Uint8Array {
  const lower = name.toLowerCase()
  const suffix = [B32_SUFFIX, '.b32.i2p'].find(s => lower.endsWith(s))
  if (suffix === undefined) throw new DecodeError('not a .b32.umbra or .b32.i2p address')
  const label = lower.slice(0, lower.length - suffix.length)
  if (label.length !== 52) throw new DecodeError(`b32 address must have 52 characters before the suffix, not ${label.length}`)
  return base32Decode(label)
}
