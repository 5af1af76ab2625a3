/** Tunnel build records: a body carried through 1..8 hops, tampering, slot randomness, codecs and golden vectors. */
import t from 'tap'
import * as nc from 'node:crypto'
import fc from 'fast-check'
import { createCrypto, cryptoReady, loadCrypto, type CryptoSuite } from '../../src/crypto/index.ts'
import { CryptoError, DecodeError, LimitError } from '../../src/util/errors.ts'
import {
  BUILD_BODY_BYTES, BUILD_RECORDS, BuildStatus, HopFlag, MAX_LIFETIME_SEC, RECORD_BYTES, REQUEST_BYTES,
  answerRecord, createBuild, decodeRequest, deriveHopKeys, encodeRequest, openRecord, readReplies,
  type BuildRequest, type HopSpec, type OpenedRecord
} from '../../src/tunnel/build.ts'

await cryptoReady()
const c = createCrypto({ seed: 'tunnel-build' })

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

interface Router { id: Uint8Array, staticSecret: Uint8Array, staticPublic: Uint8Array }

function makeRouter (cs: CryptoSuite): Router {
  const kp = cs.x25519Keypair()
  return { id: cs.randomBytes(32), staticSecret: kp.secretKey, staticPublic: kp.publicKey }
}

function requestFor (i: number, n: number, next: Uint8Array): BuildRequest {
  return {
    receiveTunnelId: 0x1000_0000 + i * 7 + 1,
    nextTunnelId: i === n - 1 ? 0xfeed_beef : 0x1000_0000 + (i + 1) * 7 + 1,
    nextRouter: next,
    flags: n === 1 ? HopFlag.ENDPOINT : i === 0 ? HopFlag.GATEWAY : i === n - 1 ? HopFlag.ENDPOINT : 0,
    requestTime: 1_800_000_000 + i,
    lifetimeSec: 600 + i,
    nextMsgId: 0xa000_0000 + i,
    priority: 0x100 + i
  }
}

/** The request fields as encoded, without the random padding (what must never be seen in the clear). */
const requestFields = (r: BuildRequest): Buffer => Buffer.from(encodeRequest(r, new Uint8Array(11))).subarray(0, REQUEST_BYTES - 11)

const STATUSES = [BuildStatus.ACCEPTED, BuildStatus.REFUSED_LOAD, BuildStatus.ACCEPTED, BuildStatus.REFUSED_BANDWIDTH,
  BuildStatus.REFUSED_BAD, BuildStatus.ACCEPTED, BuildStatus.ACCEPTED, BuildStatus.REFUSED_LOAD]

function makeTunnel (cs: CryptoSuite, n: number): { routers: Router[], specs: HopSpec[], creator: Uint8Array } {
  const routers = Array.from({ length: n }, () => makeRouter(cs))
  const creator = cs.randomBytes(32)
  const specs = routers.map((r, i) => ({
    routerId: r.id,
    staticKey: r.staticPublic,
    request: requestFor(i, n, i === n - 1 ? creator : routers[i + 1]!.id)
  }))
  return { routers, specs, creator }
}

