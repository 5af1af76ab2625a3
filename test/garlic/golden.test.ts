/**
 * Golden vector of the NS layout with the deterministic suite, checked two ways: pinned bytes,
 * and an independent decryption written from docs/garlic.md with bare CryptoSuite primitives.
 */
import t from 'tap'
import { cryptoReady, createCrypto } from '../../src/crypto/index.ts'
import { generateDestination } from '../../src/identity/destination.ts'
import { Garlic } from '../../src/garlic/garlic.ts'

await cryptoReady()
const c = createCrypto({ seed: 'garlic-golden' })
const NOW = 1_800_000_000_000
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const cat = (...xs: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(xs))

const alice = generateDestination(c)
const bob = generateDestination(c)
const msg = new Garlic(c, alice).seal(bob.destination, enc('golden'), NOW)

t.test('pinned bytes', async t => {
  t.equal(hex(alice.encryption.publicKey), 'a473192830a23bf0105f9792ff070a6ec8e7241f3be4510d4d023aa35215fe65')
  t.equal(hex(bob.encryption.publicKey), '3a2e7e6320f5128e8a65a0ec806aad426d9a7ef9f199e30efd095eab2dd15b2d')
  t.equal(msg.length, 502, '496 bytes of overhead + 6 of payload')
  t.equal(hex(msg.subarray(0, 83)),
    '02' + // type NS
    '500565ab0335000d20c8eea51913316459fd3e1e2010ee8d043bee8e110b1816' + // sender ephemeral
    '315b6e0d3763da2def4e118b65f719018f81b84f7ce4d233c6a843fef95069e3' + // encrypted static key
    '5d986959a60fe51fbfac8609d38c3398' + // its MAC
    '0000') // retransmission index 0
  t.equal(hex(c.sha256(msg)), '1c5c796d3352432103c551a92b3b8a2fddc99173bf81d33bba899ee8db0bb944')
})

t.test('an independent decryption following docs/garlic.md', async t => {
  const nonce = (n: number): Uint8Array => { const b = new Uint8Array(12); new DataView(b.buffer).setUint32(4, n, true); return b }
  const mixKey = (ck: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array] => {
    const out = c.hkdf(ikm, ck, new Uint8Array(0), 64)
    return [out.slice(0, 32), out.slice(32)]
  }
  const sB = bob.encryption
  let h = c.sha256(enc('Umbra_Garlic_IK_25519_ChaChaPoly_SHA256'))
  let ck = h
  h = c.sha256(cat(h, enc('umbra/garlic/1')))
  h = c.sha256(cat(h, sB.publicKey))
  const e = msg.subarray(1, 33)
  h = c.sha256(cat(h, e))
  let k: Uint8Array
  ;[ck, k] = mixKey(ck, c.x25519(sB.secretKey, e))
  const staticCt = msg.subarray(33, 81)
  const rs = c.aeadDecrypt(k, nonce(0), staticCt, h)
  t.same(rs, alice.encryption.publicKey, 'the static key decrypts under es')
  h = c.sha256(cat(h, staticCt))
  ;[ck, k] = mixKey(ck, c.x25519(sB.secretKey, rs))
  const index = (msg[81]! << 8) | msg[82]!
  const body = c.aeadDecrypt(k, nonce(index), msg.subarray(83), h)
  t.equal(new DataView(body.buffer, body.byteOffset).getUint32(0), Math.floor(NOW / 1000), 'u32 timestamp (s)')
  t.same(body.subarray(4, 395), alice.destination.bytes, 'sender destination')
  t.same(body.subarray(395, 397), Uint8Array.of(0, 0), 'no LeaseSet')
  t.equal(new TextDecoder().decode(body.subarray(397)), 'golden')
  t.ok(ck.length === 32)
})
