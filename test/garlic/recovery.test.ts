/**
 * Recovery: resynchronising after burst losses longer than the window, NS copies growing old,
 * unconfirmed replies, and a handshake re-created after being dropped (no replay of its old ES).
 */
import t from 'tap'
import { TYPE_ES, TYPE_NS, TYPE_NSR } from '../../src/garlic/layout.ts'
import { establish, NOW, peer, suite, type Peer } from './fixtures.ts'

const c = await suite('garlic-recovery')

function send (from: Peer, to: Peer, p: Uint8Array, now = NOW): Uint8Array {
  return from.g.seal(to.keys.destination, p, now)
}

function u32 (i: number): Uint8Array { return Uint8Array.of(i >>> 24, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff) }
function num (p: Uint8Array): number { return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0 }

t.test('after losing more than a window, delivery resumes at the next checkpoint', async t => {
  const W = 8
  const a = peer(c, { tagWindow: W })
  const b = peer(c, { tagWindow: W })
  establish(a, b) // Bob received Alice's ES number 0
  const msgs = Array.from({ length: 300 }, (_, i) => send(a, b, u32(i + 1))) // msgs[i] is number i + 1
  const got: number[] = []
  for (const m of msgs.slice(99)) { const r = b.g.open(m, NOW); if (r !== undefined) got.push(num(r.payload)) }
  t.ok(got.length > 0, 'not stuck')
  t.equal(got[0]! % W, 0, 'the first message after the gap lands on a checkpoint (a multiple of W)')
  t.ok(got[0]! <= 100 + W, 'within one window of the gap')
  t.same(got, Array.from({ length: 300 - got[0]! + 1 }, (_, k) => got[0]! + k), 'everything after it arrives')
})

t.test('a gap of thousands resumes at a power-of-two checkpoint', async t => {
  const W = 8
  const a = peer(c, { tagWindow: W })
  const b = peer(c, { tagWindow: W })
  establish(a, b)
  let first: number | undefined
  for (let i = 1; i <= 8300; i++) {
    const m = send(a, b, u32(i))
    if (i < 5000) continue // lost
    const r = b.g.open(m, NOW)
    if (r !== undefined && first === undefined) first = num(r.payload)
  }
  t.equal(first, 8192)
  t.ok(b.g.expectedTags < 2 * 2 * W + 2 * 60, 'checkpoints are few')
})

t.test('a pending handshake is replaced before its NS copies grow too old to be accepted', async t => {
  const a = peer(c, { nsMaxAgeMs: 60_000, nsResendMs: 5000 })
  const b = peer(c, { nsMaxAgeMs: 60_000 })
  const first = send(a, b, Uint8Array.of(1))
  const copy = send(a, b, Uint8Array.of(2), NOW + 29_999)
  t.equal(copy[0], TYPE_NS)
  t.same(copy.subarray(1, 33), first.subarray(1, 33), 'a copy of the same handshake')
  const fresh = send(a, b, Uint8Array.of(3), NOW + 30_000)
  t.equal(fresh[0], TYPE_NS)
  t.not(Buffer.from(fresh.subarray(1, 33)).toString('hex'), Buffer.from(first.subarray(1, 33)).toString('hex'), 'a new handshake')
  t.equal(b.g.open(first, NOW + 61_000), undefined, 'the old copy is too old now')
  t.equal(b.g.stats.dropped.clock, 1)
  t.same(b.g.open(fresh, NOW + 61_000)?.payload, Uint8Array.of(3))
})

t.test('a reply nobody confirms gives way to our own handshake', async t => {
  const a = peer(c)
  const b = peer(c, { replyTimeoutMs: 15_000 })
  t.ok(b.g.open(send(a, b, Uint8Array.of(1)), NOW))
  t.equal(send(b, a, Uint8Array.of(2), NOW + 15_000)[0], TYPE_NSR)
  const ns = send(b, a, Uint8Array.of(3), NOW + 15_001)
  t.equal(ns[0], TYPE_NS, 'nothing arrived on that handshake for 15 s: start ours')
  t.equal(b.g.sessionState(a.keys.destination), 'pending')
  t.same(a.g.open(ns, NOW + 15_001)?.payload, Uint8Array.of(3))
  t.same(b.g.open(send(a, b, Uint8Array.of(4), NOW + 15_002), NOW + 15_002)?.payload, Uint8Array.of(4), 'Alice answers it')
  t.equal(b.g.sessionState(a.keys.destination), 'established')
})

t.test('a handshake dropped and re-created from a later NS copy does not accept its old ES again', async t => {
  const a = peer(c, { nsResendMs: 1000 })
  const b = peer(c, { maxSessions: 1 })
  const ns = send(a, b, Uint8Array.of(1))
  t.ok(b.g.open(ns, NOW))
  const early = [send(a, b, Uint8Array.of(2)), send(a, b, Uint8Array.of(3))]
  t.ok(b.g.open(early[0]!, NOW))
  t.ok(b.g.open(peer(c).g.seal(b.keys.destination, Uint8Array.of(9), NOW), NOW), 'another sender evicts Alice')
  t.equal(b.g.sessionState(a.keys.destination), 'none')
  const copy = send(a, b, Uint8Array.of(4), NOW + 1000)
  t.equal(copy[0], TYPE_NS)
  t.same(b.g.open(copy, NOW + 1000)?.payload, Uint8Array.of(4), 'the handshake is re-created')
  t.equal(b.g.open(early[0]!, NOW + 1000), undefined, 'an old ES does not open again')
  t.same(b.g.open(early[1]!, NOW + 1000)?.payload, Uint8Array.of(3), 'one never received (above the recorded position) still opens')
  const later = send(a, b, Uint8Array.of(5), NOW + 1001)
  t.equal(later[0], TYPE_ES)
  t.same(b.g.open(later, NOW + 1001)?.payload, Uint8Array.of(5), 'new ones do')
})
