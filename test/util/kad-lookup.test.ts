/**
 * Tests of the iterative lookup on a simulated network on virtual time: 500 nodes with random
 * IDs, each knowing its own k-bucket table (a RoutingTable) and answering with its closest
 * peers, with per-reply latency and nodes that never answer or answer with an error. Also the
 * edges: query timeouts, the overall deadline, not-found, the query cap, spoofed and late
 * replies, self, and the memory bound. Seeded PRNG; every loop is bounded.
 */
import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { compareDistance, ID_BYTES, RoutingTable } from '../../src/util/kademlia.ts'
import { Lookup, type LookupOptions } from '../../src/util/kad-lookup.ts'
import { toHex } from '../../src/util/bytes.ts'
import { ConfigError } from '../../src/util/errors.ts'
import { prng } from '../fixtures/prng.ts'

interface Peer { id: Uint8Array }
type Behaviour = 'ok' | 'silent' | 'error'
interface SimNode extends Peer { table: RoutingTable<Peer>, behaviour: Behaviour }

const sha = (s: string): Uint8Array => new Uint8Array(createHash('sha256').update(s).digest())

/** A simulated network: nodes, their tables, and which nodes hold which records. */
class Net {
  readonly nodes: SimNode[] = []
  readonly byHex = new Map<string, SimNode>()
  /** Record key (hex) → hexes of the nodes holding it. */
  readonly records = new Map<string, Set<string>>()

  constructor (n: number, readonly r: () => number, readonly replyK = 8) {
    for (let i = 0; i < n; i++) {
      const id = sha(`node-${i}-${r()}`)
      const node: SimNode = { id, table: new RoutingTable<Peer>(id, { k: 16 }), behaviour: 'ok' }
      this.nodes.push(node)
      this.byHex.set(toHex(id), node)
    }
    for (const node of this.nodes) {
      const order = [...this.nodes].sort(() => r() - 0.5)
      for (const other of order) node.table.add({ id: other.id }, 0)
    }
  }

  /** The `n` nodes nearest `key` by brute force, skipping `skip`. */
  nearest (key: Uint8Array, n: number, skip?: Uint8Array): SimNode[] {
    return this.nodes.filter(x => skip === undefined || toHex(x.id) !== toHex(skip))
      .sort((a, b) => compareDistance(key, a.id, b.id)).slice(0, n)
  }

  /** Stores a record under `key` at its `replicas` nearest nodes. */
  store (key: Uint8Array, replicas: number): SimNode[] {
    const holders = this.nearest(key, replicas)
    this.records.set(toHex(key), new Set(holders.map(h => toHex(h.id))))
    return holders
  }
}

interface RunResult { end: number, queried: string[], polls: number }

/**
 * Drives `lookup` on virtual time from `start`: each queried node answers after 10–100 ms
 * (found, closer peers, or an error) or never, per its behaviour. Time jumps to the next reply
 * or to `lookup.nextDeadline()`.
 */
function run (t: Test, net: Net, lookup: Lookup<Peer>, self: Uint8Array | undefined, start = 0): RunResult {
  let now = start
  const events: Array<{ at: number, fire: () => void }> = []
  const queried: string[] = []
  let polls = 0
  for (let step = 0; step < 10_000; step++) {
    polls++
    for (const p of lookup.poll(now)) {
      const hex = toHex(p.id)
      queried.push(hex)
      if (self !== undefined && hex === toHex(self)) t.fail('queried self')
      const node = net.byHex.get(hex)!
      const at = now + 10 + Math.floor(net.r() * 90)
      const key = lookup.target
      if (node.behaviour === 'silent') continue
      if (node.behaviour === 'error') { events.push({ at, fire: () => lookup.onFailure(node.id, at) }); continue }
      if (net.records.get(toHex(key))?.has(hex) === true) events.push({ at, fire: () => lookup.onFound(node.id, at) })
      else events.push({ at, fire: () => lookup.onCloser(node.id, node.table.closest(key, net.replyK), at) })
    }
    if (lookup.done) return { end: now, queried, polls }
    events.sort((a, b) => a.at - b.at)
    const deadline = lookup.nextDeadline()
    if (deadline === undefined) { t.fail('running without a deadline'); break }
    now = Math.min(deadline, events[0]?.at ?? Infinity)
    while (events.length > 0 && events[0]!.at <= now) events.shift()!.fire()
  }
  t.fail('driver did not finish')
  return { end: now, queried, polls }
}

