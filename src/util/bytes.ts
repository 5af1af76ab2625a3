/** Small byte-array helpers shared across layers: hex for map keys and logs, ordering for tie-breaks. */

/** Lowercase hex of `b` (no copy of the bytes). */
export function toHex (b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

/** Lexicographic order of two byte arrays: negative, zero or positive. */
export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}
