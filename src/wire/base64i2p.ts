/**
 * I2P's base64: the standard alphabet with `-` for `+` and `~` for `/`, `=` padding. Encoding
 * always pads. Decoding accepts input with or without padding (SAM clients cut `=` off), and
 * rejects bad characters, impossible lengths and non-canonical trailing bits with DecodeError.
 */
import { DecodeError } from '../util/errors.ts'

const VALID = /^[A-Za-z0-9~-]*$/

/** I2P base64 (padded) of `bytes`. */
export function base64I2pEncode (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
    .replace(/\+/g, '-').replace(/\//g, '~')
}

/**
 * Inverse of {@link base64I2pEncode}; padding is optional. `maxBytes` bounds the decoded size
 * (checked on the string length before decoding).
 */
export function base64I2pDecode (s: string, maxBytes = Number.MAX_SAFE_INTEGER): Uint8Array {
  let body = s
  const pad = s.length - s.replace(/=+$/, '').length
  if (pad > 0) {
    if (pad > 2 || s.length % 4 !== 0) throw new DecodeError('invalid base64 padding')
    body = s.slice(0, s.length - pad)
  }
  if (body.length % 4 === 1) throw new DecodeError(`invalid base64 length ${s.length}`)
  const n = Math.floor(body.length * 3 / 4)
  if (n > maxBytes) throw new DecodeError(`base64 decodes to ${n} bytes, over maximum ${maxBytes}`)
  if (!VALID.test(body)) throw new DecodeError('invalid character in I2P base64')
  const std = body.replace(/-/g, '+').replace(/~/g, '/')
  const bytes = new Uint8Array(Buffer.from(std, 'base64'))
  // Node ignores non-zero trailing bits; re-encoding shows them, so each string has one meaning.
  if (base64I2pEncode(bytes).replace(/=+$/, '') !== body) throw new DecodeError('non-canonical base64: trailing bits set')
  return bytes
}
