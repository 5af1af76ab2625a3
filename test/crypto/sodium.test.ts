import t from 'tap'
import * as nc from 'node:crypto'
import fc from 'fast-check'
import sodium from 'libsodium-wrappers-sumo'
import { loadCrypto } from '../../src/crypto/index.ts'
import { CryptoError } from '../../src/util/errors.ts'

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

t.test('HKDF-SHA256 matches RFC 5869 test case 1', async t => {
  const c = await loadCrypto()
  const okm = c.hkdf(hex('0b'.repeat(22)), hex('000102030405060708090a0b0c'), hex('f0f1f2f3f4f5f6f7f8f9'), 42)
  t.equal(toHex(okm), '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865')
})

t.test('HKDF agrees with node:crypto on random inputs', async t => {
  const c = await loadCrypto()
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 1, max: 200 }),
    (ikm, salt, info, len) => toHex(c.hkdf(ikm, salt, info, len)) === Buffer.from(nc.hkdfSync('sha256', ikm, salt, info, len)).toString('hex')), { numRuns: 200 })
  t.pass('200 random cases agree')
})

t.test('ChaCha20-Poly1305: cipher (seal/open and sealParts/openFresh), one-shot and OpenSSL agree; tampering is caught', async t => {
  const c = await loadCrypto()
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat({ max: 2 ** 40 }), fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 40 }),
    (key, counter, pt, ad) => {
      const nonce = new Uint8Array(12)
      new DataView(nonce.buffer).setBigUint64(4, BigInt(counter), true)
      const ossl = nc.createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
      if (ad.length > 0) ossl.setAAD(ad, { plaintextLength: pt.length })
      const expect = Buffer.concat([ossl.update(pt), ossl.final(), ossl.getAuthTag()])
      const one = c.aeadEncrypt(key, nonce, pt, ad)
      const ciph = c.aeadCipher(key)
      const out = new Uint8Array(pt.length + 16 + 5)
      const n = ciph.seal(counter, pt, out, 5, ad)
      if (n !== pt.length + 16 || toHex(out.subarray(5)) !== expect.toString('hex') || toHex(one) !== expect.toString('hex')) return false
      const back = new Uint8Array(pt.length)
      if (ciph.open(counter, out.subarray(5), back, 0, ad) !== pt.length || toHex(back) !== toHex(pt)) return false
      // sealParts / openFresh: the same bytes, in fresh arrays (OpenSSL from 2048 bytes on, WASM below).
      const [ct, tag] = ciph.sealParts(counter, pt, ad)
      if (toHex(ct) + toHex(tag) !== expect.toString('hex') || tag.length !== 16) return false
      const fresh = ciph.openFresh(counter, out.subarray(5), ad)
      if (fresh === undefined || toHex(fresh) !== toHex(pt) || fresh.buffer === out.buffer || Buffer.isBuffer(fresh)) return false
      const bad = out.slice(5)
      bad[bad.length - 1]! ^= 1
      return ciph.open(counter, bad, back, 0, ad) === -1 && ciph.open(counter + 1, out.subarray(5), back, 0, ad) === -1 &&
        ciph.openFresh(counter, bad, ad) === undefined && ciph.openFresh(counter + 1, out.subarray(5), ad) === undefined
    }), { numRuns: 200 })
  t.equal(c.aeadCipher(new Uint8Array(32)).openFresh(0, new Uint8Array(3)), undefined, 'short input rejected (openFresh)')
  t.throws(() => c.aeadDecrypt(new Uint8Array(32), new Uint8Array(12), new Uint8Array(20)), CryptoError)
  t.equal(c.aeadCipher(new Uint8Array(32)).open(0, new Uint8Array(3), new Uint8Array(3), 0), -1, 'short input rejected')
})

t.test('XChaCha20-Poly1305 round trip and tamper detection', async t => {
  const c = await loadCrypto()
  const key = c.randomBytes(32)
  const nonce = c.randomBytes(24)
  const ct = c.xaeadEncrypt(key, nonce, new TextEncoder().encode('hello'), hex('01'))
  t.equal(new TextDecoder().decode(c.xaeadDecrypt(key, nonce, ct, hex('01'))), 'hello')
  t.throws(() => c.xaeadDecrypt(key, nonce, ct, hex('02')), CryptoError)
  t.throws(() => c.xaeadEncrypt(key, new Uint8Array(12), ct), CryptoError)
})

