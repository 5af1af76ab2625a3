/** Property tests: open() never throws, whatever the bytes; mutated genuine messages never open. */
import t from 'tap'
import fc from 'fast-check'
import { FLAG_LEASE_SET, TYPE_ANON, TYPE_ES, TYPE_NS, TYPE_NSR } from '../../src/garlic/layout.ts'
import { establish, NOW, peer, suite } from './fixtures.ts'

const c = await suite('garlic-fuzz')
const a = peer(c)
const b = peer(c)
establish(a, b)

const typeByte = fc.constantFrom(TYPE_ES, TYPE_NS, TYPE_NSR, TYPE_ANON, TYPE_ES | FLAG_LEASE_SET, TYPE_NSR | FLAG_LEASE_SET, 0, 0xff)

t.test('random bytes (with and without a plausible type byte) never throw out of open()', async t => {
  const before = b.g.stats.opened
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
    t.equal(b.g.open(bytes, NOW), undefined)
  }), { numRuns: 500 })
  fc.assert(fc.property(typeByte, fc.uint8Array({ minLength: 0, maxLength: 1200 }), (type, rest) => {
    const m = new Uint8Array(1 + rest.length)
    m[0] = type
    m.set(rest, 1)
    t.equal(b.g.open(m, NOW), undefined)
  }), { numRuns: 500 })
  t.equal(b.g.stats.opened, before)
})

t.test('genuine messages with random mutations never throw and never open', async t => {
  fc.assert(fc.property(
    fc.constantFrom('ns', 'es', 'anon'),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
    (kind, payload, flips) => {
      const to = b.keys.destination
      const m = kind === 'ns' ? peer(c).g.seal(to, payload, NOW) : kind === 'es' ? a.g.seal(to, payload, NOW) : a.g.sealAnonymous(to, payload)
      const bad = m.slice()
      for (const [pos, x] of flips) bad[pos % bad.length]! ^= x
      t.equal(b.g.open(bad, NOW), undefined)
      if (kind !== 'ns') t.same(b.g.open(m, NOW)?.payload, payload, 'the genuine message still opens')
    }), { numRuns: 200 })
})
