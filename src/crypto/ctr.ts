/**
 * AES-256-CTR (NIST SP 800-38A) over many short messages at once: what a tunnel hop needs to
 * encrypt a batch of cells, each under its own IV.
 *
 * Node gives CTR one IV per cipher object, and making one costs 2–3 µs: more than the AES of a
 * 1 KiB cell. So this writes the counter blocks of every message of a batch, encrypts them all
 * with one ECB call (OpenSSL, AES-NI) and XORs the keystream in, a 32-bit word at a time.
 * Message i's counter blocks are `iv_i[0..12) ‖ BE32(j)` for j = 0, 1, …: byte for byte what
 * `createCipheriv('aes-256-ctr', key, iv_i[0..12) ‖ 0⁴)` gives (test/crypto/ctr.test.ts). The
 * 32-bit counter never wraps: a message is at most {@link MAX_CTR_BYTES}.
 */
import type { BlockCipher } from './types.ts'
import { CryptoError } from '../util/errors.ts'

/** Longest message (bytes) {@link ctrXorMany} takes. */
export const MAX_CTR_BYTES = 4096
const MAX_BLOCKS = MAX_CTR_BYTES / 16

/** The counter word BE32(j) as this platform's Uint32Array stores it, for j < MAX_BLOCKS. */
const COUNTER_WORDS = (() => {
  const w = new Uint32Array(MAX_BLOCKS)
  const b = new Uint8Array(w.buffer)
  for (let j = 0; j < MAX_BLOCKS; j++) { b[4 * j + 2] = j >>> 8; b[4 * j + 3] = j & 0xff }
  return w
})()

// Scratch, shared (one call runs at a time) and bounded (CHUNK messages): counter blocks, keystream.
let ctr = new Uint8Array(0)
let ctr32 = new Uint32Array(0)
let ks = new Uint8Array(0)
let ks32 = new Uint32Array(0)

// The last message buffer seen and a word view over all of it: a batch is mostly one buffer.
let lastBuf: ArrayBufferLike | undefined
let lastView: Uint32Array = new Uint32Array(0)
function wordsOf (b: Uint8Array): Uint32Array {
  if (b.buffer !== lastBuf) { lastBuf = b.buffer; lastView = new Uint32Array(b.buffer, 0, b.buffer.byteLength >>> 2) }
  return lastView
}

/** Messages per ECB call: bounds the scratch (about 130 KiB at 1 KiB messages). */
const CHUNK = 64

/**
 * XORs the AES-CTR keystream of `aes`'s key into `len` bytes of each of `n` messages, in place:
 * message i is `bufs[i][offs[i], offs[i] + len)` (or, when `bufs` is one array, `bufs[offs[i], …)`)
 * and its IV the 12 bytes at `ivs[ivOff + 16i]`. The same call encrypts and decrypts. CryptoError
 * (before anything changes) if `len` is not in 1..{@link MAX_CTR_BYTES}, an IV or a message
 * range falls outside its array, or `n` is not a whole number.
 */
export function ctrXorMany (aes: BlockCipher, ivs: Uint8Array, ivOff: number,
  bufs: Uint8Array | readonly Uint8Array[], offs: ArrayLike<number>, n: number, len: number): void {
  if (!Number.isInteger(len) || len < 1 || len > MAX_CTR_BYTES) throw new CryptoError(`CTR message of ${len} bytes, not 1..${MAX_CTR_BYTES}`)
  if (!Number.isInteger(n) || n < 0) throw new CryptoError(`CTR message count ${n}, not a whole number`)
  if (n === 0) return
  if (!Number.isInteger(ivOff) || ivOff < 0 || ivOff + 16 * (n - 1) + 12 > ivs.length) throw new CryptoError('CTR IVs out of range')
  const one = bufs instanceof Uint8Array ? bufs : undefined
  if (one === undefined && (bufs as readonly Uint8Array[]).length < n) throw new CryptoError('fewer CTR messages than the count')
  for (let i = 0; i < n; i++) {
    const d = one ?? (bufs as readonly Uint8Array[])[i]!
    const o = offs[i]
    if (o === undefined || !Number.isInteger(o) || o < 0 || o + len > d.length) throw new CryptoError(`CTR message ${i} out of range`)
  }
  try {
    for (let at = 0; at < n; at += CHUNK) chunk(aes, ivs, ivOff, one, bufs as readonly Uint8Array[], offs, at, Math.min(n, at + CHUNK), len)
  } finally {
    lastBuf = undefined
    lastView = new Uint32Array(0)
  }
}

/** Messages `from` until `to` (at most CHUNK) of a checked {@link ctrXorMany} call. */
function chunk (aes: BlockCipher, ivs: Uint8Array, ivOff: number, one: Uint8Array | undefined, many: readonly Uint8Array[],
  offs: ArrayLike<number>, from: number, to: number, len: number): void {
  const n = to - from
  const per = (len + 15) >>> 4
  const blocks = n * per
  if (ctr.length < 16 * blocks) {
    ctr = new Uint8Array(16 * blocks)
    ctr32 = new Uint32Array(ctr.buffer)
    ks = new Uint8Array(16 * blocks + 4)
    ks32 = new Uint32Array(ks.buffer)
  }
  for (let i = 0; i < n; i++) {
    let w = 4 * i * per
    const at = 16 * i * per
    const iv = ivOff + 16 * (from + i)
    for (let k = 0; k < 12; k++) ctr[at + k] = ivs[iv + k]!
    const a = ctr32[w]!, b = ctr32[w + 1]!, c = ctr32[w + 2]!
    for (let j = 0; j < per; j++) { ctr32[w] = a; ctr32[w + 1] = b; ctr32[w + 2] = c; ctr32[w + 3] = COUNTER_WORDS[j]!; w += 4 }
  }
  // The keystream lands at the same offset mod 4 as the first message, so that words line up.
  const first = one ?? many[from]!
  const phase = (first.byteOffset + offs[from]!) & 3
  aes.encrypt(ctr, 0, ks, phase, blocks)
  const head = (4 - phase) & 3
  for (let i = 0; i < n; i++) {
    const d = one ?? many[from + i]!
    const o = offs[from + i]!
    const k = phase + 16 * i * per
    const words = (len - head) >>> 2
    const dw = (d.byteOffset + o + head) >>> 2
    const d32 = ((d.byteOffset + o) & 3) === phase && len >= 8 ? wordsOf(d) : undefined
    if (d32 === undefined || dw + words > d32.length) {
      for (let j = 0; j < len; j++) d[o + j]! ^= ks[k + j]!
      continue
    }
    for (let j = 0; j < head; j++) d[o + j]! ^= ks[k + j]!
    const kw = (k + head) >>> 2
    for (let j = 0; j < words; j++) d32[dw + j]! ^= ks32[kw + j]!
    for (let j = head + 4 * words; j < len; j++) d[o + j]! ^= ks[k + j]!
  }
  ks.fill(0, 0, phase + 16 * blocks)
  ctr.fill(0, 0, 16 * blocks)
}
