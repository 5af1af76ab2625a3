import t from 'tap'
import fc from 'fast-check'
import { createHash } from 'node:crypto'
import { loadCrypto } from '../../src/crypto/index.ts'
import {
  b32Address, destinationFromPrivate, destinationToBase64, generateDestination, parseB32Address, parseDestination,
  privateKeyToBase64, readDestination, UnsupportedDestinationError, DESTINATION_BYTES, PRIVATE_KEY_BYTES
} from '../../src/identity/index.ts'
import { base32Encode, base64I2pDecode, base64I2pEncode, Reader } from '../../src/wire/index.ts'
import { DecodeError } from '../../src/util/errors.ts'

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const crypto = await loadCrypto()
/** Whether `f` throws an UnsupportedDestinationError (its `name` is DecodeError, so match by class). */
const unsupported = (f: () => unknown): boolean => {
  try { f() } catch (err) { return err instanceof UnsupportedDestinationError }
  return false
}

// A destination private key (I2P PrivateKeyFile, 679 bytes) made by generateDestination with
// loadCrypto({ seed: 'umbra-identity-golden' }); cross-checked with Python's hashlib/base64 and
// pyca/cryptography (keys derive to the embedded public keys).
const GOLDEN_PRIVATE =
  'WxtNWdsP~cooXvLqkpOYTnC7meCFa7mCaYKUGBKs7gSX3JVOGN~UZFPDrbrtUrQKAq70Y5PWntXwQELOKpwSUxu8ac2VuYIQx84b' +
  'rjj4Ansim6NEWrmeC8uRAqJITk3~~UOoSC~Ig2rIJnO6dQDyb2bvWtaAK0KxpdOM44swKLoEPLjYaVoKCIXKa3uUyHeL-mTfvoZ-' +
  '695VV5IgHeYGqRk5bd8bT8I~VU2roOuYzvyDtQ~7p6CTI2iXdzHq7HrSMPVAJ7JwsTkEqBS5rYvFc9MZJuveokgUkCVKQEgjKtUI' +
  'AS6ZMAogkrQ20mJZf8FMSMa25miInTRWf2h19At6DsUOPzWY62CtcwpIjphdYgeqvgmLwcTGjopiTn6DDZKNzg0JiS7Fl1luuahu' +
  '9AmH7K9gCCvw7sFNeayYJXCrqmuHg3ogqXmj0G56owLME3M06H6eOPiYI0MqiZrfglotCFl0ffvtYsCWOkLVbg6RDInR-aXImcSK' +
  'ypx221M91wBgBQAEAAcABF0MqXEmEt068NzSOeKITnElVTXQS1oxz3ujH6aqJdl-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
  'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
  'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
  'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAD3tx1nd7ekjLPT9AJEL39kXFC755-2rOyqFkUh' +
  'lImgSQ==' +
  ''
const GOLDEN_B32 = 'faewzcc7zy2c4uvrroa5xp7p4zk6y4nso72xxq3nb6er7o5yohtq.b32.umbra'

t.test('golden private key: decode, re-encode identically, address and layout', async t => {
  t.equal(GOLDEN_PRIVATE.length, 908)
  const k = destinationFromPrivate(crypto, GOLDEN_PRIVATE)
  t.equal(privateKeyToBase64(k), GOLDEN_PRIVATE)
  const pub = destinationToBase64(k.destination)
  t.equal(pub.length, 524)
  t.ok(pub.endsWith('=='))
  t.equal(k.destination.bytes.length, DESTINATION_BYTES)
  t.equal(toHex(k.destination.bytes.subarray(384)), '05000400070004', 'KEY certificate, Ed25519 + X25519')
  t.equal(toHex(k.privateKey.subarray(0, 391)), toHex(k.destination.bytes), 'public is a prefix of private')
  t.equal(toHex(k.destination.encryptionKey), toHex(k.destination.bytes.subarray(0, 32)))
  t.equal(toHex(k.destination.signingKey), toHex(k.destination.bytes.subarray(352, 384)), 'Ed25519 key right-justified')
  t.equal(toHex(k.privateKey.subarray(423, 647)), '00'.repeat(224), 'encryption private field zero after the key')
  t.equal(b32Address(crypto, k.destination.bytes), GOLDEN_B32)
  t.equal(toHex(parseB32Address(GOLDEN_B32)), createHash('sha256').update(k.destination.bytes).digest('hex'))
  t.equal(toHex(destinationFromPrivate(crypto, GOLDEN_PRIVATE.replace(/=+$/, '')).privateKey), toHex(k.privateKey), 'no padding')
  t.equal(toHex(parseDestination(pub.replace(/=+$/, '')).bytes), toHex(k.destination.bytes), 'public without padding')
})

t.test('generated destinations have the I2P sizes and b32 form', async t => {
  for (let i = 0; i < 20; i++) {
    const k = generateDestination(crypto)
    const pub = destinationToBase64(k.destination)
    const priv = privateKeyToBase64(k)
    t.equal(k.destination.bytes.length, 391)
    t.equal(k.privateKey.length, PRIVATE_KEY_BYTES)
    t.ok(pub.length === 524 && pub.endsWith('==') && priv.length === 908 && priv.endsWith('=='))
    t.ok(priv.startsWith(pub.slice(0, 520)), 'base64 of public is a prefix of base64 of private')
    const addr = b32Address(crypto, k.destination.bytes)
    t.match(addr, /^[a-z2-7]{52}\.b32\.umbra$/)
    t.equal(addr, base32Encode(createHash('sha256').update(k.destination.bytes).digest()) + '.b32.umbra')
    t.equal(toHex(destinationFromPrivate(crypto, k.privateKey).privateKey), toHex(k.privateKey))
    t.equal(toHex(readDestination(new Reader(k.privateKey)).bytes), toHex(k.destination.bytes), 'self-delimiting')
  }
})

