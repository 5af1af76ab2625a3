/**
 * The libsodium (WASM, `libsodium-wrappers-sumo`) crypto suite.
 *
 * Cold-path primitives go through the wrappers. The hot path (`aeadCipher`, BLAKE2b, HKDF) calls
 * libsodium's WASM exports directly on a reused heap region: the wrappers allocate and check on
 * every call, which costs ~1.7 us of a 4.2 us 1 KiB AEAD (see shared/reference/anchors.md).
 * SHA-256 (not exported by this libsodium build) and the CSPRNG come from node:crypto (OpenSSL):
 * libsodium's WASM build asks JS for randomness 4 bytes per call, which dominated handshakes.
 *
 * X25519 runs on OpenSSL (`x25519-native.ts`, 2.5 times faster), key generation too unless the
 * suite is seeded (a seeded suite's keys follow its seed).
 *
 * Tunnel cells need AES-256 on many blocks at once: OpenSSL's `aes-256-ecb`, one persistent
 * context per direction (the cell body's CTR keystream is built on it, `ctr.ts`). Build records
 * and fs blocks need the raw ChaCha20 (IETF) stream. Short inputs (build records) call
 * libsodium's `crypto_stream_chacha20_ietf_xor_ic` export directly on the heap scratch: that is
 * why Umbra depends on `libsodium-wrappers-sumo` (the standard build lacks the export; OpenSSL's
 * `chacha20` costs more per call). From 4 KiB on (fs blocks) OpenSSL's is faster per byte and
 * takes over.
 *
 * `createCrypto({ seed })` gives a deterministic suite for tests: all randomness, and so all
 * generated keys, follow from the seed.
 */
import { createCipheriv, createDecipheriv, createHash, randomFillSync } from 'node:crypto'
import type { Cipher, Decipher } from 'node:crypto'
import sodium from 'libsodium-wrappers-sumo'
import { CryptoError, DecodeError, LimitError } from '../util/errors.ts'
import type { AeadCipher, BlockCipher, CryptoSuite, KeyPair } from './types.ts'
import { NativeX25519 } from './x25519-native.ts'

/** The raw emscripten module inside libsodium-wrappers (exports prefixed with `_`). */
interface RawSodium {
  HEAPU8: Uint8Array
  _malloc (n: number): number
  _free (p: number): void
  _crypto_aead_chacha20poly1305_ietf_encrypt (...a: number[]): number
  _crypto_aead_chacha20poly1305_ietf_decrypt (...a: number[]): number
  _crypto_generichash (...a: number[]): number
  _crypto_kdf_hkdf_sha256_extract (...a: number[]): number
  _crypto_kdf_hkdf_sha256_expand (...a: number[]): number
  /** Sumo builds only (this module loads the sumo build): (c, m, mlenLo, mlenHi, nonce, ic, key). */
  _crypto_stream_chacha20_ietf_xor_ic (...a: number[]): number
}

let ready: Promise<void> | undefined
let raw: RawSodium | undefined

/** Resolves once libsodium's WASM module is loaded. Safe to call many times. */
export async function cryptoReady (): Promise<void> {
  ready ??= sodium.ready.then(() => {
    raw = (sodium as unknown as { libsodium: RawSodium }).libsodium
  })
  await ready
}

function lib (): RawSodium {
  if (raw === undefined) throw new Error('crypto used before cryptoReady() resolved')
  return raw
}

/**
 * One growable scratch region on the WASM heap, shared by all hot-path calls (JS is single
 * threaded and no call re-enters). Layout: [nonce 16][key 32][ad][in][out].
 */
const scratch = { ptr: 0, cap: 0 }
const NONCE_OFF = 0
const KEY_OFF = 16
const FIXED = 48

function scratchFor (adLen: number, inLen: number): { base: number, ad: number, inp: number, out: number } {
  const need = FIXED + adLen + 2 * (inLen + 16) + 64
  const L = lib()
  if (need > scratch.cap) {
    if (scratch.ptr !== 0) { L.HEAPU8.fill(0, scratch.ptr, scratch.ptr + scratch.cap); L._free(scratch.ptr) }
    const cap = Math.max(need, 128 * 1024)
    const p = L._malloc(cap)
    if (p === 0) throw new LimitError('WASM heap exhausted')
    scratch.ptr = p
    scratch.cap = cap
  }
  const base = scratch.ptr
  const ad = base + FIXED
  const inp = ad + adLen
  const out = inp + inLen + 16
  return { base, ad, inp, out }
}

