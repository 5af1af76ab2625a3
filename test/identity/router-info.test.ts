import t from 'tap'
import fc from 'fast-check'
import { loadCrypto } from '../../src/crypto/index.ts'
import {
  decodeRouterIdentity, encodeRouterIdentity, generateRouterKeys, parseRouterInfo, routerHash, routerKeysFromSecrets,
  signRouterInfo, verifyRouterInfo, MAX_ROUTER_INFO_BYTES, type RouterInfo, type Verified
} from '../../src/identity/index.ts'
import { ConfigError, CryptoError, DecodeError } from '../../src/util/errors.ts'

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const crypto = await loadCrypto()
// Golden keys: Ed25519 seed 01*32, X25519 secret 02*32.
const keys = routerKeysFromSecrets(crypto, new Uint8Array(32).fill(1), new Uint8Array(32).fill(2))

// RouterIdentity: version 01, Ed25519 public key of seed 01*32, X25519 public key of 02*32.
const GOLDEN_IDENTITY = '018a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5cce8d3ad1ccb633ec7b70c17814a5c76ecd029685050d344745ba05870e587d59'
const GOLDEN_HASH = 'cf5c326c2e65985c7dcc8b82a2b266f47177c50ddbfc03134cd516e09ba5c637'
// RouterInfo of the golden keys: udp://127.0.0.1:7001 cost 5, http://127.0.0.1:7003/umbra cost 20,
// caps "RF", options { bw: "1000", net.id: "2" }, published 1_800_000_000_000; Ed25519 is deterministic.
const GOLDEN_INFO =
  '01018a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5cce8d3ad1ccb633ec7b70c17814a5c76e' +
  'cd029685050d344745ba05870e587d59020500147564703a2f2f3132372e302e302e313a3730303114001b687474703a2f2f' +
  '3132372e302e302e313a373030332f756d627261025246020262770431303030066e65742e69640132000001a3185c5000ae' +
  '1774de1a51c179505431c66b461da6dd112eabaafc519e4ebff6a2ce2784df62987ed20b789bde6fc74429a8765f879a87c2' +
  '56f24445ba525fdc5d51c55201' +
  ''
const PUBLISHED = 1_800_000_000_000
const fields = {
  addresses: [{ url: 'udp://127.0.0.1:7001', cost: 5 }, { url: 'http://127.0.0.1:7003/umbra', cost: 20 }],
  caps: 'RF',
  options: { 'net.id': '2', bw: '1000' },
  published: PUBLISHED
}
const window = { now: PUBLISHED + 1000, maxSkewMs: 60_000, maxAgeMs: 3_600_000 }

t.test('RouterIdentity golden vector: 65 bytes, hash is SHA-256', async t => {
  const id = decodeRouterIdentity(hex(GOLDEN_IDENTITY))
  t.equal(toHex(id.signingKey), toHex(keys.identity.signingKey))
  t.equal(toHex(id.staticKey), toHex(keys.identity.staticKey))
  t.equal(toHex(encodeRouterIdentity(id)), GOLDEN_IDENTITY)
  t.equal(toHex(routerHash(crypto, id)), GOLDEN_HASH)
  t.throws(() => decodeRouterIdentity(hex('02' + GOLDEN_IDENTITY.slice(2))), DecodeError, 'unknown version')
  t.throws(() => decodeRouterIdentity(hex(GOLDEN_IDENTITY).subarray(1)), DecodeError)
})

t.test('RouterInfo golden vector: parse, fields, re-sign to identical bytes, verify', async t => {
  const u = parseRouterInfo(hex(GOLDEN_INFO))
  t.equal(u.published, PUBLISHED)
  t.same(u.addresses, fields.addresses)
  t.equal(u.caps, 'RF')
  t.same(u.options, { bw: '1000', 'net.id': '2' })
  t.same(Object.keys(u.options), ['bw', 'net.id'], 'keys sorted')
  t.equal(toHex(u.identity.signingKey), toHex(keys.identity.signingKey))
  t.equal(toHex(signRouterInfo(crypto, keys, fields).raw), GOLDEN_INFO)
  const v: Verified<RouterInfo> = verifyRouterInfo(crypto, u, window)
  t.equal(toHex(v.raw), GOLDEN_INFO, 'raw bytes kept for re-sending')
})

t.test('only verifyRouterInfo makes a Verified<RouterInfo>', async t => {
  const u = parseRouterInfo(hex(GOLDEN_INFO))
  // @ts-expect-error an unchecked RouterInfo is not a Verified<RouterInfo>
  const notAllowed: Verified<RouterInfo> = u
  const signed = signRouterInfo(crypto, keys, fields)
  // @ts-expect-error nor is a freshly signed one, until verified
  const norThis: Verified<RouterInfo> = signed
  t.ok(notAllowed !== undefined && norThis !== undefined)
})