t.test('b32 addresses: both suffixes, case-insensitive, strict', async t => {
  const h = toHex(parseB32Address(GOLDEN_B32))
  t.equal(toHex(parseB32Address(GOLDEN_B32.replace('.umbra', '.i2p'))), h)
  t.equal(toHex(parseB32Address(GOLDEN_B32.toUpperCase())), h)
  for (const bad of ['example.i2p', GOLDEN_B32.slice(1), 'a' + GOLDEN_B32, GOLDEN_B32.replace('.b32.umbra', '.b33.umbra'),
    GOLDEN_B32.replace(/^./, '1'), GOLDEN_B32.replace('.b32.umbra', '')]) {
    t.throws(() => parseB32Address(bad), DecodeError, bad)
  }
})

t.test('unsupported but parseable destinations give UnsupportedDestinationError', async t => {
  const nullCert = new Uint8Array(387)
  let err = t.throws(() => parseDestination(nullCert)) as UnsupportedDestinationError
  t.ok(err instanceof UnsupportedDestinationError && err instanceof DecodeError)
  t.equal(err.name, 'DecodeError')
  t.equal(err.code, 'UNSUPPORTED_DESTINATION')
  t.same([err.certType, err.sigType, err.cryptoType], [0, 0, 0])
  t.equal(base64I2pEncode(nullCert).length, 516)
  const ed25519ElGamal = new Uint8Array(391)
  ed25519ElGamal.set([5, 0, 4, 0, 7, 0, 0], 384)
  err = t.throws(() => parseDestination(ed25519ElGamal)) as UnsupportedDestinationError
  t.same([err.certType, err.sigType, err.cryptoType], [5, 7, 0])
  const p521 = new Uint8Array(384 + 3 + 8)
  p521.set([5, 0, 8, 0, 3, 0, 0], 384)
  err = t.throws(() => parseDestination(p521)) as UnsupportedDestinationError
  t.same([err.sigType, err.cryptoType], [3, 0])
  const dsaPrivate = new Uint8Array(387 + 256 + 20)
  t.ok(unsupported(() => destinationFromPrivate(crypto, dsaPrivate)), 'DSA private key')
  const offline = destinationFromPrivate(crypto, GOLDEN_PRIVATE).privateKey.slice()
  offline.fill(0, 647)
  t.ok(unsupported(() => destinationFromPrivate(crypto, offline)), 'offline signature')
})

t.test('malformed destinations and private keys give DecodeError', async t => {
  const k = destinationFromPrivate(crypto, GOLDEN_PRIVATE)
  const d = k.destination.bytes
  t.throws(() => parseDestination(d.subarray(0, 390)), DecodeError, 'truncated')
  t.throws(() => parseDestination(Uint8Array.of(...d, 0)), DecodeError, 'trailing')
  const nullWithPayload = new Uint8Array(388)
  nullWithPayload.set([0, 0, 1], 384)
  t.throws(() => parseDestination(nullWithPayload), { name: 'DecodeError', message: /null certificate/ })
  const shortKey = new Uint8Array(387 + 2)
  shortKey.set([5, 0, 2], 384)
  t.throws(() => parseDestination(shortKey), { message: /KEY certificate/ })
  t.throws(() => parseDestination('bad base64!'), DecodeError)
  t.throws(() => destinationFromPrivate(crypto, k.privateKey.subarray(0, 678)), DecodeError, 'truncated private')
  const mismatched = k.privateKey.slice()
  mismatched[660] = (mismatched[660] as number) ^ 1
  t.throws(() => destinationFromPrivate(crypto, mismatched), { name: 'DecodeError', message: /does not match/ })
  const wrongX = k.privateKey.slice()
  wrongX[400] = (wrongX[400] as number) ^ 1
  t.throws(() => destinationFromPrivate(crypto, wrongX), { message: /does not match/ })
  t.throws(() => destinationFromPrivate(crypto, 'A'.repeat(10_000)), DecodeError, 'oversize base64')
})

t.test('property: random and mutated inputs decode or throw DecodeError', async t => {
  const golden = base64I2pDecode(GOLDEN_PRIVATE)
  const check = (b: Uint8Array): void => {
    for (const f of [() => parseDestination(b), () => destinationFromPrivate(crypto, b), () => readDestination(new Reader(b))]) {
      try { f() } catch (err) { if (!(err instanceof DecodeError)) throw err }
    }
  }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 800 }), check), { numRuns: 1000 })
  fc.assert(fc.property(fc.integer({ min: 0, max: 678 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 679 }),
    (i, v, cut) => { const b = golden.slice(0, cut); if (i < b.length) b[i] = v; check(b); check(b.subarray(0, 391)) }), { numRuns: 2000 })
  fc.assert(fc.property(fc.string({ maxLength: 80 }), s => {
    for (const f of [() => parseB32Address(s + '.b32.i2p'), () => parseDestination(s)]) {
      try { f() } catch (err) { if (!(err instanceof DecodeError)) throw err }
    }
  }), { numRuns: 1000 })
  t.pass('random inputs handled')
})
