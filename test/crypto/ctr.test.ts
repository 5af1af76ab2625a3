/**
 * Batched AES-256-CTR (src/crypto/ctr.ts) against OpenSSL's own aes-256-ctr, message by
 * message: any batch size, length, offset and alignment, one buffer or many, and the limits; and
 * the embedded WebAssembly kernel against its source.
 */
import t from 'tap'
import * as nc from 'node:crypto'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { loadCrypto } from '../../src/crypto/index.ts'
import type { BlockCipher } from '../../src/crypto/types.ts'
import { CTR_WASM_BASE64, MAX_CTR_BYTES, ctrXorMany } from '../../src/crypto/ctr.ts'
import { CryptoError } from '../../src/util/errors.ts'

const c = await loadCrypto()
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** A fresh random AES-256 key and its cipher, disposed when `t` ends. */
function freshCipher (t: { teardown: (fn: () => void) => void }): { key: Buffer, aes: BlockCipher } {
  const key = nc.randomBytes(32)
  const aes = c.blockCipher(key)
  t.teardown(() => { aes.dispose() })
  return { key, aes }
}

/** Message i of a batch, as ctrXorMany reads `bufs` and `offs`, in hex. */
function messagesHex (bufs: Uint8Array | readonly Uint8Array[], offs: readonly number[], len: number): string[] {
  return offs.map((o, i) => hex((bufs instanceof Uint8Array ? bufs : bufs[i]!).subarray(o, o + len)))
}

/** What OpenSSL's CTR gives for one message: IV = the 12 IV bytes then a 32-bit zero counter. */
function reference (key: Uint8Array, iv12: Uint8Array, msg: Uint8Array): Uint8Array {
  const iv = Buffer.concat([iv12, Buffer.alloc(4)])
  return new Uint8Array(nc.createCipheriv('aes-256-ctr', key, iv).update(msg))
}

/** What OpenSSL gives for each message of a batch (message i's IV at `ivs[ivOff + 16i]`), in hex. */
function opensslHex (key: Uint8Array, ivs: Uint8Array, ivOff: number, bufs: Uint8Array | readonly Uint8Array[], offs: readonly number[], len: number): string[] {
  return offs.map((o, i) => hex(reference(key, ivs.subarray(ivOff + 16 * i, ivOff + 16 * i + 12),
    (bufs instanceof Uint8Array ? bufs : bufs[i]!).subarray(o, o + len))))
}

t.test('each message of a batch gets exactly its own OpenSSL CTR keystream', async t => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 32, maxLength: 32 }),
    fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 1100 }), fc.integer({ min: 0, max: 7 }),
    fc.integer({ min: 0, max: 9 }), fc.boolean(), fc.integer({ min: 0, max: 3 }),
    (key, n, len, lead, gap, shared, ivLead) => {
      const aes = c.blockCipher(key)
      const ivs = new Uint8Array(ivLead + 16 * n)
      nc.randomFillSync(ivs)
      const msgs = Array.from({ length: n }, () => new Uint8Array(nc.randomBytes(len)))
      const want = msgs.map((m, i) => hex(reference(key, ivs.subarray(ivLead + 16 * i, ivLead + 16 * i + 12), m)))
      let got: string[]
      if (shared) {
        // All in one array, at offsets whose alignment varies with `lead` and `gap`.
        const stride = len + gap
        const buf = new Uint8Array(lead + n * stride).fill(0xee)
        const offs = msgs.map((m, i) => { buf.set(m, lead + i * stride); return lead + i * stride })
        ctrXorMany(aes, ivs, ivLead, buf, offs, n, len)
        got = offs.map(o => hex(buf.subarray(o, o + len)))
        if (buf.subarray(0, lead).some(b => b !== 0xee)) return false
        for (let i = 0; i < n; i++) if (buf.subarray(offs[i]! + len, offs[i]! + stride).some(b => b !== 0xee)) return false
      } else {
        // Each in its own array, each at its own offset.
        const bufs = msgs.map((m, i) => { const b = new Uint8Array(i + lead + len); b.set(m, i + lead); return b })
        ctrXorMany(aes, ivs, ivLead, bufs, bufs.map((_, i) => i + lead), n, len)
        got = bufs.map((b, i) => hex(b.subarray(i + lead)))
      }
      aes.dispose()
      return got.every((g, i) => g === want[i])
    }), { numRuns: 300 })
  t.pass('300 random batches matched OpenSSL')
})

t.test('the same call decrypts, and views into a pooled Buffer touch only their own bytes', async t => {
  const { aes } = freshCipher(t)
  // Neighbours in one ArrayBuffer at odd offsets, as small Buffers from Node's pool are.
  const whole = Buffer.allocUnsafe(3 + 37 + 1500 + 41)
  const before = whole.subarray(3, 40).fill(0x11)
  const view = whole.subarray(40, 1540).fill(0x5a)
  const after = whole.subarray(1540).fill(0x22)
  const ivs = nc.randomBytes(32)
  ctrXorMany(aes, ivs, 0, view, [1, 700], 2, 700)
  t.not(hex(view.subarray(1, 701)), hex(Buffer.alloc(700, 0x5a)), 'encrypted')
  ctrXorMany(aes, ivs, 0, view, [1, 700], 2, 700)
  t.ok(view.every(b => b === 0x5a), 'decrypted back')
  t.ok(before.every(b => b === 0x11) && after.every(b => b === 0x22), 'the pool neighbours are untouched')
})

