/** Bounds: the tag window (reordering, loss, too far ahead or behind), session eviction and expiry, sizes, options. */
import t from 'tap'
import { Garlic } from '../../src/garlic/garlic.ts'
import { MAX_MESSAGE_BYTES, NS_OVERHEAD, TYPE_NS } from '../../src/garlic/layout.ts'
import { prng } from '../fixtures/prng.ts'
import { establish, NOW, peer, suite, type Peer } from './fixtures.ts'

const c = await suite('garlic-bounds')

function send (from: Peer, to: Peer, p: Uint8Array, now = NOW): Uint8Array {
  return from.g.seal(to.keys.destination, p, now)
}

t.test('ES reordered within the window are all accepted', async t => {
  const a = peer(c, { tagWindow: 16 })
  const b = peer(c, { tagWindow: 16 })
  establish(a, b)
  const msgs = Array.from({ length: 200 }, (_, i) => send(a, b, Uint8Array.of(i & 0xff, i >> 8)))
  // Shuffle within blocks of 16 (the window): every message stays within 16 of the highest seen.
  const rnd = prng(7)
  const order: number[] = []
  for (let base = 0; base < 200; base += 16) {
    const block = Array.from({ length: Math.min(16, 200 - base) }, (_, k) => base + k)
    for (let i = block.length - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); [block[i], block[j]] = [block[j]!, block[i]!] }
    order.push(...block)
  }
  const seen = new Set<number>()
  for (const i of order) {
    const r = b.g.open(msgs[i]!, NOW)
    if (r !== undefined) seen.add(r.payload[0]! | (r.payload[1]! << 8))
  }
  t.equal(seen.size, 200, 'all delivered')
  t.equal(b.g.stats.dropped['unknown-tag'], 0)
})

t.test('a tag beyond the window is dropped; it opens once the window reaches it; a tag fallen behind is dropped', async t => {
  const W = 8
  const a = peer(c, { tagWindow: W })
  const b = peer(c, { tagWindow: W })
  establish(a, b) // Alice's ES number 0 was received: Bob expects 1..8
  const msgs = Array.from({ length: 40 }, (_, i) => send(a, b, Uint8Array.of(i + 1))) // msgs[i] is number i + 1
  const open = (n: number): number | undefined => b.g.open(msgs[n - 1]!, NOW)?.payload[0]
  t.equal(open(9), undefined, 'number 9 is beyond the window (1..8)')
  t.equal(b.g.stats.dropped['unknown-tag'], 1)
  t.equal(open(1), 1, 'number 1 slides the window by one')
  t.equal(open(9), 9, 'now number 9 is expected')
  t.equal(open(17), 17, 'a jump of W over lost messages is fine')
  t.equal(open(25), 25)
  t.equal(open(16), undefined, 'W or more behind the highest (25): dropped, though never received')
  t.equal(open(18), 18, 'less than W behind: still expected')
  t.equal(open(24), 24)
  t.equal(open(18), undefined, 'and only once')
  t.equal(b.g.stats.dropped['unknown-tag'], 3)
})

t.test('the least recently used session is evicted at maxSessions', async t => {
  const b = peer(c, { maxSessions: 2 })
  const senders = [peer(c), peer(c), peer(c)]
  for (const [i, s] of senders.entries()) t.ok(b.g.open(send(s, b, Uint8Array.of(i), NOW + i), NOW + i))
  t.equal(b.g.stats.sessions, 2)
  t.equal(b.g.sessionState(senders[0]!.keys.destination), 'none', 'the oldest is gone')
  t.equal(b.g.open(send(senders[0]!, b, Uint8Array.of(9), NOW + 10), NOW + 10), undefined, 'its ES no longer open')
  t.ok(b.g.open(send(senders[2]!, b, Uint8Array.of(9), NOW + 11), NOW + 11))
  // Using session 1 makes 2 the least recent.
  t.ok(b.g.open(send(senders[1]!, b, Uint8Array.of(9), NOW + 12), NOW + 12))
  const d = peer(c)
  t.ok(b.g.open(send(d, b, Uint8Array.of(9), NOW + 13), NOW + 13))
  t.equal(b.g.sessionState(senders[2]!.keys.destination), 'none')
  t.equal(b.g.sessionState(senders[1]!.keys.destination), 'replying')
  t.ok(b.g.expectedTags <= 2 * 4 * 2 * 128, 'an evicted session leaves no tags behind')
})

t.test('idle sessions expire on tick; the next seal starts over with an NS', async t => {
  const a = peer(c, { sessionIdleMs: 60_000 })
  const b = peer(c, { sessionIdleMs: 60_000 })
  establish(a, b)
  a.g.tick(NOW + 60_000)
  t.equal(a.g.stats.sessions, 1, 'not yet idle for longer than the limit')
  a.g.tick(NOW + 60_001)
  b.g.tick(NOW + 60_001)
  t.equal(a.g.stats.sessions, 0)
  t.equal(b.g.stats.sessions, 0)
  t.equal(a.g.expectedTags, 0)
  t.equal(b.g.expectedTags, 0)
  const ns = send(a, b, Uint8Array.of(1), NOW + 70_000)
  t.equal(ns[0], TYPE_NS)
  t.same(b.g.open(ns, NOW + 70_000)?.payload, Uint8Array.of(1))
})

t.test('sizes: 64 KiB messages at most, LeaseSets of 1..1177 bytes', async t => {
  const a = peer(c)
  const b = peer(c)
  const big = new Uint8Array(MAX_MESSAGE_BYTES - NS_OVERHEAD)
  const ns = send(a, b, big)
  t.equal(ns.length, MAX_MESSAGE_BYTES)
  t.equal(b.g.open(ns, NOW)?.payload.length, big.length, 'exactly 64 KiB opens')
  t.throws(() => send(a, b, new Uint8Array(MAX_MESSAGE_BYTES)), { name: 'LimitError' })
  t.throws(() => a.g.seal(b.keys.destination, Uint8Array.of(1), NOW, new Uint8Array(1178)), { name: 'LimitError' })
  t.throws(() => a.g.seal(b.keys.destination, Uint8Array.of(1), NOW, new Uint8Array(0)), { name: 'LimitError' })
  t.throws(() => a.g.sealAnonymous(b.keys.destination, new Uint8Array(MAX_MESSAGE_BYTES)), { name: 'LimitError' })
  t.equal(b.g.open(new Uint8Array(MAX_MESSAGE_BYTES + 1), NOW), undefined)
  t.equal(b.g.stats.dropped.oversize, 1)
  t.equal(b.g.open(new Uint8Array(0), NOW), undefined)
  t.equal(b.g.stats.dropped.malformed, 1)
})

t.test('options are validated', async t => {
  const keys = peer(c).keys
  for (const bad of [{ maxSessions: 0 }, { tagWindow: 1.5 }, { sessionIdleMs: -1 }, { nsResendMs: Number.NaN }]) {
    t.throws(() => new Garlic(c, keys, bad), { name: 'ConfigError' }, JSON.stringify(bad))
  }
})
