/**
 * The admission rule (`src/accounting/admission.ts`): free in excess, nothing at exhaustion, and
 * in between served by priority bounded by credit, lowest first dropped.
 */
import t from 'tap'
import fc from 'fast-check'
import { EARLY_BAND, ceiling, decide, earlyDropChance } from '../../src/accounting/admission.ts'
import { HARD_LOAD } from '../../src/accounting/load.ts'

t.test('excess: everyone is served free, whatever their credit or offer', async t => {
  for (const load of [0, 0.5, 0.999]) {
    t.same(decide(load, 0, 0, 4), { ok: true, free: true, effective: 0 })
    t.same(decide(load, 100, 0, 4), { ok: true, free: true, effective: 0 })
  }
})

t.test('exhausted: nobody is served', async t => {
  for (const load of [HARD_LOAD, 3, 100]) {
    const d = decide(load, 65535, 1e9, 4)
    t.equal(d.ok, false)
    t.equal(d.reason, 'exhausted')
  }
})

t.test('scarce: a peer without credit gets nothing, however much it offers', async t => {
  const d = decide(1, 65535, 0, 4)
  t.equal(d.ok, false)
  t.equal(d.reason, 'priority')
  t.equal(d.effective, 0)
})

t.test('scarce: the offer is bounded by credit and charged', async t => {
  const d = decide(1.1, 100, 7, 4)
  t.same(d, { ok: true, free: false, effective: 7 })
  t.equal(decide(1.1, 3, 1000, 4).effective, 3, 'credit above the offer: the offer counts')
})

t.test('scarce: higher effective priorities are served deeper into scarcity', async t => {
  t.equal(ceiling(0, 4), 1)
  t.ok(ceiling(1, 4) < ceiling(4, 4))
  t.ok(ceiling(4, 4) < ceiling(100, 4))
  t.ok(ceiling(1e9, 4) < HARD_LOAD)
  // At load 1.3 with the going price 4: priority 1 (ceiling 1.2) is dropped, priority 4 (1.5) served.
  t.equal(decide(1.3, 1, 10, 4).ok, false)
  t.equal(decide(1.3, 4, 10, 4).ok, true)
  fc.assert(fc.property(fc.double({ min: 1, max: 1.999, noNaN: true }), fc.nat(1000), fc.nat(1000), fc.nat(100),
    (load, a, b, price) => {
      // Monotonic: whoever is served at some load with effective priority a is also served with any b >= a.
      const lo = Math.min(a, b)
      const hi = Math.max(a, b)
      return !decide(load, lo, lo, price).ok || decide(load, hi, hi, price).ok
    }))
})

t.test('early drop: none below the top half of a priority\'s band, rising to certain at its ceiling', async t => {
  const top = ceiling(4, 0)
  const from = top - EARLY_BAND * (top - 1)
  t.equal(earlyDropChance(1.0, 4, 0), 0, 'none at load 1')
  t.equal(earlyDropChance(from, 4, 0), 0, 'none at the bottom of the early band')
  t.ok(Math.abs(earlyDropChance((from + top) / 2, 4, 0) - 0.5) < 1e-9, 'half way up the band: one in two')
  t.equal(earlyDropChance(top, 4, 0), 1, 'certain at the ceiling')
  t.ok(earlyDropChance(1.5, 40, 0) < earlyDropChance(1.5, 4, 0), 'a higher priority is dropped less at the same load')
})