function writeNonce (heap: Uint8Array, at: number, counter: number): void {
  // 4 zero bytes then 64-bit little-endian counter (Noise ChaChaPoly nonce).
  heap.fill(0, at, at + 4)
  let lo = counter >>> 0
  let hi = Math.floor(counter / 0x1_0000_0000) >>> 0
  for (let i = 0; i < 4; i++) { heap[at + 4 + i] = lo & 0xff; lo >>>= 8 }
  for (let i = 0; i < 4; i++) { heap[at + 8 + i] = hi & 0xff; hi >>>= 8 }
}

/**
 * From this size on, the hot-path AEAD runs in OpenSSL (node:crypto): the same RFC 8439
 * ChaCha20-Poly1305, byte for byte, but native code with SIMD. Creating the cipher object costs
 * about a microsecond, so below this size libsodium's WASM export (no object) is faster; above
 * it (link frames of many cells) OpenSSL is several times faster.
 */
const NATIVE_AEAD_MIN = 2048

function nativeNonce (counter: number): Buffer {
  const n = Buffer.alloc(12)
  n.writeUInt32LE(counter >>> 0, 4)
  n.writeUInt32LE(Math.floor(counter / 0x1_0000_0000) >>> 0, 8)
  return n
}

function nativeSealParts (key: Uint8Array, counter: number, src: Uint8Array, ad?: Uint8Array): [Uint8Array, Uint8Array] {
  const c = createCipheriv('chacha20-poly1305', key, nativeNonce(counter), { authTagLength: 16 })
  if (ad !== undefined && ad.length > 0) c.setAAD(ad, { plaintextLength: src.length })
  const body = c.update(src)
  c.final()
  return [body, c.getAuthTag()]
}

function nativeSeal (key: Uint8Array, counter: number, src: Uint8Array, dst: Uint8Array, dstOff: number, ad?: Uint8Array): number {
  const [body, tag] = nativeSealParts(key, counter, src, ad)
  dst.set(body, dstOff)
  dst.set(tag, dstOff + body.length)
  return src.length + 16
}

/**
 * The plaintext of `src` (ciphertext ‖ tag) in a fresh array, or undefined (wiped) when it fails
 * authentication. A plain Uint8Array, not a Buffer: callers' `slice()` must copy.
 */
function nativeOpenFresh (key: Uint8Array, counter: number, src: Uint8Array, ad?: Uint8Array): Uint8Array | undefined {
  const n = src.length - 16
  const d = createDecipheriv('chacha20-poly1305', key, nativeNonce(counter), { authTagLength: 16 })
  if (ad !== undefined && ad.length > 0) d.setAAD(ad, { plaintextLength: n })
  d.setAuthTag(src.subarray(n))
  const body = d.update(src.subarray(0, n))
  try {
    d.final()
  } catch {
    body.fill(0) // unauthenticated plaintext never leaves
    return undefined
  }
  return new Uint8Array(body.buffer, body.byteOffset, body.length)
}

function nativeOpen (key: Uint8Array, counter: number, src: Uint8Array, dst: Uint8Array, dstOff: number, ad?: Uint8Array): number {
  const body = nativeOpenFresh(key, counter, src, ad)
  if (body === undefined) return -1 // nothing written: the plaintext is only copied out after authentication
  dst.set(body, dstOff)
  return body.length
}

class WasmAead implements AeadCipher {
  private key: Uint8Array
  constructor (key: Uint8Array) {
    if (key.length !== 32) throw new CryptoError('AEAD key must be 32 bytes')
    this.key = Uint8Array.from(key)
  }

  seal (counter: number, src: Uint8Array, dst: Uint8Array, dstOff: number, ad?: Uint8Array): number {
    if (src.length >= NATIVE_AEAD_MIN) return nativeSeal(this.key, counter, src, dst, dstOff, ad)
    const L = lib()
    const adLen = ad?.length ?? 0
    const s = scratchFor(adLen, src.length)
    const heap = L.HEAPU8
    writeNonce(heap, s.base + NONCE_OFF, counter)
    heap.set(this.key, s.base + KEY_OFF)
    if (ad !== undefined) heap.set(ad, s.ad)
    heap.set(src, s.inp)
    L._crypto_aead_chacha20poly1305_ietf_encrypt(s.out, 0, s.inp, src.length, 0, s.ad, adLen, 0, 0, s.base + NONCE_OFF, s.base + KEY_OFF)
    const n = src.length + 16
    dst.set(L.HEAPU8.subarray(s.out, s.out + n), dstOff)
    return n
  }

