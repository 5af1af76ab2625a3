/**
 * Keyword blocks and file metadata: the derivation pinned against the spec, round trips,
 * keyword normalization, two publishers under one query, wrong keyword, the storer's checks
 * (bit flips anywhere, wrong query, expiry, truncation, oversize, version, a block re-signed
 * by a key not derived from the keyword), payload validation after decryption, checkMeta
 * bounds, and random bytes: verifyKBlock never throws, openKBlock throws only typed errors.
 */
import t from 'tap'
import fc from 'fast-check'
import { loadCrypto } from '../../../src/crypto/index.ts'
import {
  createKBlock, keywordQuery, kblockExpiry, MAX_KBLOCK_BYTES, normalizeKeyword, openKBlock, verifyKBlock,
  type KBlockPayload
} from '../../../src/apps/fs/kblock.ts'
import { checkMeta, metaToRecord, type FileMeta } from '../../../src/apps/fs/meta.ts'
import { ConfigError, CryptoError, DecodeError, LimitError, UmbraError } from '../../../src/util/errors.ts'
import { packRecord } from '../../../src/wire/msgpack.ts'

const crypto = await loadCrypto()
const enc = new TextEncoder()
const NOW = 1_700_000_000
const EXP = NOW + 3600
const payload: KBlockPayload = {
  uri: 'umbra://fs/chk/abc.def.1234',
  meta: { name: 'song.ogg', size: 1234, type: 'audio/ogg', description: 'a song', extra: { artist: 'me' } }
}

/** The spec's seed for a normalized keyword. */
const seedOf = (kw: string): Uint8Array => crypto.blake2b(enc.encode(`umbra-fs-ksk-v1\0${kw}`), 32)

/** Whether `f` throws an UmbraError (tap's throws() matches the exact class, not subclasses). */
function throwsTyped (f: () => unknown): boolean {
  try { f() } catch (err) { return err instanceof UmbraError }
  return false
}

/** Builds a block by hand per the documented layout, from any seed, version and plaintext. */
function forge (seed: Uint8Array, plain: Uint8Array, opts: { version?: number, exp?: number, pk?: Uint8Array } = {}): Uint8Array {
  const kp = crypto.ed25519Keypair(seed)
  const encKey = crypto.hkdf(seed, enc.encode('umbra-fs-ksk-v1'), 'enc', 32)
  const header = new Uint8Array(61)
  header[0] = opts.version ?? 1
  header.set(opts.pk ?? kp.publicKey, 1)
  new DataView(header.buffer).setUint32(33, opts.exp ?? EXP)
  header.set(crypto.randomBytes(24), 37)
  const ct = crypto.xaeadEncrypt(encKey, header.subarray(37), plain, header)
  const body = new Uint8Array(61 + ct.length)
  body.set(header)
  body.set(ct, 61)
  const out = new Uint8Array(body.length + 64)
  out.set(body)
  out.set(crypto.sign(body, kp.secretKey), body.length)
  return out
}

t.test('derivation matches the spec: query = BLAKE2b-256(ed25519 pk of the seed)', async t => {
  const pk = crypto.ed25519Keypair(seedOf('foo')).publicKey
  t.same(keywordQuery(crypto, 'foo'), crypto.blake2b(pk, 32))
  const { block } = createKBlock(crypto, 'foo', payload, EXP)
  t.same(block.subarray(1, 33), pk, 'the public key is in the header')
  t.same(openKBlock(crypto, 'foo', forge(seedOf('foo'), packRecord({ uri: 'u', meta: { size: 0 } }))), { uri: 'u', meta: { size: 0 } },
    'a block built by hand from the documented layout opens')
})

t.test('round trip, and the storer accepts it', async t => {
  const { query, block } = createKBlock(crypto, 'music', payload, EXP)
  t.equal(query.length, 32)
  t.same(query, keywordQuery(crypto, 'music'))
  t.equal(kblockExpiry(block), EXP)
  t.ok(verifyKBlock(crypto, query, block, NOW))
  t.same(openKBlock(crypto, 'music', block), payload)
  const bare = createKBlock(crypto, 'music', { uri: 'x', meta: { size: 0 } }, EXP).block
  t.same(openKBlock(crypto, 'music', bare), { uri: 'x', meta: { size: 0 } }, 'optional fields stay absent')
})

t.test('two publishers of one keyword: different blocks, same query, both open', async t => {
  const a = createKBlock(crypto, 'foo', payload, EXP)
  const b = createKBlock(crypto, 'foo', { uri: 'umbra://other', meta: { size: 7 } }, EXP)
  t.same(a.query, b.query)
  t.notSame(a.block, b.block)
  t.ok(verifyKBlock(crypto, a.query, a.block, NOW) && verifyKBlock(crypto, b.query, b.block, NOW))
  t.equal(openKBlock(crypto, 'foo', a.block).uri, payload.uri)
  t.equal(openKBlock(crypto, 'foo', b.block).uri, 'umbra://other')
  const again = createKBlock(crypto, 'foo', payload, EXP)
  t.notSame(again.block, a.block, 'same payload twice: random nonce, different blocks')
})

