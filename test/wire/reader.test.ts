import t from 'tap'
import fc from 'fast-check'
import { Reader, Writer, encode, decode, type Codec } from '../../src/wire/index.ts'
import { DecodeError, LimitError } from '../../src/util/errors.ts'

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** A sample record exercising every Reader/Writer method. */
interface Sample { a: number, b: number, c: number, d: bigint, blob: Uint8Array, name: string, tag: Uint8Array }
const sample: Codec<Sample> = {
  maxSize: 1 + 2 + 4 + 8 + 2 + 64 + 2 + 64 + 1 + 16,
  encode (w, v) {
    w.u8(v.a).u16(v.b).u32(v.c).u64(v.d).varBytes(v.blob, 64).string(v.name, 64).varBytes(v.tag, 16, { lengthBytes: 1 })
  },
  decode (r) {
    return { a: r.u8(), b: r.u16(), c: r.u32(), d: r.u64(), blob: r.varBytes(64), name: r.string(64), tag: r.varBytes(16, { lengthBytes: 1 }) }
  }
}

// Golden vector: u8 0x01, u16 0x0203, u32 0x04050607, u64 0x08090a0b0c0d0e0f,
// varBytes [aa bb], string "hé" (UTF-8 68 c3 a9), u8-prefixed tag [ff].
const GOLDEN = hex('01 0203 04050607 08090a0b0c0d0e0f 0002aabb 000368c3a9 01ff')

t.test('golden vector: decode, check fields, re-encode to identical bytes', async t => {
  const v = decode(sample, GOLDEN)
  t.equal(v.a, 1)
  t.equal(v.b, 0x0203)
  t.equal(v.c, 0x04050607)
  t.equal(v.d, 0x08090a0b0c0d0e0fn)
  t.equal(toHex(v.blob), 'aabb')
  t.equal(v.name, 'hé')
  t.equal(toHex(v.tag), 'ff')
  t.equal(toHex(encode(sample, v)), toHex(GOLDEN))
})

t.test('truncation is a DecodeError naming size and offset', async t => {
  for (let n = 0; n < GOLDEN.length; n++) {
    t.throws(() => decode(sample, GOLDEN.subarray(0, n)), DecodeError)
  }
  t.throws(() => new Reader(hex('0102')).u32(), { name: 'DecodeError', message: 'truncated: need 4 bytes at offset 0' })
  const r = new Reader(hex('00'))
  r.u8()
  t.throws(() => r.u8(), { message: 'truncated: need 1 bytes at offset 1' })
})

t.test('trailing bytes, oversize input and lengths over max are DecodeErrors', async t => {
  t.throws(() => decode(sample, Uint8Array.of(...GOLDEN, 0)), { name: 'DecodeError', message: /trailing/ })
  t.throws(() => decode(sample, new Uint8Array(sample.maxSize + 1)), { name: 'DecodeError', message: /exceeds maximum/ })
  t.throws(() => new Reader(hex('0005 0102030405')).varBytes(4), { name: 'DecodeError', message: /length 5 at offset 0 exceeds maximum 4/ })
  t.throws(() => new Reader(hex('0002 ffff')).string(8), { name: 'DecodeError', message: /UTF-8/ })
  t.throws(() => new Reader(hex('0020000000000000')).u64Number(), DecodeError)
  t.equal(new Reader(hex('001fffffffffffff')).u64Number(), Number.MAX_SAFE_INTEGER)
})

t.test('bytes() is a view, reader tracks offset and remaining', async t => {
  const buf = hex('01020304')
  const r = new Reader(buf)
  const v = r.bytes(2)
  t.equal(r.offset, 2)
  t.equal(r.remaining, 2)
  buf[0] = 9
  t.equal(v[0], 9)
  t.throws(() => r.end(), DecodeError)
  r.bytes(2)
  r.end()
})

t.test('writer refuses out-of-range values and over-long fields with LimitError', async t => {
  t.throws(() => new Writer().u8(256), LimitError)
  t.throws(() => new Writer().u16(-1), LimitError)
  t.throws(() => new Writer().u32(1.5), LimitError)
  t.throws(() => new Writer().u64(-1n), LimitError)
  t.throws(() => new Writer().u64(2n ** 64n), LimitError)
  t.throws(() => new Writer().varBytes(new Uint8Array(5), 4), LimitError)
  t.throws(() => new Writer().varBytes(new Uint8Array(256), 1000, { lengthBytes: 1 }), LimitError)
  t.throws(() => new Writer({ limit: 3 }).u32(0), LimitError)
  t.throws(() => encode({ ...sample, maxSize: 10 }, decode(sample, GOLDEN)), LimitError)
  const w = new Writer({ initialSize: 1 })
  for (let i = 0; i < 1000; i++) w.u16(i)
  t.equal(w.finish().length, 2000, 'grows')
})

t.test('property: round trip of random samples', async t => {
  const arb = fc.record({
    a: fc.integer({ min: 0, max: 255 }),
    b: fc.integer({ min: 0, max: 0xffff }),
    c: fc.integer({ min: 0, max: 0xffff_ffff }),
    d: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    blob: fc.uint8Array({ maxLength: 64 }),
    name: fc.string({ maxLength: 16, unit: 'binary' }),
    tag: fc.uint8Array({ maxLength: 16 })
  })
  fc.assert(fc.property(arb, v => {
    const bytes = encode(sample, v)
    const back = decode(sample, bytes)
    return toHex(encode(sample, back)) === toHex(bytes) && back.name === v.name && back.d === v.d
  }), { numRuns: 500 })
  t.pass('500 round trips')
})

t.test('property: random bytes either decode or throw DecodeError', async t => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), bytes => {
    try {
      decode(sample, bytes)
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err
    }
  }), { numRuns: 2000 })
  t.pass('2000 random inputs')
})