  open (counter: number, src: Uint8Array, dst: Uint8Array, dstOff: number, ad?: Uint8Array): number {
    if (src.length < 16) return -1
    if (src.length >= NATIVE_AEAD_MIN) return nativeOpen(this.key, counter, src, dst, dstOff, ad)
    const L = lib()
    const adLen = ad?.length ?? 0
    const s = scratchFor(adLen, src.length)
    const heap = L.HEAPU8
    writeNonce(heap, s.base + NONCE_OFF, counter)
    heap.set(this.key, s.base + KEY_OFF)
    if (ad !== undefined) heap.set(ad, s.ad)
    heap.set(src, s.inp)
    const rc = L._crypto_aead_chacha20poly1305_ietf_decrypt(s.out, 0, 0, s.inp, src.length, 0, s.ad, adLen, 0, s.base + NONCE_OFF, s.base + KEY_OFF)
    if (rc !== 0) return -1
    const n = src.length - 16
    dst.set(L.HEAPU8.subarray(s.out, s.out + n), dstOff)
    return n
  }

  sealParts (counter: number, src: Uint8Array, ad?: Uint8Array): [Uint8Array, Uint8Array] {
    if (src.length >= NATIVE_AEAD_MIN) return nativeSealParts(this.key, counter, src, ad)
    const out = new Uint8Array(src.length + 16)
    this.seal(counter, src, out, 0, ad)
    return [out.subarray(0, src.length), out.subarray(src.length)]
  }

  openFresh (counter: number, src: Uint8Array, ad?: Uint8Array): Uint8Array | undefined {
    if (src.length < 16) return undefined
    if (src.length >= NATIVE_AEAD_MIN) return nativeOpenFresh(this.key, counter, src, ad)
    const out = new Uint8Array(src.length - 16)
    return this.open(counter, src, out, 0, ad) < 0 ? undefined : out
  }

  dispose (): void { this.key.fill(0) }
}

/** Checks `[off, off + len)` lies inside a buffer of `size` bytes. */
function checkRange (size: number, off: number, len: number, what: string): void {
  if (!Number.isInteger(off) || !Number.isInteger(len) || off < 0 || len < 0 || off + len > size) {
    throw new DecodeError(`${what}: range [${off}, ${off + len}) outside ${size} bytes`)
  }
}

/** ChaCha20 (IETF) XOR by libsodium's WASM export, on the shared heap scratch. */
function wasmChacha20 (key: Uint8Array, nonce: Uint8Array, src: Uint8Array, srcOff: number, len: number,
  dst: Uint8Array, dstOff: number, counter: number): void {
  const L = lib()
  const s = scratchFor(0, len)
  const heap = L.HEAPU8
  heap.set(nonce, s.base + NONCE_OFF)
  heap.set(key, s.base + KEY_OFF)
  heap.set(srcOff === 0 && len === src.length ? src : src.subarray(srcOff, srcOff + len), s.inp)
  L._crypto_stream_chacha20_ietf_xor_ic(s.inp, s.inp, len, 0, s.base + NONCE_OFF, counter, s.base + KEY_OFF)
  dst.set(heap.subarray(s.inp, s.inp + len), dstOff)
}

/**
 * Inputs from this many bytes on take OpenSSL's `chacha20` (the same IETF stream: its 16-byte IV
 * is the 32-bit little-endian block counter, then the nonce). Its per-call cost is higher than
 * the WASM export's, its per-byte cost about 4 times lower: on a 32 KiB fs block ~20 us against
 * ~77 us, on 1 KiB ~9 us against ~7.5 us.
 */
const NATIVE_CHACHA_MIN = 4096

/** ChaCha20 (IETF) XOR by OpenSSL; the output is copied to `dst` (which may be `src`). */
function nativeChacha20 (key: Uint8Array, nonce: Uint8Array, src: Uint8Array, srcOff: number, len: number,
  dst: Uint8Array, dstOff: number, counter: number): void {
  const iv = Buffer.allocUnsafe(16)
  iv.writeUInt32LE(counter, 0)
  iv.set(nonce, 4)
  const out = createCipheriv('chacha20', key, iv).update(src.subarray(srcOff, srcOff + len))
  dst.set(out, dstOff)
}