t.test('a block counter of 255 and beyond (a 4 KiB message) still matches OpenSSL', async t => {
  const { key, aes } = freshCipher(t)
  const iv = nc.randomBytes(16)
  const msg = new Uint8Array(nc.randomBytes(MAX_CTR_BYTES))
  const want = hex(reference(key, iv.subarray(0, 12), msg))
  ctrXorMany(aes, iv, 0, [msg], [0], 1, MAX_CTR_BYTES)
  t.equal(hex(msg), want)
})

t.test('a batch of 150 (more than one ECB call holds) matches OpenSSL message by message', async t => {
  const { key, aes } = freshCipher(t)
  const n = 150
  const ivs = nc.randomBytes(16 * n)
  const buf = new Uint8Array(nc.randomBytes(6 + n * 1028))
  const offs = Array.from({ length: n }, (_, i) => 22 + i * 1028)
  const want = opensslHex(key, ivs, 0, buf, offs, 1008)
  ctrXorMany(aes, ivs, 0, buf, offs, n, 1008)
  t.same(messagesHex(buf, offs, 1008), want)
})

t.test('messages in one array at uneven offsets (no single stride) still match, and the bytes between stay', async t => {
  const { key, aes } = freshCipher(t)
  const len = 100
  for (const offs of [[0, 100, 250, 350], [7, 107, 207, 400], [300, 0, 150, 450], [0, 120]]) {
    const buf = new Uint8Array(nc.randomBytes(600))
    const ivs = nc.randomBytes(16 * offs.length)
    const want = opensslHex(key, ivs, 0, buf, offs, len)
    const gaps = [...buf]
    ctrXorMany(aes, ivs, 0, buf, offs, offs.length, len)
    t.same(messagesHex(buf, offs, len), want, `offsets ${offs.join(', ')}`)
    const inside = (k: number): boolean => offs.some(o => k >= o && k < o + len)
    t.ok([...buf].every((b, k) => inside(k) || b === gaps[k]), 'bytes between messages untouched')
  }
})

t.test('chunks of fewer than 64 messages (long ones), IVs at an offset, a last IV of only 12 bytes', async t => {
  const { key, aes } = freshCipher(t)
  for (const [len, n, ivOff] of [[4096, 40, 5], [1025, 70, 3], [17, 200, 1]] as const) {
    const ivs = nc.randomBytes(ivOff + 16 * (n - 1) + 12) // exactly long enough
    const msgs = Array.from({ length: n }, () => new Uint8Array(nc.randomBytes(len)))
    const offs = msgs.map(() => 0)
    const want = opensslHex(key, ivs, ivOff, msgs, offs, len)
    ctrXorMany(aes, ivs, ivOff, msgs, offs, n, len)
    t.same(messagesHex(msgs, offs, len), want, `${n} messages of ${len} bytes`)
  }
})

t.test('IVs or messages out of range are refused before anything changes', async t => {
  const aes = c.blockCipher(new Uint8Array(32))
  const buf = new Uint8Array(100)
  t.throws(() => { ctrXorMany(aes, new Uint8Array(16 + 11), 0, buf, [0, 50], 2, 50) }, CryptoError, 'the second IV is short')
  t.throws(() => { ctrXorMany(aes, new Uint8Array(32), 0, buf, [0, 51], 2, 50) }, CryptoError, 'the second message runs past the end')
  t.throws(() => { ctrXorMany(aes, new Uint8Array(32), 0, buf, [-1, 10], 2, 50) }, CryptoError, 'a negative offset')
  t.throws(() => { ctrXorMany(aes, new Uint8Array(32), 0, buf, [0], 2, 50) }, CryptoError, 'fewer offsets than messages')
  t.throws(() => { ctrXorMany(aes, new Uint8Array(32), 0, [buf], [0, 0], 2, 50) }, CryptoError, 'fewer arrays than messages')
  t.ok(buf.every(b => b === 0), 'untouched')
  aes.dispose()
})

t.test('lengths outside 1..MAX_CTR_BYTES are refused; an empty batch does nothing', async t => {
  const aes = c.blockCipher(new Uint8Array(32))
  const buf = new Uint8Array(MAX_CTR_BYTES + 1)
  t.throws(() => { ctrXorMany(aes, new Uint8Array(16), 0, buf, [0], 1, 0) }, CryptoError)
  t.throws(() => { ctrXorMany(aes, new Uint8Array(16), 0, buf, [0], 1, MAX_CTR_BYTES + 1) }, CryptoError)
  t.throws(() => { ctrXorMany(aes, new Uint8Array(16), 0, buf, [0], 1, 1.5) }, CryptoError)
  ctrXorMany(aes, new Uint8Array(16), 0, buf, [], 0, 16)
  t.ok(buf.every(b => b === 0), 'untouched')
  aes.dispose()
})

t.test('the embedded kernel is ctr.wat compiled: nothing in the binary that the source does not say', async t => {
  const wabt = await (await import('wabt')).default()
  const src = readFileSync(new URL('../../src/crypto/ctr.wat', import.meta.url), 'utf8')
  const mod = wabt.parseWat('ctr.wat', src, { simd: true })
  const bytes = Buffer.from(mod.toBinary({}).buffer)
  mod.destroy()
  t.equal(bytes.toString('base64'), CTR_WASM_BASE64)
})