t.test('a body carried through 1..8 hops: every hop opens its own request, the creator reads every status', async t => {
  for (const cs of [c, await loadCrypto()]) {
    for (let n = 1; n <= BUILD_RECORDS; n++) {
      const { routers, specs } = makeTunnel(cs, n)
      const outsider = makeRouter(cs)
      const { body, state } = createBuild(cs, specs)
      t.equal(body.length, BUILD_BODY_BYTES)
      t.equal(state.hops.length, n)
      t.equal(new Set(state.hops.map(h => h.slot)).size, n, `${n} hops: distinct slots`)
      const boundaries: Buffer[] = [Buffer.from(body)]
      const ephemerals = new Set<string>()
      for (let k = 0; k < n; k++) {
        t.equal(openRecord(cs, outsider, body), undefined, `${n} hops: an outsider finds nothing before hop ${k + 1}`)
        const opened = openRecord(cs, routers[k]!, body)
        if (opened === undefined) { t.fail(`hop ${k + 1} of ${n} found no record`); return }
        t.equal(opened.slot, state.hops[k]!.slot, 'the slot the creator chose')
        t.same(opened.request, specs[k]!.request, `${n} hops: hop ${k + 1} request round-trips exactly`)
        t.same(opened.keys, state.hops[k]!.keys, 'creator and hop share the same keys')
        ephemerals.add(hex(opened.ephemeral))
        answerRecord(cs, body, opened, STATUSES[k]!)
        boundaries.push(Buffer.from(body))
        t.equal(openRecord(cs, routers[k]!, body), undefined, 'once answered, its record is gone')
      }
      t.equal(ephemerals.size, n, 'a fresh e per hop')
      for (const [k, spec] of specs.entries()) {
        const fields = requestFields(spec.request)
        for (const [b, snap] of boundaries.entries()) {
          if (snap.indexOf(fields) !== -1) t.fail(`${n} hops: request of hop ${k + 1} in the clear at boundary ${b}`)
          if (snap.indexOf(Buffer.from(spec.request.nextRouter)) !== -1) t.fail(`${n} hops: next router of hop ${k + 1} visible at boundary ${b}`)
        }
      }
      t.same(readReplies(cs, state, body), STATUSES.slice(0, n), `${n} hops: statuses in tunnel order`)
    }
  }
})

t.test('tampering with a record makes that hop fail with CryptoError (or not find it)', async t => {
  const n = 4
  for (const k of [0, 2, 3]) {
    for (const pos of [16, 40, 48, 100, 127]) {
      const { routers, specs } = makeTunnel(c, n)
      const { body, state } = createBuild(c, specs)
      // Flip the bit on the way in, before hop 1: it passes hops 1..k-1 (XOR is malleable) and is caught at hop k.
      body[state.hops[k]!.slot * RECORD_BYTES + pos]! ^= 0x04
      for (let m = 0; m < k; m++) answerRecord(c, body, openRecord(c, routers[m]!, body)!, 0)
      t.throws(() => openRecord(c, routers[k]!, body), CryptoError, `hop ${k + 1}: flip at record byte ${pos}`)
    }
    const { routers, specs } = makeTunnel(c, n)
    const { body, state } = createBuild(c, specs)
    body[state.hops[k]!.slot * RECORD_BYTES + 3]! ^= 0x80
    for (let m = 0; m < k; m++) answerRecord(c, body, openRecord(c, routers[m]!, body)!, 0)
    t.equal(openRecord(c, routers[k]!, body), undefined, `hop ${k + 1}: a flip in the ID prefix means the record is not addressed to it`)
  }
})

t.test('tampering with a reply makes readReplies throw CryptoError', async t => {
  const n = 3
  for (const [victim, when] of [[0, 1], [0, 3], [1, 2], [2, 3]] as const) {
    const { routers, specs } = makeTunnel(c, n)
    const { body, state } = createBuild(c, specs)
    for (let k = 0; k < n; k++) {
      answerRecord(c, body, openRecord(c, routers[k]!, body)!, BuildStatus.ACCEPTED)
      if (k + 1 === when) body[state.hops[victim]!.slot * RECORD_BYTES + 77]! ^= 1
    }
    t.throws(() => readReplies(c, state, body), CryptoError, `reply of hop ${victim + 1} flipped after hop ${when}`)
  }
  const { routers, specs } = makeTunnel(c, 2)
  const { body, state } = createBuild(c, specs)
  for (const r of routers) answerRecord(c, body, openRecord(c, r, body)!, 0)
  const before = Buffer.from(body)
  t.same(readReplies(c, state, body), [0, 0])
  t.ok(before.equals(body), 'readReplies does not modify the body')
  t.throws(() => readReplies(c, state, body.subarray(1)), DecodeError)
})