/** A lookup of `key` from `origin`, seeded with the 16 nearest peers of its own table. */
function lookupFrom (net: Net, origin: SimNode, key: Uint8Array, opts: LookupOptions = {}, now = 0): Lookup<Peer> {
  return new Lookup<Peer>(key, origin.table.closest(key, 16), opts, now, origin.id)
}

const LOG2N = Math.log2(500)

t.test('every target is found in a 500-node network, in few hops and bounded queries', async t => {
  const r = prng(1)
  const net = new Net(500, r)
  let totalQueries = 0
  let maxHops = 0
  let maxQueries = 0
  const n = 200
  for (let i = 0; i < n; i++) {
    const key = i % 2 === 0 ? sha(`key-${i}`) : net.nodes[Math.floor(r() * 500)]!.id
    net.store(key, i % 2 === 0 ? 3 : 1) // odd: a router's own record, held by that router only
    const origin = net.nodes[Math.floor(r() * 500)]!
    if (toHex(origin.id) === toHex(key)) continue
    // Every fourth lookup starts from 3 random peers instead of the origin's nearest: more hops.
    const l = i % 4 === 3
      ? new Lookup<Peer>(key, [0, 1, 2].map(() => ({ id: net.nodes[Math.floor(r() * 500)]!.id })), {}, 0, origin.id)
      : lookupFrom(net, origin, key)
    const res = run(t, net, l, origin.id)
    if (l.state !== 'found') { t.fail(`target ${i} not found: ${l.state}`); continue }
    t.ok(net.records.get(toHex(key))!.has(toHex(l.foundBy!.id)), 'foundBy holds the record')
    t.equal(new Set(res.queried).size, res.queried.length, 'nobody queried twice')
    totalQueries += l.stats.queries
    maxHops = Math.max(maxHops, l.stats.hops)
    maxQueries = Math.max(maxQueries, l.stats.queries)
    t.ok(l.stats.hops >= 1 && l.stats.hops <= LOG2N, `hops ${l.stats.hops} ≤ log2 N`)
    t.ok(l.stats.queries <= 32)
    t.equal(l.nextDeadline(), undefined)
    t.same(l.poll(res.end + 1), [], 'a finished lookup queries nobody')
  }
  t.ok(totalQueries / n < 10, `mean queries ${(totalQueries / n).toFixed(2)}, max ${maxQueries}, max hops ${maxHops}`)
})

t.test('not found: exhausted with bounded queries, and closest() are the true nearest', async t => {
  const r = prng(2)
  const net = new Net(500, r)
  for (let i = 0; i < 50; i++) {
    const key = sha(`absent-${i}`)
    const origin = net.nodes[Math.floor(r() * 500)]!
    const l = lookupFrom(net, origin, key)
    run(t, net, l, origin.id)
    t.equal(l.state, 'exhausted')
    t.ok(l.stats.queries >= 8 && l.stats.queries <= 32, `queries ${l.stats.queries}`)
    t.ok(l.stats.hops <= LOG2N)
    t.same(l.closest(8).map(p => toHex(p.id)), net.nearest(key, 8, origin.id).map(x => toHex(x.id)), 'the 8 nearest answered')
  }
  const origin = net.nodes[0]!
  const capped = lookupFrom(net, origin, sha('absent-capped'), { maxQueries: 5 })
  run(t, net, capped, origin.id)
  t.equal(capped.state, 'exhausted')
  t.equal(capped.stats.queries, 5, 'maxQueries reached')
})

t.test('unresponsive and failing nodes: slots free up after the timeout and lookups finish', async t => {
  const r = prng(3)
  const net = new Net(500, r)
  for (const node of net.nodes) {
    const x = r()
    node.behaviour = x < 0.2 ? 'silent' : x < 0.3 ? 'error' : 'ok'
  }
  let found = 0
  let reachable = 0
  let timeouts = 0
  for (let i = 0; i < 100; i++) {
    const key = sha(`key-${i}`)
    const holders = net.store(key, 3)
    const origin = net.nodes[Math.floor(r() * 500)]!
    const l = lookupFrom(net, origin, key)
    const res = run(t, net, l, origin.id)
    t.ok(l.state === 'found' || l.state === 'exhausted', l.state)
    t.ok(res.end < 10_000, 'finished before the deadline')
    t.ok(l.stats.queries <= 32)
    timeouts += l.stats.timeouts
    if (holders.some(h => h.behaviour === 'ok')) reachable++
    if (l.state === 'found') found++
  }
  t.ok(timeouts > 0, `${timeouts} timeouts`)
  t.equal(found, reachable, `${found} of ${reachable} reachable records found`)
})

