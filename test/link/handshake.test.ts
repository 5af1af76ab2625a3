/** The Noise XK handshake as a pure state machine: keys agree, and every tampering is caught. */
import t from 'tap'
import { loadCrypto } from '../../src/crypto/index.ts'
import { HEAD_BYTES, InitiatorHandshake, ResponderHandshake, type HandshakeConfig } from '../../src/link/handshake.ts'

const c = await loadCrypto({ seed: 'handshake' })
const cfg: HandshakeConfig = { crypto: c, prologue: new TextEncoder().encode('umbra/link/1 test') }
const si = c.x25519Keypair()
const sr = c.x25519Keypair()
const info = new Uint8Array(200).fill(3)
const NOW = 1_800_000_000_000

function run (opts: { tamper?: (m: Uint8Array, step: number) => void, respCfg?: HandshakeConfig, rs?: Uint8Array, respNow?: number } = {}) {
  const i = new InitiatorHandshake(cfg, si, opts.rs ?? sr.publicKey, info)
  const r = new ResponderHandshake(opts.respCfg ?? cfg, sr)
  const m1 = i.write1(NOW); opts.tamper?.(m1, 1)
  const p1 = r.read1Head(m1.subarray(0, HEAD_BYTES), opts.respNow ?? NOW); r.read1Pad(m1.subarray(HEAD_BYTES, HEAD_BYTES + p1))
  const m2 = r.write2(NOW); opts.tamper?.(m2, 2)
  const p2 = i.read2Head(m2.subarray(0, HEAD_BYTES), NOW); i.read2Pad(m2.subarray(HEAD_BYTES, HEAD_BYTES + p2))
  const { msg: m3, result: ri } = i.write3(); opts.tamper?.(m3, 3)
  const { info: got, result: rr } = r.read3(m3)
  return { ri, rr, got }
}

t.test('both sides derive crossed keys, the same hash, and learn the right statics', async t => {
  const { ri, rr, got } = run()
  t.same(ri.sendKey, rr.recvKey)
  t.same(ri.recvKey, rr.sendKey)
  t.not(Buffer.from(ri.sendKey).toString('hex'), Buffer.from(ri.recvKey).toString('hex'), 'directions use different keys')
  t.same(ri.handshakeHash, rr.handshakeHash)
  t.same(rr.remoteStatic, si.publicKey, 'responder learned the initiator static key')
  t.same(got, info, 'RouterInfo carried intact')
})

t.test('a wrong responder key, another network, or tampering fails with HandshakeError', async t => {
  t.throws(() => run({ rs: c.x25519Keypair().publicKey }), { name: 'HandshakeError' }, 'initiator used the wrong responder key')
  t.throws(() => run({ respCfg: { ...cfg, prologue: new TextEncoder().encode('umbra/link/1 other') } }), { name: 'HandshakeError' }, 'prologue (network) differs')
  for (const step of [1, 2, 3]) {
    for (const pos of [0, 40, 63]) {
      t.throws(() => run({ tamper: (m, s) => { if (s === step && pos < m.length) m[pos]! ^= 1 } }), { name: 'HandshakeError' }, `flip in message ${step} at ${pos}`)
    }
  }
  t.throws(() => run({ tamper: (m, s) => { if (s === 1 && m.length > HEAD_BYTES) m[m.length - 1]! ^= 1 } }), { name: 'HandshakeError' }, 'padding of message 1 is authenticated')
})

t.test('clock skew beyond the limit is refused', async t => {
  t.throws(() => run({ respNow: NOW + 10 * 60_000 }), { name: 'HandshakeError', message: /clock/ })
  t.doesNotThrow(() => run({ respNow: NOW + 60_000 }))
})

t.test('a RouterInfo that cannot fit the datagram MTU is a LimitError', async t => {
  t.throws(() => new InitiatorHandshake({ ...cfg, maxMessageBytes: 200 }, si, sr.publicKey, info), { name: 'LimitError' })
})

t.test('on datagrams, a forged message 2 or 3 changes nothing: the genuine one still completes', async t => {
  const i = new InitiatorHandshake(cfg, si, sr.publicKey, info)
  const r = new ResponderHandshake(cfg, sr)
  const m1 = i.write1(NOW)
  const p1 = r.read1Head(m1.subarray(0, HEAD_BYTES), NOW); r.read1Pad(m1.subarray(HEAD_BYTES, HEAD_BYTES + p1))
  const m2 = r.write2(NOW)
  const forged2 = m2.slice(); forged2[50]! ^= 1
  t.throws(() => { i.read2Whole(forged2, NOW) }, { name: 'HandshakeError' })
  t.throws(() => { i.read2Whole(c.randomBytes(m2.length), NOW) })
  t.doesNotThrow(() => { i.read2Whole(m2, NOW) }, 'the genuine message 2 still reads')
  const { msg: m3, result: ri } = i.write3()
  const forged3 = m3.slice(); forged3[70]! ^= 1
  t.throws(() => r.read3(forged3), { name: 'HandshakeError' })
  t.throws(() => r.read3(c.randomBytes(m3.length)))
  const { result: rr } = r.read3(m3)
  t.same(rr.recvKey, ri.sendKey, 'keys still agree')
})
