/**
 * Tests of the XOR metric (properties against naive definitions, with fast-check) and of the
 * k-bucket routing table: placement, full-bucket refusal, updates, closest() against a brute
 * force sort on random tables, and eviction after consecutive failures.
 */
import t from 'tap'
import fc from 'fast-check'
import { commonPrefixBits, compareDistance, ID_BYTES, RoutingTable, xorDistance } from '../../src/util/kademlia.ts'
import { compareBytes } from '../../src/util/bytes.ts'
import { ConfigError } from '../../src/util/errors.ts'
import { prng } from '../fixtures/prng.ts'

interface Peer { id: Uint8Array, tag?: string }

const id32 = fc.uint8Array({ minLength: ID_BYTES, maxLength: ID_BYTES })
const bits = (b: Uint8Array): string => [...b].map(x => x.toString(2).padStart(8, '0')).join('')
const sign = (x: number): number => Math.sign(x)

const randomId = (r: () => number): Uint8Array => Uint8Array.from({ length: ID_BYTES }, () => Math.floor(r() * 256))

/** A copy of `base` sharing exactly `cpl` leading bits with it (then random). */
function withPrefix (base: Uint8Array, cpl: number, r: () => number): Uint8Array {
  const out = randomId(r)
  for (let i = 0; i < cpl; i++) {
    const byte = i >> 3
    const mask = 0x80 >> (i & 7)
    out[byte] = (out[byte]! & ~mask) | (base[byte]! & mask)
  }
  const byte = cpl >> 3
  const mask = 0x80 >> (cpl & 7)
  out[byte] = (out[byte]! & ~mask) | (~base[byte]! & mask)
  return out
}

t.test('xorDistance: zero on itself, symmetric, involutive', async t => {
  fc.assert(fc.property(id32, id32, (a, b) => {
    const d = xorDistance(a, b)
    if (!xorDistance(a, a).every(x => x === 0)) return false
    if (compareBytes(d, xorDistance(b, a)) !== 0) return false
    if (compareBytes(xorDistance(d, b), a) !== 0) return false
    return d.every(x => x === 0) === (compareBytes(a, b) === 0)
  }))
  t.throws(() => xorDistance(new Uint8Array(32), new Uint8Array(31)), ConfigError)
})

t.test('compareDistance agrees with comparing XOR distances, and is a total order', async t => {
  fc.assert(fc.property(id32, id32, id32, (target, a, b) => {
    const c = compareDistance(target, a, b)
    if (sign(c) !== sign(compareBytes(xorDistance(target, a), xorDistance(target, b)))) return false
    if (sign(c) !== -sign(compareDistance(target, b, a))) return false
    if ((c === 0) !== (compareBytes(a, b) === 0)) return false // unidirectional metric
    return compareDistance(target, target, a) <= 0
  }), { numRuns: 2000 })
  const z = new Uint8Array(32)
  const near = new Uint8Array(32); near[31] = 1
  const far = new Uint8Array(32); far[0] = 0x80
  t.ok(compareDistance(z, near, far) < 0)
  t.ok(compareDistance(far, near, far) > 0)
})

t.test('commonPrefixBits equals the leading equal bits', async t => {
  fc.assert(fc.property(id32, id32, (a, b) => {
    const sa = bits(a)
    const sb = bits(b)
    let n = 0
    while (n < sa.length && sa[n] === sb[n]) n++
    return commonPrefixBits(a, b) === n
  }))
  const r = prng(1)
  for (let cpl = 0; cpl < 256; cpl++) {
    const a = randomId(r)
    t.equal(commonPrefixBits(a, withPrefix(a, cpl, r)), cpl)
  }
  const a = randomId(r)
  t.equal(commonPrefixBits(a, a.slice()), 256)
})

t.test('peers land in the bucket of their common prefix with self; self is never added', async t => {
  const r = prng(2)
  const self = randomId(r)
  const rt = new RoutingTable<Peer>(self, { k: 4 })
  for (let cpl = 0; cpl < 256; cpl++) {
    const p = { id: withPrefix(self, cpl, r) }
    t.equal(rt.bucketIndex(p.id), cpl)
    t.equal(rt.add(p, 0), 'added')
    t.same(rt.bucket(cpl).map(x => x.id), [p.id])
  }
  t.equal(rt.size, 256)
  t.equal(rt.bucketsFilled(), 256)
  t.equal(rt.add({ id: self.slice() }, 0), 'self')
  t.notOk(rt.has(self))
  t.equal(rt.size, 256)
  t.throws(() => rt.add({ id: new Uint8Array(20) }, 0), ConfigError)
  t.throws(() => new RoutingTable<Peer>(self, { k: 0 }), ConfigError)
})

