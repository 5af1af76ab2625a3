/**
 * The raw ChaCha20 (IETF) stream and one-block AES-256 of the crypto suite: published vectors,
 * agreement with OpenSSL, in-place and offset use, argument checks.
 */
import t from 'tap'
import * as nc from 'node:crypto'
import fc from 'fast-check'
import { loadCrypto } from '../../src/crypto/index.ts'
import { CryptoError, DecodeError, LimitError } from '../../src/util/errors.ts'

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const seq = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i)

/** OpenSSL's ChaCha20 (IV = 32-bit little-endian counter, then the 12-byte nonce) as a reference. */
function reference (key: Uint8Array, nonce: Uint8Array, data: Uint8Array, counter = 0): string {
  const iv = Buffer.alloc(16)
  iv.writeUInt32LE(counter, 0)
  iv.set(nonce, 4)
  return nc.createCipheriv('chacha20', key, iv).update(data).toString('hex')
}

t.test('ChaCha20: RFC 8439 §2.4.2 vector (counter 1) and §A.1 vector #1 (counter 0)', async t => {
  const c = await loadCrypto()
  const pt = new TextEncoder().encode("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.")
  const ct = c.chacha20Xor(seq(32), hex('000000000000004a00000000'), pt, undefined, 0, pt.length, 0, 1)
  t.equal(toHex(ct), '6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b' +
    'f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8' +
    '07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736' +
    '5af90bbf74a35be6b40b8eedf2785e42874d')
  const ks = c.chacha20Xor(new Uint8Array(32), new Uint8Array(12), new Uint8Array(64))
  t.equal(toHex(ks), '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7' +
    'da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586')
})

t.test('ChaCha20: agrees with OpenSSL; in place equals out of place; offsets respected', async t => {
  const c = await loadCrypto()
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 12, maxLength: 12 }),
    fc.uint8Array({ maxLength: 2100 }), fc.nat({ max: 40 }), fc.nat({ max: 40 }), fc.nat({ max: 1000 }),
    (key, nonce, data, pre, post, counter) => {
      const expect = reference(key, nonce, data, counter)
      // Out of place into a larger buffer at an offset; bytes around it untouched.
      const src = new Uint8Array(pre + data.length + post).fill(0xaa)
      src.set(data, pre)
      const dst = new Uint8Array(7 + data.length + 5).fill(0x55)
      const r = c.chacha20Xor(key, nonce, src, dst, pre, data.length, 7, counter)
      if (r !== dst || toHex(dst.subarray(7, 7 + data.length)) !== expect) return false
      if (dst.subarray(0, 7).some(b => b !== 0x55) || dst.subarray(7 + data.length).some(b => b !== 0x55)) return false
      if (src.subarray(pre, pre + data.length).some((b, i) => b !== data[i])) return false
      // In place, same offsets.
      const inPlace = src.slice()
      c.chacha20Xor(key, nonce, inPlace, inPlace, pre, data.length, pre, counter)
      if (toHex(inPlace.subarray(pre, pre + data.length)) !== expect) return false
      if (inPlace.subarray(0, pre).some(b => b !== 0xaa) || inPlace.subarray(pre + data.length).some(b => b !== 0xaa)) return false
      // Overlapping, shifted by one byte.
      const shifted = src.slice()
      if (data.length > 0 && pre > 0) {
        c.chacha20Xor(key, nonce, shifted, shifted, pre, data.length, pre - 1, counter)
        if (toHex(shifted.subarray(pre - 1, pre - 1 + data.length)) !== expect) return false
      }
      // Default arguments: a fresh array of the whole input; XOR twice is the identity.
      const fresh = c.chacha20Xor(key, nonce, data, undefined, 0, data.length, 0, counter)
      return fresh !== data && toHex(fresh) === expect &&
        toHex(c.chacha20Xor(key, nonce, fresh, undefined, 0, fresh.length, 0, counter)) === toHex(data)
    }), { numRuns: 150 })
  t.pass('150 random cases agree')
})

t.test('ChaCha20: inputs of 4 KiB and more (the OpenSSL path) agree with libsodium, at offsets and in place', async t => {
  const c = await loadCrypto()
  const sodium = (await import('libsodium-wrappers-sumo')).default
  await sodium.ready
  for (const len of [4095, 4096, 4097, 32768, 40_000]) {
    const key = nc.randomBytes(32)
    const nonce = nc.randomBytes(12)
    const data = new Uint8Array(nc.randomBytes(len))
    const counter = len % 1000
    const expect = toHex(sodium.crypto_stream_chacha20_ietf_xor_ic(data, nonce, counter, key))
    const src = new Uint8Array(3 + len + 2).fill(0xaa)
    src.set(data, 3)
    const dst = new Uint8Array(5 + len + 4).fill(0x55)
    c.chacha20Xor(key, nonce, src, dst, 3, len, 5, counter)
    t.equal(toHex(dst.subarray(5, 5 + len)), expect, `${len} bytes, out of place at offsets`)
    t.ok(dst.subarray(0, 5).every(b => b === 0x55) && dst.subarray(5 + len).every(b => b === 0x55), `${len} bytes: nothing written around`)
    c.chacha20Xor(key, nonce, src, src, 3, len, 2, counter)
    t.equal(toHex(src.subarray(2, 2 + len)), expect, `${len} bytes, in place shifted by one byte`)
    // The last usable counters: OpenSSL must not carry into the nonce. The reference is libsodium's
    // WASM export (which the suite uses below 4 KiB), 64 bytes at a time: its JS wrapper refuses
    // counters of 2^31 and more.
    const last = 2 ** 32 - Math.ceil(len / 64)
    const byBlocks = new Uint8Array(len)
    for (let at = 0; at < len; at += 64) c.chacha20Xor(key, nonce, data, byBlocks, at, Math.min(64, len - at), at, last + at / 64)
    t.equal(toHex(c.chacha20Xor(key, nonce, data, undefined, 0, len, 0, last)), toHex(byBlocks), `${len} bytes ending at the last block counter`)
  }
})