t.test('slots are a uniformly random choice: over many 3-hop builds every hop uses every slot', async t => {
  const { specs } = makeTunnel(c, 3)
  const used = [new Set<number>(), new Set<number>(), new Set<number>()]
  for (let i = 0; i < 200; i++) {
    const { state } = createBuild(c, specs)
    state.hops.forEach((h, k) => used[k]!.add(h.slot))
  }
  for (const [k, s] of used.entries()) t.equal(s.size, BUILD_RECORDS, `hop ${k + 1} used all ${BUILD_RECORDS} slots`)
})

t.test('unused slots are random bytes', async t => {
  const { specs } = makeTunnel(c, 1)
  const a = createBuild(c, specs)
  const b = createBuild(c, specs)
  const unused = (x: typeof a): Uint8Array[] => Array.from({ length: BUILD_RECORDS }, (_, j) => j)
    .filter(j => j !== x.state.hops[0]!.slot).map(j => x.body.subarray(j * RECORD_BYTES, (j + 1) * RECORD_BYTES))
  const ua = unused(a)
  const ub = unused(b)
  t.equal(ua.length, 7)
  const zeros = ua.reduce((s, u) => s + u.filter(x => x === 0).length, 0)
  t.ok(zeros < 30, `few zero bytes in 896 unused bytes (${zeros})`)
  t.equal(new Set(ua.map(hex)).size, 7, 'no two unused slots alike')
  t.notOk(ua.some(u => ub.some(v => hex(u) === hex(v))), 'unused slots differ between builds')
})

t.test('request codec: round trip, exact bounds, and rejection of bad fields', async t => {
  const r: BuildRequest = {
    receiveTunnelId: 0xffff_ffff, nextTunnelId: 0, nextRouter: new Uint8Array(32).fill(9),
    flags: HopFlag.GATEWAY, requestTime: 0xffff_ffff, lifetimeSec: MAX_LIFETIME_SEC, nextMsgId: 0, priority: 65535
  }
  const enc = encodeRequest(r, new Uint8Array(11).fill(0xee))
  t.equal(enc.length, REQUEST_BYTES)
  t.same(decodeRequest(enc), r)
  for (const flags of [0, HopFlag.GATEWAY, HopFlag.ENDPOINT]) t.equal(decodeRequest(encodeRequest({ ...r, flags }, new Uint8Array(11))).flags, flags)

  const mutate = (at: number, bytes: number[]): Uint8Array => { const b = enc.slice(); b.set(bytes, at); return b }
  t.throws(() => decodeRequest(enc.subarray(0, 63)), DecodeError, 'short')
  t.throws(() => decodeRequest(new Uint8Array(65)), DecodeError, 'long')
  t.throws(() => decodeRequest(new Uint8Array(0)), DecodeError, 'empty')
  t.throws(() => decodeRequest(mutate(0, [0, 0, 0, 0])), DecodeError, 'receive tunnel ID 0')
  t.throws(() => decodeRequest(mutate(45, [0x02, 0x95])), DecodeError, 'lifetime 661')
  t.throws(() => decodeRequest(mutate(45, [0xff, 0xff])), DecodeError, 'lifetime 65535')
  t.throws(() => decodeRequest(mutate(40, [3])), DecodeError, 'gateway and endpoint at once')
  t.throws(() => decodeRequest(mutate(40, [4])), DecodeError, 'undefined flag bit')

  t.throws(() => encodeRequest({ ...r, receiveTunnelId: 0 }, new Uint8Array(11)), LimitError)
  t.throws(() => encodeRequest({ ...r, lifetimeSec: 661 }, new Uint8Array(11)), LimitError)
  t.throws(() => encodeRequest({ ...r, flags: 3 }, new Uint8Array(11)), LimitError)
  t.throws(() => encodeRequest({ ...r, nextRouter: new Uint8Array(31) }, new Uint8Array(11)), LimitError)
  t.throws(() => encodeRequest(r, new Uint8Array(10)), LimitError)
  t.throws(() => encodeRequest({ ...r, priority: 65536 }, new Uint8Array(11)), LimitError)
  t.throws(() => encodeRequest({ ...r, requestTime: 2 ** 32 }, new Uint8Array(11)), LimitError)
  t.throws(() => encodeRequest({ ...r, nextMsgId: -1 }, new Uint8Array(11)), LimitError)
})

