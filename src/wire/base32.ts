/**
 * RFC 4648 base32, lowercase, no padding: the encoding of `.b32` addresses. Decoding accepts
 * lowercase only (callers lowercase host names first) and rejects bad characters, impossible
 * lengths and non-zero trailing bits with DecodeError, so every string has at most one meaning.
 */
import { DecodeError } from '../util/errors.ts'

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'
const INDEX = new Int8Array(128).fill(-1)
for (let i = 0; i < ALPHABET.length; i++) INDEX[ALPHABET.charCodeAt(i)] = i

/** Lowercase unpadded RFC 4648 base32 of `bytes`. */
export function base32Encode (bytes: Uint8Array): string {
  let out = ''
  let acc = 0
  let bits = 0
  for (const b of bytes) {
    acc = (acc << 8) | b
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += ALPHABET[(acc >>> bits) & 31]
    }
    acc &= (1 << bits) - 1
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31]
  return out
}

/** Inverse of {@link base32Encode}; throws DecodeError on anything it would not produce. */
export function base32Decode (s: string): Uint8Array {
  const rem = s.length % 8
  if (rem === 1 || rem === 3 || rem === 6) throw new DecodeError(`invalid base32 length ${s.length}`)
  const out = new Uint8Array(Math.floor(s.length * 5 / 8))
  let acc = 0
  let bits = 0
  let o = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    const v = c < 128 ? INDEX[c] ?? -1 : -1
    if (v < 0) throw new DecodeError(`invalid base32 character at position ${i}`)
    acc = ((acc << 5) | v) & 0xfff
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >>> bits) & 0xff
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) throw new DecodeError('non-canonical base32: trailing bits set')
  return out
}
