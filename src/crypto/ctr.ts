/**
 * AES-256-CTR (NIST SP 800-38A) over many short messages at once: what a tunnel hop needs to
 * encrypt a batch of cells, each under its own IV.
 *
 * Node gives CTR one IV per cipher object, and making one costs 2–3 µs: more than the AES of a
 * 1 KiB cell. So for a batch this writes every message's counter blocks, encrypts them all with
 * one ECB call (OpenSSL, AES-NI) and XORs the keystream in. Message i's counter blocks are
 * `iv_i[0..12) ‖ BE32(j)` for j = 0, 1, …: byte for byte what
 * `createCipheriv('aes-256-ctr', key, iv_i[0..12) ‖ 0⁴)` gives (test/crypto/ctr.test.ts). The
 * 32-bit counter never wraps: a message is at most {@link MAX_CTR_BYTES}.
 *
 * Writing the counters and the XOR run in a small WebAssembly SIMD kernel (`ctr.wat`, 16 bytes
 * per instruction; no cipher in it), on copies of the messages in its memory (messages evenly
 * spaced in one array, as the cells of a TUNNEL_DATA message are, in one copy each way). For 59 cells of
 * 1008 bytes, this whole function costs 0.5–1.0 µs per cell, against 1.1–2.3 µs with the same
 * loops in JS on 32-bit words (microbenchmark, five rounds each, one sitting).
 */
import type { BlockCipher } from './types.ts'
import { CryptoError } from '../util/errors.ts'

/** Longest message (bytes) {@link ctrXorMany} takes. */
export const MAX_CTR_BYTES = 4096

/** `ctr.wat` compiled by wabt 1.0.39 (`wat2wasm --enable-simd`); a test recompiles and compares. */
export const CTR_WASM_BASE64 =
  'AGFzbQEAAAABEQJgBH9/f38AYAZ/f39/f38AAwMCAAEFAwEABAcVAwNtZW0CAANjdHIAAAV4b3JBdAABCp8CAncCAn8BewJAA0AgBCACTw0BIAAg' +
  'BEEEdGr9AAQAIQZBACEFAkADQCAFIANPDQEgASAGIAVBGHQgBUGA/gNxQQh0ciAFQQh2QYD+A3EgBUEYdnJy/RwD/QsEACABQRBqIQEgBUEBaiEF' +
  'DAALCyAEQQFqIQQMAAsLC6QBAQV/IANBcHEhCgJAA0AgBiACTw0BIAAgBiAEbGohByABIAYgBWxqIQggByAKaiEJAkADQCAHIAlPDQEgByAH/QAE' +
  'ACAI/QAEAP1R/QsEACAHQRBqIQcgCEEQaiEIDAALCyAJIAMgCmtqIQkCQANAIAcgCU8NASAHIActAAAgCC0AAHM6AAAgB0EBaiEHIAhBAWohCAwA' +
  'CwsgBkEBaiEGDAALCws='

/** The slice of the WebAssembly API used here (tsconfig's ES2022 lib does not declare it). */
interface Wasm {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: object) => { exports: unknown }
}
const { Module, Instance } = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly

interface Kernel {
  mem: { buffer: ArrayBuffer }
  /** Writes `n` messages' `per` counter blocks from the IVs at `ivs` (16 apart) to `out`. */
  ctr: (ivs: number, out: number, n: number, per: number) => void
  /** For i < n: XORs the `len` bytes at `s + i·slot` into `d + i·stride`. */
  xorAt: (d: number, s: number, n: number, len: number, stride: number, slot: number) => void
}

const kernel = ((): Kernel => {
  try {
    return new Instance(new Module(Buffer.from(CTR_WASM_BASE64, 'base64')), {}).exports as Kernel
  } catch (err) {
    throw new CryptoError(`the CTR kernel needs WebAssembly with SIMD (Node 20 has it): ${String(err)}`)
  }
})()
/** The kernel's memory (4 pages, never grown, so this view stays valid). */
const mem = new Uint8Array(kernel.mem.buffer)

/** Bytes of counter blocks (and of keystream, and of messages) per chunk: one ECB call. */
const REGION = 64 * 1024
/** Where the IVs, counter blocks, keystream and message copies sit in the kernel's memory. */
const IVS = 0
const CTR = 1024
const KS = CTR + REGION
const DATA = KS + REGION
/** Room for message copies: the rest of the kernel's 4 pages. */
const DATA_ROOM = 4 * 65536 - DATA

/**
 * XORs the AES-CTR keystream of `aes`'s key into `len` bytes of each of `n` messages, in place:
 * message i is `bufs[i][offs[i], offs[i] + len)` (or, when `bufs` is one array, `bufs[offs[i], …)`)
 * and its IV the 12 bytes at `ivs[ivOff + 16i]`. Messages must not overlap. The same call
 * encrypts and decrypts. CryptoError (before anything changes) if `len` is not in
 * 1..{@link MAX_CTR_BYTES}, an IV or a message range falls outside its array, or `n` is not a
 * whole number. Should the cipher throw (a disposed key), messages of earlier chunks of 64 are
 * already transformed and the others not.
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
  const slot = 16 * ((len + 15) >>> 4)
  const step = Math.min(64, Math.floor(REGION / slot))
  for (let from = 0; from < n; from += step) {
    chunk(aes, ivs, ivOff, one, bufs as readonly Uint8Array[], offs, from, Math.min(n, from + step), len, slot)
  }
}

/**
 * Messages `from` until `to` of a checked {@link ctrXorMany} call: one ECB call, one XOR call.
 * Message i's keystream is at `KS + i·slot`; its copy at `DATA + i·stride`, where `stride` is the
 * messages' own spacing when they sit evenly in one array (one copy each way), else `slot`.
 */
function chunk (aes: BlockCipher, ivs: Uint8Array, ivOff: number, one: Uint8Array | undefined, many: readonly Uint8Array[],
  offs: ArrayLike<number>, from: number, to: number, len: number, slot: number): void {
  const n = to - from
  const bytes = n * slot
  const at = ivOff + 16 * from
  // Messages evenly spaced in one array (the cells of a TUNNEL_DATA message) cross in one copy each way.
  const base = offs[from]!
  const spacing = n > 1 ? offs[from + 1]! - base : len
  let even = one !== undefined && spacing >= len && (n - 1) * spacing + len <= DATA_ROOM
  for (let i = 2; even && i < n; i++) even = offs[from + i] === base + i * spacing
  const stride = even ? spacing : slot
  const span = (n - 1) * stride + len
  try {
    mem.set(ivs.subarray(at, Math.min(ivs.length, at + 16 * n)), IVS)
    kernel.ctr(IVS, CTR, n, slot >>> 4)
    aes.encrypt(mem, CTR, mem, KS, bytes >>> 4)
    if (even) mem.set(one!.subarray(base, base + span), DATA)
    else for (let i = 0; i < n; i++) mem.set((one ?? many[from + i]!).subarray(offs[from + i]!, offs[from + i]! + len), DATA + i * stride)
    kernel.xorAt(DATA, KS, n, len, stride, slot)
    if (even) one!.set(mem.subarray(DATA, DATA + span), base)
    else for (let i = 0; i < n; i++) (one ?? many[from + i]!).set(mem.subarray(DATA + i * stride, DATA + i * stride + len), offs[from + i]!)
  } finally {
    // Nothing of the call outlives it: IVs, counters, keystream, message copies.
    mem.fill(0, IVS, IVS + 16 * n)
    mem.fill(0, CTR, CTR + bytes)
    mem.fill(0, KS, KS + bytes)
    mem.fill(0, DATA, DATA + span)
  }
}