t.test('ChaCha20: argument checks', async t => {
  const c = await loadCrypto()
  const k = new Uint8Array(32)
  const n = new Uint8Array(12)
  t.throws(() => c.chacha20Xor(new Uint8Array(31), n, new Uint8Array(4)), CryptoError)
  t.throws(() => c.chacha20Xor(k, new Uint8Array(16), new Uint8Array(4)), CryptoError)
  t.throws(() => c.chacha20Xor(k, n, new Uint8Array(4), undefined, 2, 3), DecodeError)
  t.throws(() => c.chacha20Xor(k, n, new Uint8Array(4), new Uint8Array(4), 0, 4, 1), DecodeError)
  t.throws(() => c.chacha20Xor(k, n, new Uint8Array(4), undefined, -1), DecodeError)
  t.throws(() => c.chacha20Xor(k, n, new Uint8Array(65), undefined, 0, 65, 0, 0xffff_ffff), LimitError)
  t.equal(c.chacha20Xor(k, n, new Uint8Array(64), undefined, 0, 64, 0, 0xffff_ffff).length, 64, 'the last block is usable')
  t.equal(c.chacha20Xor(k, n, new Uint8Array(0)).length, 0, 'empty input')
})

t.test('AES-256 block cipher: FIPS-197 C.3 vector, OpenSSL agreement, offsets and in place', async t => {
  const c = await loadCrypto()
  const bc = c.blockCipher(seq(32))
  const out = new Uint8Array(16)
  bc.encrypt(hex('00112233445566778899aabbccddeeff'), 0, out, 0)
  t.equal(toHex(out), '8ea2b7ca516745bfeafc49904b496089')
  const back = new Uint8Array(20)
  bc.decrypt(out, 0, back, 3)
  t.equal(toHex(back.subarray(3, 19)), '00112233445566778899aabbccddeeff')
  t.ok(back.subarray(0, 3).every(b => b === 0) && back[19] === 0, 'bytes outside the block untouched')

  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { minLength: 1, maxLength: 8 }),
    fc.nat({ max: 20 }), (key, blocks, off) => {
      const ecb = nc.createCipheriv('aes-256-ecb', key, null).setAutoPadding(false)
      const b = c.blockCipher(key)
      try {
        for (const blk of blocks) {
          const expect = ecb.update(blk).toString('hex')
          const buf = new Uint8Array(off + 16 + 3)
          buf.set(blk, off)
          b.encrypt(buf, off, buf, off) // in place, one block at a time: nothing is held back
          if (toHex(buf.subarray(off, off + 16)) !== expect) return false
          b.decrypt(buf, off, buf, off)
          if (toHex(buf.subarray(off, off + 16)) !== toHex(blk)) return false
        }
        return true
      } finally { b.dispose() }
    }), { numRuns: 100 })

  // Many blocks in one call: the same as one at a time, in place or not, and nothing held back.
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 1, max: 70 }), fc.nat({ max: 20 }),
    (key, n, off) => {
      const b = c.blockCipher(key)
      try {
        const src = c.randomBytes(16 * n)
        const one = new Uint8Array(16 * n)
        for (let i = 0; i < n; i++) b.encrypt(src, 16 * i, one, 16 * i)
        const buf = new Uint8Array(off + 16 * n + 3)
        buf.set(src, off)
        b.encrypt(buf, off, buf, off, n)
        if (toHex(buf.subarray(off, off + 16 * n)) !== toHex(one)) return false
        const back = new Uint8Array(16 * n)
        b.decrypt(buf, off, back, 0, n)
        return toHex(back) === toHex(src) && buf[off + 16 * n] === 0
      } finally { b.dispose() }
    }), { numRuns: 50 })
  t.throws(() => bc.encrypt(new Uint8Array(32), 0, new Uint8Array(32), 0, 3), DecodeError, 'too few bytes for 3 blocks')
  t.throws(() => bc.encrypt(new Uint8Array(32), 0, new Uint8Array(32), 0, 0), CryptoError, 'zero blocks')
  t.throws(() => bc.encrypt(new Uint8Array(15), 0, out, 0), DecodeError)
  t.throws(() => bc.encrypt(new Uint8Array(20), 5, out, 0), DecodeError)
  t.throws(() => bc.decrypt(new Uint8Array(16), 0, out, 1), DecodeError)
  t.throws(() => c.blockCipher(new Uint8Array(16)), CryptoError)
  bc.dispose()
  t.throws(() => bc.encrypt(out, 0, out, 0), 'unusable after dispose')
})