t.test('keyword normalization', async t => {
  for (const k of ['  Foo', '+foo', 'FOO', 'foo ', '+FOO\t']) t.equal(normalizeKeyword(k), 'foo', JSON.stringify(k))
  t.equal(normalizeKeyword('Cafe\u0301'), 'caf\u00e9', 'NFC')
  t.equal(normalizeKeyword('++x'), '+x', 'only one + stripped')
  const { block } = createKBlock(crypto, '  Foo', payload, EXP)
  t.same(openKBlock(crypto, '+FOO', block), payload, 'published as "  Foo", found as "+FOO"')
  t.same(keywordQuery(crypto, 'FOO'), keywordQuery(crypto, 'foo'))
  for (const bad of ['', '   ', '+', 'a b', 'a\u0000b', 'a\nb', 'x'.repeat(65), '+ foo', '\ud800x']) {
    t.throws(() => normalizeKeyword(bad), ConfigError, JSON.stringify(bad))
  }
  t.equal(normalizeKeyword('\u00e9'.repeat(64)), '\u00e9'.repeat(64), '64 code points is fine')
})

t.test('wrong keyword: CryptoError', async t => {
  const { block } = createKBlock(crypto, 'foo', payload, EXP)
  t.throws(() => openKBlock(crypto, 'bar', block), CryptoError)
  t.throws(() => openKBlock(crypto, 'foo ', block.subarray(0, 100)), DecodeError, 'too short')
})

t.test('storer: flipped bits, wrong query, expiry, truncation, oversize, version', async t => {
  const { query, block } = createKBlock(crypto, 'foo', payload, EXP)
  const n = block.length
  for (const pos of [0, 1, 20, 33, 36, 37, 60, 61, 62, n - 80, n - 65, n - 64, n - 30, n - 1]) {
    const bad = block.slice()
    bad[pos] = (bad[pos] as number) ^ 0x04
    t.notOk(verifyKBlock(crypto, query, bad, NOW), `bit flipped at ${pos}`)
    t.ok(throwsTyped(() => openKBlock(crypto, 'foo', bad)), `and it does not open (${pos})`)
  }
  t.notOk(verifyKBlock(crypto, keywordQuery(crypto, 'bar'), block, NOW), 'wrong query')
  t.notOk(verifyKBlock(crypto, query.subarray(0, 31), block, NOW), 'short query')
  t.notOk(verifyKBlock(crypto, query, block, EXP), 'expired (expiresAt == now)')
  t.ok(verifyKBlock(crypto, query, block, EXP - 1), 'one second before expiry')
  for (const len of [0, 10, 61, 140, n - 1]) t.notOk(verifyKBlock(crypto, query, block.subarray(0, len), NOW), `truncated to ${len}`)
  t.throws(() => kblockExpiry(block.subarray(0, 140)), DecodeError)
  const big = forge(seedOf('foo'), packRecord({ uri: 'u', meta: { size: 0 }, pad: 'x'.repeat(MAX_KBLOCK_BYTES) }))
  t.ok(big.length > MAX_KBLOCK_BYTES)
  t.notOk(verifyKBlock(crypto, query, big, NOW), 'oversize, though validly signed')
  t.throws(() => openKBlock(crypto, 'foo', big), DecodeError)
  const v2 = forge(seedOf('foo'), packRecord({ uri: 'u', meta: { size: 0 } }), { version: 2 })
  t.notOk(verifyKBlock(crypto, query, v2, NOW), 'version 2, though validly signed')
  t.throws(() => openKBlock(crypto, 'foo', v2), DecodeError)
  t.ok(verifyKBlock(crypto, query, forge(seedOf('foo'), packRecord({ uri: 'u', meta: { size: 0 } })), NOW), 'control')
})

t.test('forgery without the keyword fails', async t => {
  const query = keywordQuery(crypto, 'foo')
  const plain = packRecord({ uri: 'umbra://evil', meta: { size: 1 } })
  const other = crypto.randomBytes(32)
  const ownKey = forge(other, plain)
  t.notOk(verifyKBlock(crypto, query, ownKey, NOW), 'own key pair: its public key does not hash to the query')
  const stolenPk = forge(other, plain, { pk: crypto.ed25519Keypair(seedOf('foo')).publicKey })
  t.notOk(verifyKBlock(crypto, query, stolenPk, NOW), "the keyword's public key, signed by another key")
  t.throws(() => openKBlock(crypto, 'foo', stolenPk), CryptoError)
  const { block } = createKBlock(crypto, 'foo', payload, EXP)
  const resigned = block.slice()
  new DataView(resigned.buffer).setUint32(33, EXP + 10 ** 6)
  resigned.set(crypto.sign(resigned.subarray(0, resigned.length - 64), crypto.ed25519Keypair(other).secretKey), resigned.length - 64)
  t.notOk(verifyKBlock(crypto, query, resigned, NOW), 'expiry extended and re-signed by another key')
})

