/** Small byte-array helpers shared across layers: hex for map keys and logs, ordering for tie-breaks, u32s. */
import { LimitError } from './errors.ts'

/** Lowercase hex of `b` (no copy of the bytes). */
export function toHex (b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

/** The bytes of lowercase or uppercase hex `s` (an odd trailing digit or a non-hex digit ends it). */
export function fromHex (s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'))
}

/** Lexicographic order of two byte arrays: negative, zero or positive. */
export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

/** Throws LimitError unless `v` is a u32 (`what` names it in the message). */
export function checkU32 (v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new LimitError(`${what} ${v} is not a u32`)
}

/** Writes `v` (a u32, not checked) big-endian at `b[at]`. */
export function putU32 (b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24
  b[at + 1] = v >>> 16
  b[at + 2] = v >>> 8
  b[at + 3] = v
}

/** Reads a big-endian u32 at `b[at]` (the caller has checked the bounds). */
export function getU32 (b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0
}
