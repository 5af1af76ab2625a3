/** Garlic sessions end to end: NS → NSR → ES both ways, LeaseSet bundling, lost NS, simultaneous open, restarts. */
import t from 'tap'
import { Garlic } from '../../src/garlic/garlic.ts'
import { ES_OVERHEAD, NS_OVERHEAD, NSR_OVERHEAD, TYPE_ES, TYPE_NS, TYPE_NSR, FLAG_LEASE_SET } from '../../src/garlic/layout.ts'
import { establish, NOW, payloads, peer, suite, type Peer } from './fixtures.ts'

const c = await suite('garlic-flow')

function send (from: Peer, to: Peer, p: Uint8Array, now = NOW, ls?: Uint8Array): Uint8Array {
  return from.g.seal(to.keys.destination, p, now, ls)
}

t.test('NS → NSR → many ES both ways: every payload arrives intact, overhead() is exact', async t => {
  const a = peer(c)
  const b = peer(c)
  const A = a.keys.destination
  const B = b.keys.destination
  t.equal(a.g.overhead(B), NS_OVERHEAD, 'no session: NS')
  t.equal(a.g.sessionState(B), 'none')

  const ns = send(a, b, Uint8Array.of(1, 2, 3))
  t.equal(ns[0], TYPE_NS)
  t.equal(ns.length, 3 + NS_OVERHEAD)
  t.equal(a.g.sessionState(B), 'pending')
  const got = b.g.open(ns, NOW)
  t.same(got?.payload, Uint8Array.of(1, 2, 3))
  t.same(got?.from?.bytes, A.bytes, 'the recipient learns the sender destination')
  t.equal(b.g.sessionState(A), 'replying')

  // Before the NSR arrives, Alice sends ES under the NS keys.
  t.equal(a.g.overhead(B), ES_OVERHEAD)
  const early = send(a, b, Uint8Array.of(4))
  t.equal(early[0], TYPE_ES)
  t.equal(early.length, 1 + ES_OVERHEAD)
  t.same(b.g.open(early, NOW)?.payload, Uint8Array.of(4))

  // Bob answers with NSRs until Alice proves she has one.
  t.equal(b.g.overhead(A), NSR_OVERHEAD)
  const nsr1 = send(b, a, Uint8Array.of(5))
  const nsr2 = send(b, a, Uint8Array.of(6))
  t.equal(nsr1[0], TYPE_NSR)
  t.equal(nsr1.length, 1 + NSR_OVERHEAD)
  t.same(a.g.open(nsr2, NOW)?.payload, Uint8Array.of(6), 'NSRs may arrive out of order')
  t.same(a.g.open(nsr1, NOW)?.payload, Uint8Array.of(5))
  t.equal(a.g.sessionState(B), 'established')

  const first = send(a, b, Uint8Array.of(7))
  t.same(b.g.open(first, NOW)?.payload, Uint8Array.of(7))
  t.equal(b.g.sessionState(A), 'established', 'an ES on the new keys ends the NSR phase')
  t.equal(b.g.overhead(A), ES_OVERHEAD)

  const ab = payloads(300, 900)
  const ba = payloads(300, 700, 1)
  for (let i = 0; i < 300; i++) {
    const m1 = send(a, b, ab[i]!)
    const m2 = send(b, a, ba[i]!)
    t.equal(m1.length, 900 + ES_OVERHEAD)
    const r1 = b.g.open(m1, NOW)
    const r2 = a.g.open(m2, NOW)
    if (r1 === undefined || r2 === undefined) { t.fail(`message ${i} dropped`); break }
    if (Buffer.compare(r1.payload, ab[i]!) !== 0 || Buffer.compare(r2.payload, ba[i]!) !== 0) { t.fail(`message ${i} corrupted`); break }
    if (r1.from?.bytes !== undefined && Buffer.compare(r1.from.bytes, A.bytes) !== 0) { t.fail('wrong sender'); break }
  }
  t.equal(a.g.stats.opened, 302)
  t.equal(b.g.stats.opened, 303)
  t.same(Object.values(a.g.stats.dropped).reduce((x, y) => x + y), 0)
  t.same(Object.values(b.g.stats.dropped).reduce((x, y) => x + y), 0)
  t.equal(a.g.stats.sessions, 1)
  t.equal(b.g.stats.sessions, 1)
  t.ok(a.g.expectedTags <= 4 * 2 * 128, 'tags bounded by the windows')
})