/** AES-256 (ECB, one or many blocks per call) on OpenSSL contexts kept for the cipher's lifetime. */
class OpensslBlockCipher implements BlockCipher {
  private readonly enc: Cipher
  private readonly dec: Decipher
  constructor (key: Uint8Array) {
    if (key.length !== 32) throw new CryptoError('AES-256 key must be 32 bytes')
    this.enc = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false)
    this.dec = createDecipheriv('aes-256-ecb', key, null).setAutoPadding(false)
  }

  encrypt (src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, blocks = 1): void {
    this.run(this.enc, src, srcOff, dst, dstOff, blocks)
  }

  decrypt (src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, blocks = 1): void {
    this.run(this.dec, src, srcOff, dst, dstOff, blocks)
  }

  private run (c: Cipher | Decipher, src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, blocks: number): void {
    if (!Number.isInteger(blocks) || blocks < 1) throw new CryptoError(`AES block count ${blocks}, not a positive integer`)
    const len = 16 * blocks
    checkRange(src.length, srcOff, len, 'AES input')
    checkRange(dst.length, dstOff, len, 'AES output')
    // Without padding, ECB update() returns every whole block at once in both directions.
    const out = c.update(srcOff === 0 && src.length === len ? src : src.subarray(srcOff, srcOff + len))
    if (out.length !== len) throw new CryptoError('OpenSSL AES held back a block')
    dst.set(out, dstOff)
    out.fill(0) // it may be keystream (crypto/ctr.ts): leave no copy behind
  }

  dispose (): void {
    // final() frees OpenSSL's context (and its key schedule); later use throws.
    this.enc.final()
    this.dec.final()
  }
}

/** Bytes of the CSPRNG pool, and the largest draw served from it. */
const RANDOM_POOL = 4096
const RANDOM_POOL_MAX_DRAW = 64

function toBytes (x: Uint8Array | string): Uint8Array {
  return typeof x === 'string' ? new TextEncoder().encode(x) : x
}

/** Options of {@link createCrypto}. */
export interface CryptoOptions {
  /** Makes all randomness (and so all generated keys) a function of this seed. Tests only. */
  seed?: Uint8Array | string
}

/**
 * Builds the libsodium suite. Await {@link cryptoReady} first (or use {@link loadCrypto}).
 */