t.test('alpha = 1: a silent first peer frees its slot after queryTimeoutMs', async t => {
  const r = prng(4)
  const net = new Net(500, r)
  const key = sha('key-silent')
  net.store(key, 3)
  const origin = net.nodes[0]!
  const seeds = origin.table.closest(key, 8)
  net.byHex.get(toHex(seeds[0]!.id))!.behaviour = 'silent'
  const l = new Lookup<Peer>(key, seeds, { alpha: 1 }, 1000, origin.id)
  t.same(l.poll(1000).map(p => toHex(p.id)), [toHex(seeds[0]!.id)], 'nearest seed first')
  t.equal(l.nextDeadline(), 3000, 'its timeout')
  t.same(l.poll(2999), [], 'slot still taken')
  const next = l.poll(3000)
  t.same(next.map(p => toHex(p.id)), [toHex(seeds[1]!.id)], 'timed out: the next one')
  t.equal(l.stats.timeouts, 1)
  t.notOk(l.onCloser(seeds[0]!.id, [], 3001), 'a late reply is ignored')
  l.onFailure(next[0]!.id, 3010)
  const res = run(t, net, l, origin.id, 3010)
  t.equal(l.state, 'found')
  t.ok(res.end > 3000)
  t.equal(l.stats.timeouts, 1)
  t.equal(l.stats.failures, 1)
})

t.test('the overall deadline yields timed-out', async t => {
  const r = prng(5)
  const net = new Net(200, r)
  for (const node of net.nodes) node.behaviour = 'silent'
  const origin = net.nodes[0]!
  const key = sha('never')
  const l = new Lookup<Peer>(key, origin.table.closest(key, 40), {}, 0, origin.id)
  const res = run(t, net, l, origin.id)
  t.equal(l.state, 'timed-out')
  t.equal(res.end, 10_000)
  t.equal(l.stats.queries, 15, 'five rounds of alpha')
  t.equal(l.stats.timeouts, 12, 'the last round hit the deadline')
  t.equal(l.nextDeadline(), undefined)
  t.equal(l.foundBy, undefined)
  t.notOk(l.onFound(l.closest(1)[0]?.id ?? origin.id, 10_001))

  // Replies that come too slowly: every query times out, the deadline still ends it.
  const slow = new Lookup<Peer>(key, origin.table.closest(key, 40), { queryTimeoutMs: 500, deadlineMs: 1200 }, 0)
  const sent = slow.poll(0)
  t.equal(slow.nextDeadline(), 500)
  t.notOk(slow.onCloser(sent[0]!.id, [], 600), 'after the query timeout')
  t.equal(slow.stats.timeouts, 3)
  t.equal(slow.poll(600).length, 3)
  t.same(slow.poll(1200), [])
  t.equal(slow.state, 'timed-out')
})

t.test('a spoofed or repeated reply changes nothing', async t => {
  const r = prng(6)
  const net = new Net(100, r)
  const origin = net.nodes[0]!
  const key = sha('spoof')
  const seeds = origin.table.closest(key, 8)
  const l = new Lookup<Peer>(key, seeds, {}, 0, origin.id)
  const sent = l.poll(0)
  t.equal(sent.length, 3)
  const before = { known: l.known, stats: l.stats, deadline: l.nextDeadline() }
  const bait = Array.from({ length: 20 }, (_, i) => {
    const id = key.slice(); id[31] = id[31]! ^ (i + 1); return { id }
  })
  const stranger = sha('stranger')
  t.notOk(l.onCloser(seeds[5]!.id, bait, 1), 'known but not queried')
  t.notOk(l.onCloser(stranger, bait, 1), 'unknown')
  t.notOk(l.onFound(seeds[5]!.id, 1))
  t.notOk(l.onFound(stranger, 1))
  t.notOk(l.onFailure(stranger, 1))
  t.equal(l.state, 'running')
  t.same({ known: l.known, stats: l.stats, deadline: l.nextDeadline() }, before)
  t.same(l.poll(2), [], 'still alpha in flight')

  t.ok(l.onCloser(sent[0]!.id, [], 3), 'a queried peer answers')
  t.notOk(l.onCloser(sent[0]!.id, bait, 4), 'a second reply from it is ignored')
  t.notOk(l.onFound(sent[0]!.id, 4))
  t.equal(l.known, before.known)
  const more = l.poll(5)
  t.equal(more.length, 1)
  t.notOk(more.some(p => bait.some(b => toHex(b.id) === toHex(p.id))), 'no bait queried')
})