t.test('a LeaseSet rides in NS, NSR and ES; overhead() counts it', async t => {
  const a = peer(c)
  const b = peer(c)
  const A = a.keys.destination
  const B = b.keys.destination
  const ls = new Uint8Array(600).fill(9)
  t.equal(a.g.overhead(B, ls.length), NS_OVERHEAD + 600)
  const ns = send(a, b, Uint8Array.of(1), NOW, ls)
  t.equal(ns.length, 1 + NS_OVERHEAD + 600)
  const r1 = b.g.open(ns, NOW)
  t.same(r1?.leaseSet, ls)
  t.same(r1?.payload, Uint8Array.of(1))
  t.equal(b.g.overhead(A, ls.length), NSR_OVERHEAD + 602)
  const nsr = send(b, a, Uint8Array.of(2), NOW, ls)
  t.equal(nsr[0], TYPE_NSR | FLAG_LEASE_SET)
  t.equal(nsr.length, 1 + NSR_OVERHEAD + 602)
  const r2 = a.g.open(nsr, NOW)
  t.same(r2?.leaseSet, ls)
  t.same(r2?.payload, Uint8Array.of(2))
  t.equal(a.g.overhead(B, ls.length), ES_OVERHEAD + 602)
  const es = send(a, b, Uint8Array.of(3), NOW, ls)
  t.equal(es[0], TYPE_ES | FLAG_LEASE_SET)
  const r3 = b.g.open(es, NOW)
  t.same(r3?.leaseSet, ls)
  t.same(r3?.payload, Uint8Array.of(3))
  const plain = b.g.open(send(a, b, Uint8Array.of(4)), NOW)
  t.equal(plain?.leaseSet, undefined, 'no LeaseSet unless given')
})

t.test('a lost NS: ES before the retransmission are lost, the retransmission restores the session', async t => {
  const a = peer(c, { nsResendMs: 5000 })
  const b = peer(c)
  const B = b.keys.destination
  send(a, b, Uint8Array.of(1)) // lost
  const early = send(a, b, Uint8Array.of(2), NOW + 1000)
  t.equal(b.g.open(early, NOW + 1000), undefined)
  t.equal(b.g.stats.dropped['unknown-tag'], 1, 'ES under the keys of an NS never received')
  t.equal(a.g.overhead(B, 0, NOW + 5000), NS_OVERHEAD, 'a retransmission is due')
  const again = send(a, b, Uint8Array.of(3), NOW + 5000)
  t.equal(again[0], TYPE_NS)
  t.same(again.subarray(1, 81), send(a, b, Uint8Array.of(9), NOW + 10_000).subarray(1, 81), 'same ephemeral and static ciphertext: one handshake')
  t.same(b.g.open(again, NOW + 5000)?.payload, Uint8Array.of(3))
  const later = send(a, b, Uint8Array.of(4), NOW + 10_001)
  t.equal(later[0], TYPE_ES, 'retransmissions are rate-limited')
  t.same(b.g.open(later, NOW + 10_001)?.payload, Uint8Array.of(4), 'NS-key ES open once the NS did')
  const nsr = send(b, a, Uint8Array.of(5), NOW + 10_002)
  t.same(a.g.open(nsr, NOW + 10_002)?.payload, Uint8Array.of(5))
  t.equal(a.g.sessionState(B), 'established')
})

t.test('an NS retransmission the recipient already has delivers its payload and changes nothing', async t => {
  const a = peer(c, { nsResendMs: 1000 })
  const b = peer(c)
  t.ok(b.g.open(send(a, b, Uint8Array.of(1)), NOW))
  const nsrBefore = send(b, a, Uint8Array.of(2), NOW)
  const again = send(a, b, Uint8Array.of(3), NOW + 1000)
  t.equal(again[0], TYPE_NS)
  t.same(b.g.open(again, NOW + 1000)?.payload, Uint8Array.of(3))
  const nsrAfter = send(b, a, Uint8Array.of(4), NOW + 1000)
  t.same(nsrAfter.subarray(9, 41), nsrBefore.subarray(9, 41), 'the responder kept its reply (same ephemeral)')
  t.same(a.g.open(nsrAfter, NOW + 1000)?.payload, Uint8Array.of(4))
  t.same(a.g.open(nsrBefore, NOW + 1000)?.payload, Uint8Array.of(2))
})