t.test('a full bucket refuses newcomers; updates replace the object and refresh order', async t => {
  const r = prng(3)
  const self = randomId(r)
  const rt = new RoutingTable<Peer>(self, { k: 4 })
  const peers = Array.from({ length: 6 }, (_, i) => ({ id: withPrefix(self, 0, r), tag: `p${i}` }))
  for (let i = 0; i < 4; i++) t.equal(rt.add(peers[i]!, i), 'added')
  t.equal(rt.add(peers[4]!, 10), 'full')
  t.notOk(rt.has(peers[4]!.id))
  t.equal(rt.size, 4)
  t.same(rt.bucket(0).map(p => p.tag), ['p0', 'p1', 'p2', 'p3'], 'least recently seen first')

  const fresh = { id: peers[0]!.id.slice(), tag: 'p0-new' }
  t.equal(rt.add(fresh, 20), 'updated')
  t.equal(rt.get(peers[0]!.id), fresh, 'replaced by the given object')
  t.equal(rt.lastSeen(peers[0]!.id), 20)
  t.same(rt.bucket(0).map(p => p.tag), ['p1', 'p2', 'p3', 'p0-new'], 'moved to the tail')
  t.equal(rt.size, 4)

  t.ok(rt.remove(peers[1]!.id))
  t.notOk(rt.remove(peers[1]!.id))
  t.equal(rt.add(peers[4]!, 30), 'added', 'room again after remove')
  t.equal(rt.add(peers[5]!, 30), 'full')
  t.equal(rt.all().length, 4)
  t.equal(rt.bucketsFilled(), 1)
})

t.test('closest() equals a brute-force sort on random tables', async t => {
  for (const seed of [10, 11, 12]) {
    const r = prng(seed)
    const self = randomId(r)
    const rt = new RoutingTable<Peer>(self, { k: 16 })
    for (let i = 0; i < 4000; i++) rt.add({ id: randomId(r) }, 0)
    // Peers near self fill the high buckets too.
    for (let i = 0; i < 300; i++) rt.add({ id: withPrefix(self, 1 + Math.floor(r() * 40), r) }, 0)
    const all = rt.all()
    t.ok(all.length > 300 && all.length <= 4300)
    const targets = [self, ...Array.from({ length: 60 }, () => randomId(r)),
      ...Array.from({ length: 60 }, () => withPrefix(self, Math.floor(r() * 30), r)),
      ...all.slice(0, 10).map(p => p.id)]
    let mismatches = 0
    for (const target of targets) {
      const n = 1 + Math.floor(r() * 20)
      const skip = new Set(all.filter(() => r() < 0.1).map(p => Buffer.from(p.id).toString('hex')))
      const exclude = (id: Uint8Array): boolean => skip.has(Buffer.from(id).toString('hex'))
      const want = all.filter(p => !exclude(p.id)).sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, n)
      const got = rt.closest(target, n, exclude)
      if (got.length !== want.length || got.some((p, i) => p !== want[i])) mismatches++
      const plain = rt.closest(target, n)
      const wantPlain = [...all].sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, n)
      if (plain.some((p, i) => p !== wantPlain[i])) mismatches++
    }
    t.equal(mismatches, 0, `seed ${seed}: ${targets.length} targets`)
  }
  const small = new RoutingTable<Peer>(randomId(prng(4)))
  t.same(small.closest(randomId(prng(5)), 5), [], 'empty table')
  small.add({ id: randomId(prng(6)) }, 0)
  t.equal(small.closest(randomId(prng(5)), 5).length, 1, 'fewer than n')
  t.equal(small.closest(randomId(prng(5)), 0).length, 0)
})

t.test('a peer is evicted after maxFailures consecutive failures; being seen resets the count', async t => {
  const r = prng(7)
  const self = randomId(r)
  const rt = new RoutingTable<Peer>(self, { maxFailures: 3 })
  const p = { id: randomId(r) }
  rt.add(p, 0)
  t.notOk(rt.markFailed(p.id, 1))
  t.notOk(rt.markFailed(p.id, 2))
  t.equal(rt.failures(p.id), 2)
  t.ok(rt.markSeen(p.id, 3))
  t.equal(rt.failures(p.id), 0, 'seen: count reset')
  t.notOk(rt.markFailed(p.id, 4))
  t.notOk(rt.markFailed(p.id, 5))
  rt.add(p, 6)
  t.equal(rt.failures(p.id), 0, 'add (update) resets too')
  t.notOk(rt.markFailed(p.id, 7))
  t.notOk(rt.markFailed(p.id, 8))
  t.ok(rt.markFailed(p.id, 9), 'third consecutive failure evicts')
  t.notOk(rt.has(p.id))
  t.equal(rt.size, 0)
  t.notOk(rt.markFailed(p.id, 10), 'unknown peer')
  t.notOk(rt.markSeen(p.id, 10))

  const one = new RoutingTable<Peer>(self, { maxFailures: 1 })
  one.add(p, 0)
  t.ok(one.markFailed(p.id, 1))
  t.equal(one.add(p, 2), 'added', 'an evicted peer may come back')
})