t.test('bad arguments are refused', async t => {
  const { routers, specs } = makeTunnel(c, 2)
  t.throws(() => createBuild(c, []), LimitError, 'no hops')
  t.throws(() => createBuild(c, [...specs, ...specs, ...specs, ...specs, specs[0]!]), LimitError, '9 hops')
  t.throws(() => createBuild(c, [{ ...specs[0]!, request: { ...specs[0]!.request, lifetimeSec: 700 } }]), LimitError, 'bad request')
  t.throws(() => createBuild(c, [{ ...specs[0]!, staticKey: new Uint8Array(32) }]), CryptoError, 'low-order static key')
  t.throws(() => openRecord(c, routers[0]!, new Uint8Array(1023)), DecodeError, 'short body')
  const { body } = createBuild(c, specs)
  const opened = openRecord(c, routers[0]!, body)!
  t.throws(() => answerRecord(c, body, opened, 256), LimitError, 'status over 255')
  t.throws(() => answerRecord(c, body, { ...opened, slot: 8 }, 0), LimitError, 'slot 8')
})

t.test('a sealed but malformed request is a DecodeError, not a CryptoError', async t => {
  const hop = makeRouter(c)
  const body = c.randomBytes(BUILD_BODY_BYTES)
  const bad = encodeRequest(requestFor(0, 1, c.randomBytes(32)), new Uint8Array(11))
  bad.set([0, 0, 0, 0], 0) // receive tunnel ID 0
  body.set(sealRecord(c, hop, bad), 5 * RECORD_BYTES)
  t.throws(() => openRecord(c, hop, body), DecodeError)
})

t.test('a forged slot carrying our prefix does not hide our real record', async t => {
  const { routers, specs } = makeTunnel(c, 1)
  const { body, state } = createBuild(c, specs)
  const decoy = (state.hops[0]!.slot + 1) % BUILD_RECORDS
  body.set(routers[0]!.id.subarray(0, 16), decoy * RECORD_BYTES)
  const opened = openRecord(c, routers[0]!, body)
  t.equal(opened?.slot, state.hops[0]!.slot)
})

/** Seals `plain` (64 bytes) into a record for `hop` with a fresh ephemeral key, as the doc describes. */
function sealRecord (cs: CryptoSuite, hop: Router, plain: Uint8Array): Uint8Array {
  const e = cs.x25519Keypair()
  const k = deriveHopKeys(cs, cs.x25519(e.secretKey, hop.staticPublic), e.publicKey, hop.staticPublic)
  const rec = new Uint8Array(RECORD_BYTES)
  rec.set(hop.id.subarray(0, 16), 0)
  rec.set(e.publicKey, 16)
  rec.set(cs.aeadEncrypt(k.recordKey, new Uint8Array(12), plain, rec.slice(0, 48)), 48)
  return rec
}

t.test('property: openRecord on arbitrary bodies returns undefined or a record, or throws CryptoError/DecodeError', async t => {
  const hop = makeRouter(c)
  const allowed = (body: Uint8Array): boolean => {
    try {
      const r: OpenedRecord | undefined = openRecord(c, hop, body)
      return r === undefined || (r.slot >= 0 && r.slot < BUILD_RECORDS)
    } catch (err) {
      return err instanceof CryptoError || err instanceof DecodeError
    }
  }
  fc.assert(fc.property(fc.uint8Array({ minLength: BUILD_BODY_BYTES, maxLength: BUILD_BODY_BYTES }), allowed), { numRuns: 300 })
  // Bodies with slots addressed to the hop: random tails, low-order e.pub, and validly sealed random requests.
  fc.assert(fc.property(
    fc.uint8Array({ minLength: BUILD_BODY_BYTES, maxLength: BUILD_BODY_BYTES }),
    fc.integer({ min: 0, max: 7 }),
    fc.constantFrom('random', 'zero-e', 'sealed'),
    fc.uint8Array({ minLength: REQUEST_BYTES, maxLength: REQUEST_BYTES }),
    (body, slot, kind, plain) => {
      const b = body.slice()
      if (kind === 'sealed') b.set(sealRecord(c, hop, plain), slot * RECORD_BYTES)
      else {
        b.set(hop.id.subarray(0, 16), slot * RECORD_BYTES)
        if (kind === 'zero-e') b.fill(0, slot * RECORD_BYTES + 16, slot * RECORD_BYTES + 48)
      }
      return allowed(b)
    }), { numRuns: 300 })
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2 * BUILD_BODY_BYTES }), body => allowed(body)), { numRuns: 100 })
  t.pass('only the allowed outcomes')
})

