import t from 'tap'
import fc from 'fast-check'
import { base32Decode, base32Encode, base64I2pDecode, base64I2pEncode } from '../../src/wire/index.ts'
import { DecodeError } from '../../src/util/errors.ts'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

t.test('base32: RFC 4648 test vectors, lowercase, unpadded', async t => {
  const vectors: Array<[string, string]> = [['', ''], ['f', 'my'], ['fo', 'mzxq'], ['foo', 'mzxw6'], ['foob', 'mzxw6yq'], ['fooba', 'mzxw6ytb'], ['foobar', 'mzxw6ytboi']]
  for (const [plain, enc] of vectors) {
    t.equal(base32Encode(bytes(plain)), enc)
    t.equal(toHex(base32Decode(enc)), toHex(bytes(plain)))
  }
})

t.test('base32: bad characters, lengths and trailing bits are DecodeErrors', async t => {
  for (const s of ['MZXW6', 'mzxw1', 'mzx=', 'm', 'mzx', 'mzxw6y', 'mz', 'mzxw6é']) t.throws(() => base32Decode(s), DecodeError, s)
})

t.test('base64 I2P: alphabet, padding optional, strictness', async t => {
  const b = Uint8Array.of(0xfb, 0xff, 0xbf)
  t.equal(base64I2pEncode(b), '-~-~')
  t.equal(base64I2pEncode(Uint8Array.of(0xfb, 0xff)), '-~8=')
  t.equal(toHex(base64I2pDecode('-~8=')), 'fbff')
  t.equal(toHex(base64I2pDecode('-~8')), 'fbff', 'padding cut off')
  t.equal(toHex(base64I2pDecode('AA==')), '00')
  t.equal(toHex(base64I2pDecode('AA')), '00')
  for (const s of ['+~8=', '-/8=', 'AA=', 'A', 'AAAAA', 'AA===', 'A=A=', 'AB==', 'AAB=', 'AA AA', 'AA\n']) {
    t.throws(() => base64I2pDecode(s), DecodeError, JSON.stringify(s))
  }
  t.throws(() => base64I2pDecode('AAAA', 2), DecodeError, 'over maxBytes')
})

t.test('property: both encodings round-trip and base64 decodes without padding', async t => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), b => {
    const s = base64I2pEncode(b)
    return toHex(base64I2pDecode(s)) === toHex(b) && toHex(base64I2pDecode(s.replace(/=+$/, ''))) === toHex(b) &&
      s === Buffer.from(b).toString('base64').replace(/\+/g, '-').replace(/\//g, '~') &&
      toHex(base32Decode(base32Encode(b))) === toHex(b) && /^[a-z2-7]*$/.test(base32Encode(b))
  }), { numRuns: 1000 })
  t.pass('1000 round trips')
})

t.test('property: random strings decode or throw DecodeError', async t => {
  const strs = fc.string({ maxLength: 40, unit: fc.constantFrom(...'ab2=~-+/AZ7z\u00e9\n ') })
  fc.assert(fc.property(strs, s => {
    for (const f of [base32Decode, base64I2pDecode]) {
      try { f(s) } catch (err) { if (!(err instanceof DecodeError)) throw err }
    }
  }), { numRuns: 3000 })
  t.pass('3000 random strings')
})
