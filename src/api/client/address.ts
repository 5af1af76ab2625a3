/**
 * Pure helpers for the SAM client: the public destination inside a private key, the
 * `.b32.umbra` address of a destination, and telling a base64 destination from a name.
 * The binary layout is in shared/reference/sam-v3.md §7; no I/O here.
 */
import { createHash } from 'node:crypto'
import { base32Encode } from '../../wire/base32.ts'
import { base64I2pDecode, base64I2pEncode } from '../../wire/base64i2p.ts'
import { DecodeError } from '../../util/errors.ts'
import { B32_SUFFIX } from '../../identity/destination.ts'

/** Key fields (256 + 128) and the certificate header (type u8, length u16) before the payload. */
const CERT_OFFSET = 384
const MIN_DESTINATION = CERT_OFFSET + 3
const MAX_KEY_BYTES = 4096

/** I2P base64 of at least a 387-byte destination, padding optional. */
const BASE64_DEST = /^[A-Za-z0-9~-]{516,}={0,2}$/

/** True if `s` looks like a base64 destination rather than a name or `.b32` address. */
export function isBase64Destination (s: string): boolean {
  return BASE64_DEST.test(s)
}

/**
 * The length of the destination at the start of `bytes`: 384 bytes of key fields, then a
 * certificate `type u8, length u16, payload`. Throws DecodeError if `bytes` is shorter.
 */
export function destinationLength (bytes: Uint8Array, what = 'destination'): number {
  if (bytes.length < MIN_DESTINATION) throw new DecodeError(`${what} of ${bytes.length} bytes is too short`)
  const certLen = ((bytes[CERT_OFFSET + 1] as number) << 8) | (bytes[CERT_OFFSET + 2] as number)
  const len = MIN_DESTINATION + certLen
  if (bytes.length < len) throw new DecodeError(`${what} of ${bytes.length} bytes is shorter than its ${len}-byte destination`)
  return len
}

/** The public destination (I2P base64) at the start of a private key. Throws DecodeError if it is truncated. */
export function publicFromPrivate (privateKey: string): string {
  const bytes = base64I2pDecode(privateKey, MAX_KEY_BYTES)
  return base64I2pEncode(bytes.subarray(0, destinationLength(bytes, 'private key')))
}

/**
 * `<52 base32 chars>.b32.umbra` of a base64 destination: lowercase unpadded base32 of the
 * SHA-256 of its bytes (certificate included). Throws DecodeError for bad base64.
 */
export function b32AddressOf (destination: string): string {
  const bytes = base64I2pDecode(destination, MAX_KEY_BYTES)
  if (bytes.length < MIN_DESTINATION) throw new DecodeError(`destination of ${bytes.length} bytes is too short`)
  return base32Encode(createHash('sha256').update(bytes).digest()) + B32_SUFFIX
}