t.test('self is never queried, even as a seed or in replies', async t => {
  const self = sha('self')
  const others = Array.from({ length: 10 }, (_, i) => ({ id: sha(`o${i}`) }))
  const key = self.slice(); key[31] = key[31]! ^ 1 // self is the nearest to the key
  const l = new Lookup<Peer>(key, [{ id: self }, ...others.slice(0, 2)], { alpha: 3 }, 0, self)
  const sent = l.poll(0)
  t.equal(sent.length, 2)
  t.notOk(sent.some(p => toHex(p.id) === toHex(self)))
  t.ok(l.onCloser(sent[0]!.id, [{ id: self }, { id: self.slice() }, ...others.slice(2)], 10))
  const seen = [...sent]
  for (let now = 20; !l.done && now < 1000; now += 10) {
    const q = l.poll(now)
    seen.push(...q)
    for (const p of q) l.onCloser(p.id, [{ id: self }], now + 1)
  }
  t.equal(l.state, 'exhausted')
  t.notOk(seen.some(p => toHex(p.id) === toHex(self)))
  t.equal(l.closest(20).length, 8, 'the k nearest answered')
})

t.test('memory is bounded: candidates capped, oversized replies truncated', async t => {
  const key = sha('mem')
  const r = prng(8)
  const rand = (): Peer => ({ id: Uint8Array.from({ length: ID_BYTES }, () => Math.floor(r() * 256)) })
  const l = new Lookup<Peer>(key, Array.from({ length: 500 }, rand), { k: 8, maxQueries: 32 }, 0)
  t.equal(l.known, l.maxCandidates, 'seeds capped at 8k')
  let inFlight = l.poll(0)
  for (let now = 1; !l.done && now < 10_000; now++) {
    const next: Peer[] = []
    for (const p of inFlight) {
      t.ok(l.known <= l.maxCandidates + 32)
      // Each reply: 1000 peers, some closer than anything so far (flip only low bits).
      const reply = Array.from({ length: 1000 }, () => {
        const id = key.slice(); id[28] = Math.floor(r() * 256); id[31] = Math.floor(r() * 256); return { id }
      })
      l.onCloser(p.id, reply, now)
      next.push(...l.poll(now))
    }
    inFlight = next
  }
  t.ok(l.known <= l.maxCandidates + 32, `known ${l.known}`)
  t.equal(l.state, 'exhausted')
  t.ok(l.stats.queries <= 32)
  const depths = l.stats.hops
  t.ok(depths > 1, `deepest ${depths}`)

  const wrong = new Lookup<Peer>(key, [{ id: sha('a') }], {}, 0)
  const [a] = wrong.poll(0)
  t.ok(wrong.onCloser(a!.id, [{ id: new Uint8Array(5) }, { id: sha('b') }], 1), 'reply accepted')
  t.equal(wrong.known, 2, 'malformed IDs skipped')
})

t.test('edges: empty seeds, found at a seed, hops, options', async t => {
  const key = sha('edge')
  const none = new Lookup<Peer>(key, [], {}, 0)
  t.equal(none.state, 'exhausted')
  t.ok(none.done)
  t.same(none.poll(1), [])

  const seeds = Array.from({ length: 4 }, (_, i) => ({ id: sha(`s${i}`) }))
  const l = new Lookup<Peer>(key, seeds, {}, 0)
  const sent = l.poll(0)
  t.ok(l.onCloser(sent[1]!.id, [{ id: sha('deep') }], 5))
  t.ok(l.onFound(sent[0]!.id, 7))
  t.equal(l.state, 'found')
  t.equal(l.foundBy, sent[0])
  t.equal(l.stats.hops, 1, 'found at a seed: one hop')
  t.equal(l.stats.queries, 3)
  t.notOk(l.onCloser(sent[2]!.id, [], 8), 'done: further replies ignored')

  const d = new Lookup<Peer>(key, seeds, { alpha: 1 }, 0)
  const [s0] = d.poll(0)
  const deep = { id: key.slice() }; deep.id[31] = deep.id[31]! ^ 1
  d.onCloser(s0!.id, [deep], 1)
  const [n1] = d.poll(1)
  t.equal(n1, deep, 'the closer peer is queried next')
  t.ok(d.onFound(deep.id, 2))
  t.equal(d.stats.hops, 2)

  for (const bad of [{ alpha: 0 }, { k: 1.5 }, { queryTimeoutMs: -1 }, { deadlineMs: Number.NaN }, { maxQueries: 0 }]) {
    t.throws(() => new Lookup<Peer>(key, [], bad, 0), ConfigError)
  }
  t.throws(() => new Lookup<Peer>(key, [{ id: new Uint8Array(3) }], {}, 0), ConfigError)
})
