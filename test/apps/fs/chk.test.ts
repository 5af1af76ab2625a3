/**
 * CHK block encryption: a golden vector pinning the format (key, query, first ciphertext bytes;
 * cross-checked once against node:crypto's HKDF and ChaCha20 and Python's BLAKE2b), round trips
 * for random sizes 0..BLOCK_SIZE, convergence, corrupt and wrong-key blocks, the size limit,
 * verifyBlock, and the 64-byte CHK encoding.
 */
import t from 'tap'
import fc from 'fast-check'
import { loadCrypto } from '../../../src/crypto/index.ts'
import {
  BLOCK_SIZE, CHK_BYTES, chkEquals, decodeChk, decryptBlock, encodeChk, encryptBlock, openVerifiedBlock, openVerifiedLeaf, plainMatchesKey,
  verifyBlock
} from '../../../src/apps/fs/chk.ts'
import { ConfigError, DecodeError, LimitError } from '../../../src/util/errors.ts'

const crypto = await loadCrypto()
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

// Plaintext: 100 bytes of 0x61 ('a').
const GOLDEN_KEY = 'f70269abf9b3b4348e2b467d1aa2143543bedb20ca893844c64ec7de24a55389'
const GOLDEN_QUERY = 'f96c897c857a23f57192e8e602d8842e3c0aa06fdd2a222cec3ed077d68f30f2'
const GOLDEN_BLOCK_HEAD = 'c8e9d437bb07ecc1ff6eb5ea84d43c34'
// BLAKE2b-256 of the empty string: the key and query of the empty block.
const EMPTY_HASH = '0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8'

t.test('golden vector: 100 bytes of 0x61', async t => {
  const plain = new Uint8Array(100).fill(0x61)
  const { chk, block } = encryptBlock(crypto, plain)
  t.equal(toHex(chk.key), GOLDEN_KEY)
  t.equal(toHex(chk.query), GOLDEN_QUERY)
  t.equal(block.length, 100, 'ciphertext has the plaintext length')
  t.equal(toHex(block.subarray(0, 16)), GOLDEN_BLOCK_HEAD)
  t.same(decryptBlock(crypto, chk, block), plain)
  const empty = encryptBlock(crypto, new Uint8Array(0))
  t.equal(toHex(empty.chk.key), EMPTY_HASH)
  t.equal(toHex(empty.chk.query), EMPTY_HASH)
  t.equal(empty.block.length, 0)
  t.same(decryptBlock(crypto, empty.chk, empty.block), new Uint8Array(0))
})

t.test('round trip for random sizes 0..BLOCK_SIZE', async t => {
  fc.assert(fc.property(fc.integer({ min: 0, max: BLOCK_SIZE }), fc.integer(), (n, seed) => {
    const plain = new Uint8Array(n)
    for (let i = 0; i < n; i++) plain[i] = (seed + i * 131) & 0xff
    const { chk, block } = encryptBlock(crypto, plain)
    return block.length === n && verifyBlock(crypto, chk.query, block) &&
      Buffer.from(decryptBlock(crypto, chk, block)).equals(plain)
  }), { numRuns: 30 })
  const full = crypto.randomBytes(BLOCK_SIZE)
  const { chk, block } = encryptBlock(crypto, full)
  t.ok(Buffer.from(decryptBlock(crypto, chk, block)).equals(full), 'a full block')
})

t.test('convergent: same plaintext, same CHK and block; the input buffer may be reused', async t => {
  const plain = crypto.randomBytes(5000)
  const a = encryptBlock(crypto, plain)
  const b = encryptBlock(crypto, plain.slice())
  t.ok(chkEquals(a.chk, b.chk))
  t.ok(Buffer.from(a.block).equals(b.block), 'same block')
  plain.fill(0)
  t.notOk(Buffer.from(a.block).equals(encryptBlock(crypto, plain).block), 'block does not alias the plaintext')
  t.notOk(chkEquals(a.chk, encryptBlock(crypto, plain).chk))
})

t.test('a flipped bit anywhere in the block is a DecodeError', async t => {
  const { chk, block } = encryptBlock(crypto, crypto.randomBytes(1000))
  for (const bit of [0, 7, 4000, 7999]) {
    const bad = block.slice()
    bad[bit >> 3]! ^= 1 << (bit & 7)
    t.throws(() => decryptBlock(crypto, chk, bad), DecodeError, `bit ${bit}`)
    t.notOk(verifyBlock(crypto, chk.query, bad))
  }
  t.throws(() => decryptBlock(crypto, chk, block.subarray(0, 999)), DecodeError, 'truncated')
  t.throws(() => decryptBlock(crypto, chk, new Uint8Array(BLOCK_SIZE + 1)), /corrupt block/, 'oversize block')
})