t.test('simultaneous open: every message is delivered and both sides end established', async t => {
  const a = peer(c)
  const b = peer(c)
  const A = a.keys.destination
  const B = b.keys.destination
  const nsA = send(a, b, Uint8Array.of(1))
  const nsB = send(b, a, Uint8Array.of(2))
  const esA = send(a, b, Uint8Array.of(3))
  const esB = send(b, a, Uint8Array.of(4))
  t.same(b.g.open(nsA, NOW)?.payload, Uint8Array.of(1))
  t.same(a.g.open(nsB, NOW)?.payload, Uint8Array.of(2))
  t.same(b.g.open(esA, NOW)?.payload, Uint8Array.of(3))
  t.same(a.g.open(esB, NOW)?.payload, Uint8Array.of(4))
  t.same([a.g.sessionState(B), b.g.sessionState(A)], ['replying', 'replying'], 'each answers the other')
  // Crossing traffic: each sends on the handshake it last heard on; nothing is lost.
  for (let i = 0; i < 10; i++) {
    const x = send(a, b, Uint8Array.of(i))
    const y = send(b, a, Uint8Array.of(i))
    t.same(b.g.open(x, NOW)?.payload, Uint8Array.of(i))
    t.same(a.g.open(y, NOW)?.payload, Uint8Array.of(i))
  }
  t.equal(a.g.sessionState(B), 'established')
  t.equal(b.g.sessionState(A), 'established')
  t.same(Object.values(a.g.stats.dropped).reduce((x, y) => x + y) + Object.values(b.g.stats.dropped).reduce((x, y) => x + y), 0)
})

t.test('a late NS of a handshake the peer no longer uses does not break the session', async t => {
  const a = peer(c)
  const b = peer(c)
  const A = a.keys.destination
  const B = b.keys.destination
  const nsB = send(b, a, Uint8Array.of(0)) // delayed in the network for a while
  t.ok(b.g.open(send(a, b, Uint8Array.of(1)), NOW))
  t.ok(a.g.open(send(b, a, Uint8Array.of(2)), NOW))
  t.ok(b.g.open(send(a, b, Uint8Array.of(3)), NOW))
  t.equal(a.g.sessionState(B), 'established')
  t.same(a.g.open(nsB, NOW)?.payload, Uint8Array.of(0), 'the late NS is delivered')
  // Alice answers that handshake now; Bob still holds it and completes it; nothing is lost.
  for (let i = 0; i < 5; i++) {
    t.same(b.g.open(send(a, b, Uint8Array.of(10 + i)), NOW)?.payload, Uint8Array.of(10 + i))
    t.same(a.g.open(send(b, a, Uint8Array.of(20 + i)), NOW)?.payload, Uint8Array.of(20 + i))
  }
  t.equal(a.g.sessionState(B), 'established')
  t.equal(b.g.sessionState(A), 'established')
})

t.test('a peer that lost its state starts over with an NS, which replaces our session', async t => {
  const a = peer(c)
  const b = peer(c)
  const A = a.keys.destination
  const B = b.keys.destination
  establish(a, b)
  const reborn: Peer = { keys: b.keys, g: new Garlic(c, b.keys) }
  t.equal(reborn.g.open(send(a, reborn, Uint8Array.of(1)), NOW), undefined, 'old session ES cannot open')
  const ns = send(reborn, a, Uint8Array.of(2))
  t.equal(ns[0], TYPE_NS)
  t.same(a.g.open(ns, NOW)?.payload, Uint8Array.of(2))
  t.equal(a.g.sessionState(B), 'replying', 'we answer the new handshake')
  t.same(reborn.g.open(send(a, reborn, Uint8Array.of(3)), NOW)?.payload, Uint8Array.of(3))
  t.same(a.g.open(send(reborn, a, Uint8Array.of(4)), NOW)?.payload, Uint8Array.of(4))
  t.equal(reborn.g.sessionState(A), 'established')
  t.equal(a.g.sessionState(B), 'established')
})

t.test('forget() drops the session: the next seal is an NS', async t => {
  const a = peer(c)
  const b = peer(c)
  establish(a, b)
  t.equal(a.g.forget(b.keys.destination), true)
  t.equal(a.g.forget(b.keys.destination), false)
  t.equal(a.g.stats.sessions, 0)
  t.equal(a.g.expectedTags, 0)
  const ns = send(a, b, Uint8Array.of(1), NOW + 1)
  t.equal(ns[0], TYPE_NS)
  t.same(b.g.open(ns, NOW + 1)?.payload, Uint8Array.of(1))
})

t.test('empty payloads work in every message type (e.g. an NSR sent only to complete the handshake)', async t => {
  const a = peer(c)
  const b = peer(c)
  const empty = new Uint8Array(0)
  t.equal(b.g.open(send(a, b, empty), NOW)?.payload.length, 0)
  t.equal(b.g.sessionState(a.keys.destination), 'replying', 'the router can see a reply is due')
  t.equal(a.g.open(send(b, a, empty), NOW)?.payload.length, 0)
  t.equal(b.g.open(send(a, b, empty), NOW)?.payload.length, 0)
  t.equal(a.g.open(send(b, a, empty), NOW)?.payload.length, 0)
  t.equal(b.g.open(a.g.sealAnonymous(b.keys.destination, empty), NOW)?.payload.length, 0)
})
