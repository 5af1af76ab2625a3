import t from 'tap'
import fc from 'fast-check'
import { pack } from 'msgpackr'
import { packRecord, unpackRecord, MAX_DEPTH } from '../../src/wire/index.ts'
import { ConfigError, DecodeError, LimitError } from '../../src/util/errors.ts'

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

t.test('golden vector: standard MessagePack map, re-packed to identical bytes', async t => {
  // {"n": 1, "s": "hi", "b": bin[01 02], "a": [true, null]}
  const golden = hex('84 a16e 01 a173 a26869 a162 c4020102 a161 92c3c0')
  const v = unpackRecord(golden, 100)
  t.same(v, { n: 1, s: 'hi', b: Uint8Array.of(1, 2), a: [true, null] })
  t.equal(toHex(packRecord(v)), toHex(golden))
})

t.test('round trip of plain data; undefined fields are dropped; 64-bit ints survive', async t => {
  const rec = { a: 1, b: -2.5, c: 'x', d: [1, [2, { e: null }]], f: Uint8Array.of(9), g: undefined, t: 1_800_000_000_000, big: 2n ** 63n }
  const back = unpackRecord(packRecord(rec), 1000)
  t.same(back, { a: 1, b: -2.5, c: 'x', d: [1, [2, { e: null }]], f: Uint8Array.of(9), t: 1_800_000_000_000, big: 2n ** 63n })
  t.notOk('g' in back)
  t.ok(back.f instanceof Uint8Array)
})

t.test('packRecord refuses non-plain input and oversize output', async t => {
  t.throws(() => packRecord(new Date()), ConfigError)
  t.throws(() => packRecord({ d: new Date() }), ConfigError)
  t.throws(() => packRecord({ m: new Map() }), ConfigError)
  t.throws(() => packRecord({ s: new Set([1]) }), ConfigError)
  t.throws(() => packRecord([1, 2]), ConfigError)
  t.throws(() => packRecord({ f: () => 1 } as object), ConfigError)
  t.throws(() => packRecord({ a: [undefined] }), ConfigError)
  t.throws(() => packRecord({ s: 'x'.repeat(100) }, 50), LimitError)
})

t.test('unpackRecord rejects extensions, bad keys, oversize, trailing and non-map input', async t => {
  const bad: Array<[string, Uint8Array]> = [
    ['Date (timestamp ext -1)', pack({ d: new Date(0) })],
    ['Set (ext 0x73)', new Uint8Array(pack(new Set([1])))],
    ['fixext1 undefined', hex('81 a161 d40000')],
    ['ext8', hex('81 a161 c70105ff')],
    ['record ext 0x72', hex('d47200')],
    ['0xc1', hex('81 a161 c1')],
    ['__proto__ key', hex('81 a95f5f70726f746f5f5f 80')],
    ['duplicate key', hex('82 a161 01 a161 02')],
    ['integer key', hex('81 01 02')],
    ['invalid UTF-8 string', hex('81 a161 a1ff')],
    ['top-level array', hex('9101')],
    ['top-level string', hex('a161')],
    ['empty', new Uint8Array(0)],
    ['trailing byte', hex('80 00')],
    ['truncated', hex('82 a161 01')],
    ['huge claimed length', hex('81 a161 dbffffffff')],
    ['huge map count', hex('dfffffffff')]
  ]
  for (const [what, bytes] of bad) t.throws(() => unpackRecord(bytes, 1000), DecodeError, what)
  t.throws(() => unpackRecord(packRecord({ s: 'x'.repeat(100) }), 50), DecodeError, 'oversize')
  const deep = new Uint8Array(MAX_DEPTH + 8).fill(0x91)
  deep[0] = 0x81; deep[1] = 0xa1; deep[2] = 0x61; deep[deep.length - 1] = 0x01
  t.throws(() => unpackRecord(deep, 1000), { name: 'DecodeError', message: /nesting/ })
  const polluted = unpackRecord(hex('81 ab636f6e7374727563746f72 01'), 100)
  t.equal(Object.getPrototypeOf(polluted), Object.prototype, 'a "constructor" key is just data')
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

const plain: fc.Arbitrary<unknown> = fc.letrec(tie => ({
  v: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.double({ noNaN: true }), fc.integer(), fc.string(), fc.uint8Array({ maxLength: 8 }),
    fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.string().filter(k => k !== '__proto__'), tie('v'), { maxKeys: 4 }))
})).v

t.test('property: plain records round-trip byte-identically', async t => {
  fc.assert(fc.property(fc.dictionary(fc.string().filter(k => k !== '__proto__'), plain, { maxKeys: 5 }), rec => {
    const bytes = packRecord(rec)
    return toHex(packRecord(unpackRecord(bytes, 1 << 20))) === toHex(bytes)
  }), { numRuns: 500 })
  t.pass('500 records')
})

t.test('property: random bytes either unpack or throw DecodeError', async t => {
  const check = (bytes: Uint8Array): void => {
    try { unpackRecord(bytes, 1 << 16) } catch (err) { if (!(err instanceof DecodeError)) throw err }
  }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check), { numRuns: 3000 })
  // Random bytes behind a map header, so the walk goes deeper than the first byte.
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), b => check(Uint8Array.of(0x83, ...b))), { numRuns: 3000 })
  t.pass('6000 random inputs')
})