t.test('a wrong key is a DecodeError even when the query matches', async t => {
  const { chk, block } = encryptBlock(crypto, crypto.randomBytes(300))
  const wrong = { key: crypto.randomBytes(32), query: chk.query }
  t.throws(() => decryptBlock(crypto, wrong, block), { name: 'DecodeError', message: /wrong key/ })
  t.throws(() => decryptBlock(crypto, { key: chk.key, query: new Uint8Array(31) }, block), ConfigError)
})

t.test('openVerifiedBlock: decrypts without the query check; a wrong key or an oversize block is a DecodeError', async t => {
  for (const size of [0, 300, 4096, BLOCK_SIZE]) {
    const plain = crypto.randomBytes(size)
    const { chk, block } = encryptBlock(crypto, plain)
    t.same(openVerifiedBlock(crypto, chk, block), plain, `${size} bytes`)
    t.ok(plainMatchesKey(crypto, plain, chk.key))
    if (size > 0) {
      const other = plain.slice()
      other[size - 1]! ^= 1
      t.notOk(plainMatchesKey(crypto, other, chk.key), `${size} bytes: a changed byte no longer matches`)
    }
    t.throws(() => openVerifiedBlock(crypto, { key: crypto.randomBytes(32), query: chk.query }, block), { name: 'DecodeError', message: /wrong key/ })
  }
  t.throws(() => openVerifiedBlock(crypto, { key: new Uint8Array(32), query: new Uint8Array(32) }, new Uint8Array(BLOCK_SIZE + 1)), DecodeError)
  t.throws(() => openVerifiedBlock(crypto, { key: new Uint8Array(31), query: new Uint8Array(32) }, new Uint8Array(1)), ConfigError)
})

t.test('openVerifiedLeaf: decrypts without hashing (the final check does); an oversize block or a bad CHK throws', async t => {
  for (const size of [0, 300, BLOCK_SIZE]) {
    const plain = crypto.randomBytes(size)
    const { chk, block } = encryptBlock(crypto, plain)
    t.same(openVerifiedLeaf(crypto, chk, block), plain, `${size} bytes`)
  }
  const { chk, block } = encryptBlock(crypto, crypto.randomBytes(100))
  t.throws(() => openVerifiedLeaf(crypto, chk, new Uint8Array(BLOCK_SIZE + 1)), DecodeError)
  t.throws(() => openVerifiedLeaf(crypto, { key: new Uint8Array(31), query: chk.query }, block), ConfigError)
})

t.test('plaintext above BLOCK_SIZE is a LimitError', async t => {
  t.throws(() => encryptBlock(crypto, new Uint8Array(BLOCK_SIZE + 1)), LimitError)
  t.doesNotThrow(() => encryptBlock(crypto, new Uint8Array(BLOCK_SIZE)))
})

t.test('verifyBlock: length bound and hash only', async t => {
  const { chk, block } = encryptBlock(crypto, crypto.randomBytes(2000))
  t.ok(verifyBlock(crypto, chk.query, block))
  t.notOk(verifyBlock(crypto, chk.key, block), 'the key is not the query')
  t.notOk(verifyBlock(crypto, chk.query.subarray(0, 16), block), 'short query')
  const big = new Uint8Array(BLOCK_SIZE + 1)
  t.notOk(verifyBlock(crypto, crypto.blake2b(big, 32), big), 'oversize block fails even with its own hash')
})

t.test('encodeChk / decodeChk: key || query, copies, bounds', async t => {
  const { chk } = encryptBlock(crypto, new Uint8Array(100).fill(0x61))
  const enc = encodeChk(chk)
  t.equal(enc.length, CHK_BYTES)
  t.equal(toHex(enc), GOLDEN_KEY + GOLDEN_QUERY)
  const buf = new Uint8Array(70)
  buf.set(enc, 3)
  const dec = decodeChk(buf, 3)
  t.ok(chkEquals(dec, chk))
  buf.fill(0)
  t.ok(chkEquals(dec, chk), 'decoded fields are copies')
  t.throws(() => decodeChk(buf, 7), DecodeError, 'short by one')
  t.throws(() => decodeChk(new Uint8Array(63)), DecodeError)
  t.throws(() => decodeChk(buf, -1), DecodeError)
  t.throws(() => encodeChk({ key: new Uint8Array(32), query: new Uint8Array(33) }), ConfigError)
  t.notOk(chkEquals(chk, { key: chk.key, query: chk.key }))
})