export function createCrypto (opts: CryptoOptions = {}): CryptoSuite {
  lib()
  let randomBytes: (n: number) => Uint8Array
  if (opts.seed !== undefined) {
    const seedKey = sodium.crypto_generichash(32, toBytes(opts.seed), null)
    let counter = 0
    randomBytes = (n) => {
      const c = new Uint8Array(8)
      new DataView(c.buffer).setFloat64(0, counter++)
      const s = sodium.crypto_generichash(32, c, seedKey)
      return sodium.randombytes_buf_deterministic(n, s)
    }
  } else {
    // Node's CSPRNG: libsodium's WASM build fetches randomness from JS 4 bytes per call. Small
    // draws (nonces, padding lengths: several per handshake) come from a pool filled 4 KiB at a
    // time; bytes drawn are wiped from it.
    const pool = new Uint8Array(RANDOM_POOL)
    let at = RANDOM_POOL
    randomBytes = (n) => {
      if (!Number.isInteger(n) || n < 0) throw new RangeError(`randomBytes: ${n} is not a byte count`)
      if (n > RANDOM_POOL_MAX_DRAW) return randomFillSync(new Uint8Array(n))
      if (at + n > RANDOM_POOL) { randomFillSync(pool); at = 0 }
      const out = pool.slice(at, at + n)
      pool.fill(0, at, at + n)
      at += n
      return out
    }
  }

  const blake2b = (data: Uint8Array, outLen = 32, key?: Uint8Array): Uint8Array => {
    if (outLen < 16 || outLen > 64) throw new LimitError('BLAKE2b output must be 16..64 bytes')
    if (key !== undefined && (key.length < 16 || key.length > 64)) throw new LimitError('BLAKE2b key must be 16..64 bytes')
    const L = lib()
    const keyLen = key?.length ?? 0
    const s = scratchFor(keyLen, data.length)
    const heap = L.HEAPU8
    if (key !== undefined) heap.set(key, s.ad)
    heap.set(data, s.inp)
    L._crypto_generichash(s.out, outLen, s.inp, data.length, 0, keyLen === 0 ? 0 : s.ad, keyLen)
    return L.HEAPU8.slice(s.out, s.out + outLen)
  }

  const hkdf = (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array | string, length: number): Uint8Array => {
    if (length < 1 || length > 255 * 32) throw new LimitError('HKDF output must be 1..8160 bytes')
    const infoB = toBytes(info)
    const L = lib()
    // Layout: ad = salt, in = ikm || info, out = prk(32) || okm
    const s = scratchFor(salt.length, ikm.length + infoB.length + length + 32)
    const heap = L.HEAPU8
    heap.set(salt, s.ad)
    heap.set(ikm, s.inp)
    heap.set(infoB, s.inp + ikm.length)
    const prk = s.out
    const okm = s.out + 32
    L._crypto_kdf_hkdf_sha256_extract(prk, s.ad, salt.length, s.inp, ikm.length)
    L._crypto_kdf_hkdf_sha256_expand(okm, length, s.inp + ikm.length, infoB.length, prk)
    const out = L.HEAPU8.slice(okm, okm + length)
    L.HEAPU8.fill(0, prk, okm + length)
    return out
  }

  const chacha20Xor = (key: Uint8Array, nonce: Uint8Array, src: Uint8Array, dst?: Uint8Array, srcOff = 0,
    len = src.length - srcOff, dstOff = 0, counter = 0): Uint8Array => {
    if (key.length !== 32) throw new CryptoError('ChaCha20 key must be 32 bytes')
    if (nonce.length !== 12) throw new CryptoError('ChaCha20 (IETF) nonce must be 12 bytes')
    checkRange(src.length, srcOff, len, 'ChaCha20 input')
    const out = dst ?? new Uint8Array(len)
    checkRange(out.length, dstOff, len, 'ChaCha20 output')
    if (!Number.isInteger(counter) || counter < 0 || counter + Math.ceil(len / 64) > 0x1_0000_0000) {
      throw new LimitError('ChaCha20 block counter out of range')
    }
    if (len >= NATIVE_CHACHA_MIN) nativeChacha20(key, nonce, src, srcOff, len, out, dstOff, counter)
    else if (len > 0) wasmChacha20(key, nonce, src, srcOff, len, out, dstOff, counter)
    return out
  }

  const x25519 = new NativeX25519(sk => sodium.crypto_scalarmult_base(sk), sk => blake2b(sk, 16))
  const suite: CryptoSuite = {
    backend: 'libsodium-wasm',
    randomBytes,
    x25519Keypair (): KeyPair {
      // The secret key from randomBytes (Node's CSPRNG, or the seed), its public key from
      // libsodium; never OpenSSL's generator, which can deadlock (x25519-native.ts).
      const secretKey = randomBytes(32)
      const publicKey = sodium.crypto_scalarmult_base(secretKey)
      x25519.remember(secretKey, publicKey)
      return { secretKey, publicKey }
    },
    x25519Public: (sk) => sodium.crypto_scalarmult_base(sk),
    x25519: (sk, pk) => x25519.agree(sk, pk),
    ed25519Keypair (seed?: Uint8Array): KeyPair {
      const kp = sodium.crypto_sign_seed_keypair(seed ?? randomBytes(32))
      return { publicKey: kp.publicKey, secretKey: kp.privateKey }
    },
    sign: (m, sk) => sodium.crypto_sign_detached(m, sk),
    verify (sig, m, pk) {
      if (sig.length !== 64 || pk.length !== 32) return false
      try { return sodium.crypto_sign_verify_detached(sig, m, pk) } catch { return false }
    },
    blake2b,
    sha256: (data) => new Uint8Array(createHash('sha256').update(data).digest()),
    hkdf,
    aeadEncrypt (key, nonce, pt, ad) {
      if (nonce.length !== 12) throw new CryptoError('ChaCha20-Poly1305 nonce must be 12 bytes')
      return sodium.crypto_aead_chacha20poly1305_ietf_encrypt(pt, ad ?? null, null, nonce, key)
    },
    aeadDecrypt (key, nonce, ct, ad) {
      try {
        return sodium.crypto_aead_chacha20poly1305_ietf_decrypt(null, ct, ad ?? null, nonce, key)
      } catch (err) {
        throw new CryptoError('AEAD authentication failed', { cause: err })
      }
    },
    xaeadEncrypt (key, nonce, pt, ad) {
      if (nonce.length !== 24) throw new CryptoError('XChaCha20-Poly1305 nonce must be 24 bytes')
      return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(pt, ad ?? null, null, nonce, key)
    },
    xaeadDecrypt (key, nonce, ct, ad) {
      try {
        return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ct, ad ?? null, nonce, key)
      } catch (err) {
        throw new CryptoError('AEAD authentication failed', { cause: err })
      }
    },
    aeadCipher: (key) => new WasmAead(key),
    chacha20Xor,
    blockCipher: (key) => new OpensslBlockCipher(key),
    equal: (a, b) => a.length === b.length && (a.length === 0 || sodium.memcmp(a, b)),
    wipe: (buf) => { x25519.forget(buf); buf.fill(0) }
  }
  return suite
}

/** Waits for libsodium and returns a suite: the usual way to get one. */
export async function loadCrypto (opts: CryptoOptions = {}): Promise<CryptoSuite> {
  await cryptoReady()
  return createCrypto(opts)
}