t.test('BLAKE2b agrees with OpenSSL blake2b512; SHA-256 known answer', async t => {
  const c = await loadCrypto()
  t.equal(toHex(c.blake2b(new TextEncoder().encode('abc'), 64)), nc.createHash('blake2b512').update('abc').digest('hex'))
  t.equal(toHex(c.sha256(new TextEncoder().encode('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  t.not(toHex(c.blake2b(hex('00'), 32, new Uint8Array(32))), toHex(c.blake2b(hex('00'), 32)), 'keyed differs')
  t.throws(() => c.blake2b(hex('00'), 8))
})

t.test('X25519 agrees with OpenSSL and rejects low-order points', async t => {
  const c = await loadCrypto()
  const a = c.x25519Keypair()
  const b = c.x25519Keypair()
  t.same(c.x25519(a.secretKey, b.publicKey), c.x25519(b.secretKey, a.publicKey))
  t.same(c.x25519Public(a.secretKey), a.publicKey)
  const pkcs8 = Buffer.concat([hex('302e020100300506032b656e04220420'), a.secretKey])
  const spki = Buffer.concat([hex('302a300506032b656e032100'), b.publicKey])
  const ossl = nc.diffieHellman({ privateKey: nc.createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }), publicKey: nc.createPublicKey({ key: spki, format: 'der', type: 'spki' }) })
  t.equal(toHex(c.x25519(a.secretKey, b.publicKey)), ossl.toString('hex'))
  t.throws(() => c.x25519(a.secretKey, new Uint8Array(32)), CryptoError)
})

t.test('X25519 on OpenSSL: the same as libsodium for any keys; low-order points refused; keys changed in place', async t => {
  const c = await loadCrypto()
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (sk, pk) => {
    // Any 32 bytes, top bit of the public key included (RFC 7748 ignores it).
    let want: string
    try { want = toHex(sodium.crypto_scalarmult(sk, pk)) } catch { want = 'refused' }
    let got: string
    try { got = toHex(c.x25519(sk, pk)) } catch (err) { got = err instanceof CryptoError ? 'refused' : 'other error' }
    return got === want
  }), { numRuns: 300 })
  // Low-order points (RFC 7748 §7 and the curve's small subgroup): refused as libsodium refuses them.
  const a = c.x25519Keypair()
  const lowOrder = ['0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
    '5f9c95bc a3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157'.replace(' ', ''),
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f']
  for (const p of lowOrder) t.throws(() => c.x25519(a.secretKey, hex(p)), CryptoError, `low-order ${p.slice(0, 8)}…`)
  // A secret key array changed in place is agreed with under its new value, not a cached one.
  const b = c.x25519Keypair()
  const sk = c.randomBytes(32)
  const first = toHex(c.x25519(sk, b.publicKey))
  sk.set(c.randomBytes(32))
  t.not(toHex(c.x25519(sk, b.publicKey)), first, 'a new key, a new result')
  t.equal(toHex(c.x25519(sk, b.publicKey)), toHex(sodium.crypto_scalarmult(sk, b.publicKey)), 'and the right one')
  t.throws(() => c.x25519(sk.subarray(0, 31), b.publicKey), CryptoError, 'short secret key')
})

t.test('Ed25519 sign/verify agrees with OpenSSL', async t => {
  const c = await loadCrypto()
  const kp = c.ed25519Keypair()
  const msg = new TextEncoder().encode('umbra')
  const sig = c.sign(msg, kp.secretKey)
  t.ok(c.verify(sig, msg, kp.publicKey))
  const spki = Buffer.concat([hex('302a300506032b6570032100'), kp.publicKey])
  t.ok(nc.verify(null, msg, nc.createPublicKey({ key: spki, format: 'der', type: 'spki' }), sig), 'OpenSSL verifies our signature')
  const bad = sig.slice(); bad[0]! ^= 1
  t.notOk(c.verify(bad, msg, kp.publicKey))
  t.notOk(c.verify(sig.subarray(0, 10), msg, kp.publicKey), 'short signature is just invalid')
})

t.test('a seeded suite is deterministic; unseeded ones are not', async t => {
  const a = await loadCrypto({ seed: 'x' })
  const b = await loadCrypto({ seed: 'x' })
  t.same(a.ed25519Keypair().publicKey, b.ed25519Keypair().publicKey)
  t.same(a.randomBytes(100), b.randomBytes(100))
  const u = await loadCrypto()
  t.not(toHex(u.randomBytes(32)), toHex(u.randomBytes(32)))
  t.ok(u.equal(hex('0102'), hex('0102')))
  t.notOk(u.equal(hex('0102'), hex('0103')))
  t.notOk(u.equal(hex('0102'), hex('01')))
})

t.test('X25519 key pairs: OpenSSL-generated ones are consistent; seeded ones follow the seed', async t => {
  const c = await loadCrypto()
  for (let i = 0; i < 20; i++) {
    const a = c.x25519Keypair()
    const b = c.x25519Keypair()
    t.equal(toHex(c.x25519Public(a.secretKey)), toHex(a.publicKey), 'public key matches the secret')
    t.equal(toHex(c.x25519(a.secretKey, b.publicKey)), toHex(sodium.crypto_scalarmult(b.secretKey, a.publicKey)))
  }
  const { createCrypto } = await import('../../src/crypto/sodium.ts')
  const s1 = createCrypto({ seed: 'x' }).x25519Keypair()
  const s2 = createCrypto({ seed: 'x' }).x25519Keypair()
  t.equal(toHex(s1.secretKey), toHex(s2.secretKey), 'same seed, same key')
})

t.test('randomness: small draws from the pool are fresh and distinct, large ones too', async t => {
  const c = await loadCrypto()
  const seen = new Set<string>()
  for (let i = 0; i < 3000; i++) seen.add(toHex(c.randomBytes(16))) // crosses several pool refills
  t.equal(seen.size, 3000, 'no 16-byte draw repeats')
  const big = c.randomBytes(100_000)
  t.ok(big.some(b => b !== 0) && big.length === 100_000)
  t.equal(c.randomBytes(0).length, 0)
})