t.test('verify rejects bad signatures, tampering, far-future and stale times', async t => {
  const golden = hex(GOLDEN_INFO)
  const u = parseRouterInfo(golden)
  // Flip each byte of the signed body in turn: either parse fails or verify fails.
  let rejected = 0
  for (let i = 0; i < golden.length; i++) {
    const b = golden.slice()
    b[i] = (b[i] as number) ^ 0x01
    try {
      verifyRouterInfo(crypto, parseRouterInfo(b), window)
      t.fail(`tampered byte ${i} accepted`)
    } catch (err) {
      if (err instanceof DecodeError || err instanceof CryptoError) rejected++
      else throw err
    }
  }
  t.equal(rejected, golden.length, 'every single-byte tamper rejected with DecodeError or CryptoError')
  const other = generateRouterKeys(crypto)
  const forged = signRouterInfo(crypto, other, fields).raw.slice()
  forged.set(hex(GOLDEN_IDENTITY), 1) // claim the golden identity, keep the other router's signature
  t.throws(() => verifyRouterInfo(crypto, parseRouterInfo(forged), window), CryptoError, 'signature by another key')
  t.throws(() => verifyRouterInfo(crypto, u, { ...window, now: PUBLISHED - 60_001 }), { name: 'LimitError', message: /future/ })
  t.throws(() => verifyRouterInfo(crypto, u, { ...window, now: PUBLISHED + 3_600_001 }), { name: 'LimitError', message: /old/ })
  t.ok(verifyRouterInfo(crypto, u, { ...window, now: PUBLISHED - 60_000 }), 'skew bound inclusive')
  // Editing the parsed object does not fool verify: it checks the raw bytes it re-parses.
  const edited = { ...u, published: PUBLISHED + 5 }
  t.equal(verifyRouterInfo(crypto, edited, window).published, PUBLISHED)
})

t.test('structure checks: bounds, order, trailing bytes', async t => {
  t.throws(() => signRouterInfo(crypto, keys, { ...fields, addresses: Array(17).fill(fields.addresses[0]) }), ConfigError)
  t.throws(() => signRouterInfo(crypto, keys, { ...fields, addresses: [{ url: 'udp://' + 'x'.repeat(251), cost: 1 }] }), ConfigError)
  t.throws(() => signRouterInfo(crypto, keys, { ...fields, addresses: [{ url: 'not a url', cost: 1 }] }), ConfigError)
  t.throws(() => signRouterInfo(crypto, keys, { ...fields, caps: 'R1' }), ConfigError)
  t.throws(() => signRouterInfo(crypto, keys, { ...fields, options: { __proto__x: 'y' } }), ConfigError)
  t.throws(() => signRouterInfo(crypto, keys, { ...fields, published: -1 }), ConfigError)
  const max = signRouterInfo(crypto, keys, {
    addresses: Array.from({ length: 16 }, (_, i) => ({ url: `tcp://${String(i).padStart(250, '0')}`, cost: 255 })),
    caps: 'ABCDEFGHIJKLMNOP',
    options: Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`.padEnd(32, 'x'), 'v'.repeat(64)])),
    published: Number.MAX_SAFE_INTEGER
  })
  t.equal(max.raw.length, MAX_ROUTER_INFO_BYTES, 'largest RouterInfo is exactly the maximum')
  t.throws(() => parseRouterInfo(new Uint8Array(MAX_ROUTER_INFO_BYTES + 1)), DecodeError)
  t.throws(() => parseRouterInfo(Uint8Array.of(...hex(GOLDEN_INFO), 0)), DecodeError, 'trailing byte')
  // Swap the two option keys' order in the bytes: unsorted keys are refused.
  const g = Buffer.from(hex(GOLDEN_INFO))
  const a = g.indexOf(Buffer.from('026277', 'hex'))
  const b = g.indexOf(Buffer.from('066e65742e6964', 'hex'))
  const swapped = Buffer.concat([g.subarray(0, a), g.subarray(b, b + 9), g.subarray(a, b), g.subarray(b + 9)])
  t.throws(() => parseRouterInfo(swapped), { name: 'DecodeError', message: /ascending/ })
})

t.test('property: signed RouterInfos round-trip and verify', async t => {
  const arb = fc.record({
    addresses: fc.array(fc.record({ url: fc.stringMatching(/^(udp|tcp|http):\/\/[a-z0-9.:\/]{1,40}$/), cost: fc.integer({ min: 0, max: 255 }) }), { maxLength: 16 }),
    caps: fc.stringMatching(/^[A-Za-z]{0,16}$/),
    options: fc.dictionary(fc.stringMatching(/^[a-z0-9.-]{1,32}$/), fc.string({ maxLength: 16 }), { maxKeys: 8 }),
    published: fc.integer({ min: 0, max: 2 ** 48 })
  })
  fc.assert(fc.property(arb, f => {
    const u = signRouterInfo(crypto, keys, f)
    const v = verifyRouterInfo(crypto, parseRouterInfo(u.raw), { now: f.published, maxSkewMs: 0, maxAgeMs: 0 })
    return toHex(v.raw) === toHex(u.raw) && v.addresses.length === f.addresses.length &&
      toHex(signRouterInfo(crypto, keys, { addresses: v.addresses, caps: v.caps, options: v.options, published: v.published }).raw) === toHex(u.raw)
  }), { numRuns: 200 })
  t.pass('200 random RouterInfos')
})

t.test('property: random and mutated bytes parse or throw DecodeError', async t => {
  const golden = hex(GOLDEN_INFO)
  const check = (b: Uint8Array): void => {
    try { parseRouterInfo(b) } catch (err) { if (!(err instanceof DecodeError)) throw err }
    try { decodeRouterIdentity(b) } catch (err) { if (!(err instanceof DecodeError)) throw err }
  }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), check), { numRuns: 2000 })
  fc.assert(fc.property(fc.integer({ min: 0, max: golden.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: golden.length }),
    (i, v, cut) => { const b = golden.slice(0, cut); if (i < b.length) b[i] = v; check(b) }), { numRuns: 2000 })
  t.pass('4000 inputs')
})
