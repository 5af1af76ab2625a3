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

// Scratch, grown as needed and shared (one call runs at a time): counter blocks, keystream.
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

/**
 * XORs the AES-CTR keystream of `aes`'s key into `len` bytes of each of `n` messages, in place:
 * message i is `bufs[i][offs[i], offs[i] + len)` (or, when `bufs` is one array, `bufs[offs[i], …)`)
 * and its IV the 12 bytes at `ivs[ivOff + 16i]`. The same call encrypts and decrypts. Callers
 * check the ranges; CryptoError if `len` is not in 1..{@link MAX_CTR_BYTES}.
 */
export function ctrXorMany (aes: BlockCipher, ivs: Uint8Array, ivOff: number,
  bufs: Uint8Array | readonly Uint8Array[], offs: ArrayLike<number>, n: number, len: number): void {
  if (!Number.isInteger(len) || len < 1 || len > MAX_CTR_BYTES) throw new CryptoError(`CTR message of ${len} bytes, not 1..${MAX_CTR_BYTES}`)
  if (n <= 0) return
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
    for (let k = 0; k < 12; k++) ctr[at + k] = ivs[ivOff + 16 * i + k]!
    const a = ctr32[w]!, b = ctr32[w + 1]!, c = ctr32[w + 2]!
    for (let j = 0; j < per; j++) { ctr32[w] = a; ctr32[w + 1] = b; ctr32[w + 2] = c; ctr32[w + 3] = COUNTER_WORDS[j]!; w += 4 }
  }
  // The keystream lands at the same offset mod 4 as the first message, so that words line up.
  const one = bufs instanceof Uint8Array ? bufs : undefined
  const first = one ?? (bufs as readonly Uint8Array[])[0]!
  const phase = (first.byteOffset + offs[0]!) & 3
  aes.encrypt(ctr, 0, ks, phase, blocks)
  const head = (4 - phase) & 3
  for (let i = 0; i < n; i++) {
    const d = one ?? (bufs as readonly Uint8Array[])[i]!
    const o = offs[i]!
    const k = phase + 16 * i * per
    if (((d.byteOffset + o) & 3) !== phase || len < 8) {
      for (let j = 0; j < len; j++) d[o + j]! ^= ks[k + j]!
      continue
    }
    for (let j = 0; j < head; j++) d[o + j]! ^= ks[k + j]!
    const words = (len - head) >>> 2
    const d32 = wordsOf(d)
    const dw = (d.byteOffset + o + head) >>> 2
    const kw = (k + head) >>> 2
    for (let j = 0; j < words; j++) d32[dw + j]! ^= ks32[kw + j]!
    for (let j = head + 4 * words; j < len; j++) d[o + j]! ^= ks[k + j]!
  }
  ks.fill(0, 0, phase + 16 * blocks)
}