t.test('the reply keystream (chacha20Xor) is raw ChaCha20 (RFC 8439) from block counter 0', async t => {
  // RFC 8439 A.1 test vector #1: zero key, zero nonce, counter 0.
  const ks = new Uint8Array(64)
  c.chacha20Xor(new Uint8Array(32), new Uint8Array(12), ks, ks)
  t.equal(hex(ks), '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586')
  // Block 1 of the same keystream is what the suite's AEAD encrypts with.
  const key = c.randomBytes(32)
  const nonce = c.randomBytes(12)
  const two = new Uint8Array(128)
  c.chacha20Xor(key, nonce, two, two)
  t.equal(hex(two.subarray(64)), hex(c.aeadEncrypt(key, nonce, new Uint8Array(64)).subarray(0, 64)))
})

t.test('golden vectors: per-hop keys and the request encoding', async t => {
  const g = createCrypto({ seed: 'tunnel-build-golden' })
  const seq = (start: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => (start + i) & 0xff)
  const shared = seq(0)
  const ePub = seq(0x20)
  const hopStatic = seq(0x40)
  const k = deriveHopKeys(g, shared, ePub, hopStatic)
  // Independent check of the formula with node:crypto's HKDF.
  const okm = new Uint8Array(nc.hkdfSync('sha256', shared, Buffer.concat([ePub, hopStatic]), 'umbra/tunnel/build/1', 160))
  t.equal(hex(k.recordKey) + hex(k.layerKey) + hex(k.ivKey) + hex(k.replyKey) + hex(k.macKey), hex(okm))
  t.equal(hex(k.recordKey), GOLDEN.recordKey)
  t.equal(hex(k.layerKey), GOLDEN.layerKey)
  t.equal(hex(k.ivKey), GOLDEN.ivKey)
  t.equal(hex(k.replyKey), GOLDEN.replyKey)
  t.equal(hex(k.macKey), GOLDEN.macKey)

  const req: BuildRequest = {
    receiveTunnelId: 0x01020304, nextTunnelId: 0xa0b0c0d0, nextRouter: seq(0x80), flags: HopFlag.ENDPOINT,
    requestTime: 1_800_000_000, lifetimeSec: 600, nextMsgId: 0xdeadbeef, priority: 0x1234
  }
  const enc = encodeRequest(req, g.randomBytes(11))
  t.equal(hex(enc), GOLDEN.request)
  t.same(decodeRequest(enc), req)
})

/** Pinned outputs for shared = 00..1f, e.pub = 20..3f, hopStatic = 40..5f, and the request above (seeded padding). */
const GOLDEN = {
  recordKey: '94280dd6606e4e0de722d92ef9b2962c549ea61b70fdb777aefdf30d7a388a52',
  layerKey: '1b6320e044373b21f4ab6bff6ba96e5e08d7a2cb5f432de5bcb022c8e8350a6e',
  ivKey: 'fb834c00d2f8343e9fea4cef53b1aae7b1613294231251723c0ec0af37074800',
  replyKey: '75b77b3302ea8cf2d9e454475ecd81562150c444cadd739816eb8f95131cd6f0',
  macKey: '06ab770951dce01de121246cbc16ebf8dce7bde525fe5965adb06f05de5c8acc',
  // 01020304 | a0b0c0d0 | 80..9f | 02 | 6b49d200 | 0258 | deadbeef | 1234 | 11 padding bytes
  request: '01020304a0b0c0d0808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f026b49d2000258deadbeef1234127f44dda824e4329f5163'
}

