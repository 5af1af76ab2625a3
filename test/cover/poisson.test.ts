/**
 * Poisson processes on virtual time: the exponential gaps' mean and spread, slot counts over long
 * runs, the per-call bound and resynchronisation after a stall, rate 0, rate changes, and that
 * polling often or rarely sees the same slots. Randomness is a seeded mulberry32, so every count
 * here is deterministic.
 */
import t from 'tap'
import fc from 'fast-check'
import { PoissonClock, exponentialMs } from '../../src/cover/poisson.ts'
import { ConfigError } from '../../src/util/errors.ts'
import { prng } from '../fixtures/prng.ts'


t.test('exponentialMs: mean 1000/rate and standard deviation equal to the mean', async t => {
  const random = prng(1)
  const n = 200_000
  let sum = 0
  let sumSq = 0
  let bad = 0
  for (let i = 0; i < n; i++) {
    const x = exponentialMs(50, random)
    if (!(x >= 0 && Number.isFinite(x))) bad++
    sum += x
    sumSq += x * x
  }
  t.equal(bad, 0, 'every draw is finite and >= 0')
  const mean = sum / n
  const sd = Math.sqrt(sumSq / n - mean * mean)
  // The mean's standard error is 20/sqrt(200k) = 0.045 ms: 1% (0.2 ms) is over 4 of them.
  t.ok(Math.abs(mean - 20) < 0.2, `mean ${mean} ms, expected 20`)
  t.ok(Math.abs(sd - 20) < 0.4, `standard deviation ${sd} ms, expected 20`)
  t.equal(exponentialMs(10, () => 0), 0, 'u = 0 gives a gap of 0')
  t.ok(Math.abs(exponentialMs(10, () => 1 - Math.exp(-1)) - 100) < 1e-9, 'u = 1 - 1/e gives the mean')
  t.ok(Number.isFinite(exponentialMs(1, () => 1 - 2 ** -53)), 'the largest u stays finite')
})

t.test('exponentialMs rejects rates that are not > 0', async t => {
  for (const rate of [0, -1, Number.NaN, Infinity]) {
    t.throws(() => exponentialMs(rate, Math.random), ConfigError, `rate ${rate}`)
  }
})

t.test('a clock yields rate × duration slots, with Poisson spread per second', async t => {
  const clock = new PoissonClock(20, prng(2), 0)
  const perSecond: number[] = []
  let now = 0
  for (let s = 0; s < 1000; s++) {
    let count = 0
    for (let k = 0; k < 100; k++) { now += 10; count += clock.due(now) }
    perSecond.push(count)
  }
  const total = perSecond.reduce((x, y) => x + y, 0)
  // Expect 20 000 slots, standard deviation 141: 3% is over 4 of them.
  t.ok(Math.abs(total - 20_000) < 600, `${total} slots in 1000 s at 20/s`)
  const mean = total / 1000
  const variance = perSecond.reduce((v, x) => v + (x - mean) ** 2, 0) / 999
  t.ok(variance > 16 && variance < 24, `per-second variance ${variance} close to the mean ${mean}`)
  t.ok(clock.next > now, 'the next slot is in the future')
})

t.test('a slot exactly at now is due; time going backwards yields nothing', async t => {
  const clock = new PoissonClock(10, prng(3), 1000)
  const at = clock.next
  t.ok(at > 1000)
  t.equal(clock.due(at - 1e-6), 0, 'just before the slot')
  t.ok(clock.due(at) >= 1, 'at the slot')
  t.ok(clock.next > at)
  t.equal(clock.due(0), 0, 'a past now')
  t.equal(clock.due(at), 0, 'the same now again')
})

t.test('due() reports at most max slots per call and resynchronises after a stall', async t => {
  const clock = new PoissonClock(1000, prng(4), 0)
  t.equal(clock.due(100_000, 50), 50, '100 000 slots due, 50 reported')
  t.ok(clock.next > 100_000, 'the rest are skipped: the next slot is after now')
  t.ok(clock.next - 100_000 < 50, `redrawn from now (${clock.next - 100_000} ms ahead)`)
  t.equal(clock.due(100_000), 0, 'nothing more at the same now')
  const d = new PoissonClock(1000, prng(5), 0)
  t.equal(d.due(1_000_000), 10_000, 'the default bound is 10 000')
  t.ok(d.next > 1_000_000)
  const z = new PoissonClock(1000, prng(6), 0)
  t.equal(z.due(5000, 0), 0, 'max 0 reports nothing')
  t.ok(z.next > 5000, 'and skips what was due')
  t.throws(() => z.due(6000, -1), ConfigError)
  t.throws(() => z.due(6000, 1.5), ConfigError)
  t.throws(() => z.due(6000, Number.NaN), ConfigError)
})

t.test('rate 0: no slots ever, until the rate changes', async t => {
  const clock = new PoissonClock(0, prng(7), 0)
  t.equal(clock.rate, 0)
  t.equal(clock.next, Infinity)
  t.equal(clock.due(1e12), 0)
  clock.setRate(10, 5000)
  t.equal(clock.rate, 10)
  t.ok(clock.next > 5000 && Number.isFinite(clock.next), 'the first slot is drawn from the change')
  let slots = 0
  for (let now = 5000; now <= 105_000; now += 100) slots += clock.due(now)
  t.ok(slots > 900 && slots < 1100, `${slots} slots in 100 s at 10/s`)
  clock.setRate(0, 200_000)
  t.equal(clock.next, Infinity)
  t.equal(clock.due(1e12), 0)
})

t.test('setRate draws the next slot afresh and drops slots not collected', async t => {
  const clock = new PoissonClock(1, prng(8), 0)
  clock.setRate(1000, 60_000)
  t.ok(clock.next > 60_000, 'slots of the old rate before the change are gone')
  t.equal(clock.due(60_000), 0)
})

t.test('bad rates are ConfigErrors', async t => {
  for (const rate of [-1, Number.NaN, Infinity, -Infinity]) {
    t.throws(() => new PoissonClock(rate, Math.random, 0), ConfigError, `constructor, rate ${rate}`)
    const c = new PoissonClock(1, Math.random, 0)
    t.throws(() => c.setRate(rate, 0), ConfigError, `setRate, rate ${rate}`)
  }
})

t.test('polling often or once sees the same slots (below the bound)', async t => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 2 ** 31 }),
    fc.double({ min: 0.1, max: 500, noNaN: true }),
    fc.array(fc.double({ min: 0, max: 200, noNaN: true }), { minLength: 1, maxLength: 40 }),
    (seed, rate, gaps) => {
      const often = new PoissonClock(rate, prng(seed), 0)
      const once = new PoissonClock(rate, prng(seed), 0)
      let now = 0
      let total = 0
      for (const gap of gaps) { now += gap; total += often.due(now) }
      return once.due(now) === total && once.next === often.next && often.next > now
    }), { numRuns: 500 })
  t.pass('500 random polling schedules')
})