t.test('payload is validated after decryption (DecodeError)', async t => {
  const seed = seedOf('foo')
  for (const [what, rec] of [
    ['empty uri', { uri: '', meta: { size: 0 } }], ['uri not a string', { uri: 5, meta: { size: 0 } }],
    ['uri too long', { uri: 'u'.repeat(2049), meta: { size: 0 } }], ['no meta', { uri: 'u' }],
    ['negative size', { uri: 'u', meta: { size: -1 } }], ['name too long', { uri: 'u', meta: { size: 0, name: 'n'.repeat(256) } }]
  ] as const) {
    const b = forge(seed, packRecord(rec))
    t.ok(verifyKBlock(crypto, keywordQuery(crypto, 'foo'), b, NOW), `${what}: the storer cannot tell`)
    t.throws(() => openKBlock(crypto, 'foo', b), DecodeError, what)
  }
  const notRecord = forge(seed, Uint8Array.of(0x93, 1, 2, 3))
  t.throws(() => openKBlock(crypto, 'foo', notRecord), DecodeError, 'plaintext not a map')
})

t.test('createKBlock argument checks', async t => {
  t.throws(() => createKBlock(crypto, ' ', payload, EXP), ConfigError)
  t.throws(() => createKBlock(crypto, 'k', payload, -1), ConfigError)
  t.throws(() => createKBlock(crypto, 'k', payload, 2 ** 32), ConfigError)
  t.throws(() => createKBlock(crypto, 'k', payload, 1.5), ConfigError)
  t.throws(() => createKBlock(crypto, 'k', { uri: '', meta: { size: 0 } }, EXP), ConfigError)
  t.throws(() => createKBlock(crypto, 'k', { uri: 'u'.repeat(2049), meta: { size: 0 } }, EXP), LimitError)
  t.throws(() => createKBlock(crypto, 'k', { uri: 'u', meta: { size: -5 } }, EXP), ConfigError)
  const extra: Record<string, string> = {}
  for (let i = 0; i < 16; i++) extra[`key${i}`] = 'v'.repeat(256)
  t.throws(() => createKBlock(crypto, 'k', { uri: 'u', meta: { size: 0, extra } }, EXP), LimitError, 'block over 4096 bytes')
  const { block } = createKBlock(crypto, 'k', { uri: 'u'.repeat(2048), meta: { size: 0, description: 'd'.repeat(1024) } }, 0xffffffff)
  t.ok(block.length <= MAX_KBLOCK_BYTES)
  t.equal(kblockExpiry(block), 0xffffffff)
})

t.test('checkMeta', async t => {
  const m: FileMeta = { size: 2 ** 50, name: 'é'.repeat(127), type: 't', description: '', extra: { a: 'b' } }
  t.same(checkMeta(m), m)
  t.same(checkMeta({ size: 3, future: 'field' }), { size: 3 }, 'unknown fields dropped')
  t.same(metaToRecord({ size: 1, name: undefined }), { size: 1 })
  for (const bad of [null, [], 'x', {}, { size: 1.5 }, { size: 2 ** 50 + 1 }, { size: '1' }, { size: 1, name: 5 },
    { size: 1, name: 'é'.repeat(128) }, { size: 1, type: 't'.repeat(128) }, { size: 1, description: 'd'.repeat(1025) },
    { size: 1, extra: [] }, { size: 1, extra: { '': 'x' } }, { size: 1, extra: { k: 1 } }, { size: 1, extra: { ['k'.repeat(33)]: 'v' } },
    { size: 1, extra: { k: 'v'.repeat(257) } }, { size: 1, extra: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }]) {
    t.throws(() => checkMeta(bad), DecodeError, JSON.stringify(bad))
  }
})

t.test('random input: verify never throws, open throws only typed errors', async t => {
  const query = keywordQuery(crypto, 'foo')
  const pk = crypto.ed25519Keypair(seedOf('foo')).publicKey
  const good = createKBlock(crypto, 'foo', payload, EXP).block
  const blocks = fc.oneof(
    fc.uint8Array({ maxLength: 5000 }),
    fc.uint8Array({ minLength: 100, maxLength: 600 }).map(b => { b[0] = 1; b.set(pk, 1); return b }),
    fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => { const b = good.slice(); b[i] = (b[i] as number) ^ x; return b })
  )
  fc.assert(fc.property(blocks, fc.uint8Array({ minLength: 32, maxLength: 32 }), (b, q) => {
    if (verifyKBlock(crypto, q, b, NOW) || verifyKBlock(crypto, query, b, NOW)) return false
    try { openKBlock(crypto, 'foo', b) } catch (err) { return err instanceof UmbraError }
    return false
  }), { numRuns: 500 })
  t.pass('500 random blocks')
})