t.test('the bytes follow docs/tunnels.md, checked with node:crypto only', async t => {
  const { routers, specs } = makeTunnel(c, 2)
  const { body, state } = createBuild(c, specs)
  const x25519 = (sk: Uint8Array, pk: Uint8Array): Buffer => nc.diffieHellman({
    privateKey: nc.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), sk]), format: 'der', type: 'pkcs8' }),
    publicKey: nc.createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), pk]), format: 'der', type: 'spki' })
  })
  const nonce = (j: number): Buffer => { const n = Buffer.alloc(12); n[11] = j; return n }
  const ks = (key: Uint8Array, j: number): Buffer => nc.createCipheriv('chacha20', key, Buffer.concat([Buffer.alloc(4), nonce(j)])).update(Buffer.alloc(128))
  const xor = (a: Uint8Array, b: Uint8Array): Buffer => Buffer.from(a.map((v, i) => v ^ b[i]!))
  const slot = (b: Uint8Array, j: number): Buffer => Buffer.from(b.subarray(j * 128, (j + 1) * 128))

  /** Opens hop k's record per the doc; returns the reply key. */
  const openPerDoc = (k: number, b: Uint8Array): Buffer => {
    const r = routers[k]!
    const rec = slot(b, state.hops[k]!.slot)
    t.equal(hex(rec.subarray(0, 16)), hex(r.id.subarray(0, 16)), 'record starts with the router ID prefix')
    const ePub = rec.subarray(16, 48)
    const okm = Buffer.from(nc.hkdfSync('sha256', x25519(r.staticSecret, ePub), Buffer.concat([ePub, r.staticPublic]), 'umbra/tunnel/build/1', 160))
    const d = nc.createDecipheriv('chacha20-poly1305', okm.subarray(0, 32), Buffer.alloc(12), { authTagLength: 16 })
    d.setAAD(rec.subarray(0, 48), { plaintextLength: 64 })
    d.setAuthTag(rec.subarray(112))
    const p = Buffer.concat([d.update(rec.subarray(48, 112)), d.final()])
    const q = specs[k]!.request
    t.equal(p.length, 64)
    t.equal(p.readUInt32BE(0), q.receiveTunnelId)
    t.equal(p.readUInt32BE(4), q.nextTunnelId)
    t.equal(hex(p.subarray(8, 40)), hex(q.nextRouter))
    t.equal(p[40], q.flags)
    t.equal(p.readUInt32BE(41), q.requestTime)
    t.equal(p.readUInt16BE(45), q.lifetimeSec)
    t.equal(p.readUInt32BE(47), q.nextMsgId)
    t.equal(p.readUInt16BE(51), q.priority)
    return okm.subarray(96, 128)
  }

  const reply1 = openPerDoc(0, body)
  const before = Uint8Array.from(body)
  answerRecord(c, body, openRecord(c, routers[0]!, body)!, BuildStatus.REFUSED_LOAD)
  const s1 = state.hops[0]!.slot
  const e = nc.createCipheriv('chacha20-poly1305', reply1, nonce(s1), { authTagLength: 16 })
  const plain = Buffer.alloc(112); plain[0] = BuildStatus.REFUSED_LOAD
  t.equal(hex(slot(body, s1)), hex(Buffer.concat([e.update(plain), e.final(), e.getAuthTag()])), 'reply = AEAD(replyKey, 0^11 || slot, status || zeros)')
  for (let j = 0; j < 8; j++) {
    if (j !== s1) t.equal(hex(slot(body, j)), hex(xor(slot(before, j), ks(reply1, j))), `slot ${j} XORed with KS(replyKey, 0^11 || ${j})`)
  }
  openPerDoc(1, body)
  t.same(readReplies(c, state, (() => { const b = body.slice(); answerRecord(c, b, openRecord(c, routers[1]!, b)!, 0); return b })()), [10, 0])
})
