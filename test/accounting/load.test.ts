/**
 * The load monitors on virtual time: the rate, count and delay curves at their boundary points
 * (exactly 1 at the excess point, HARD_LOAD at exhaustion), refill and decay over time, unlimited
 * resources, argument checks.
 */
import t from 'tap'
import fc from 'fast-check'
import { DelayMonitor, GaugeMonitor, HARD_LOAD, RateMonitor, Resource } from '../../src/accounting/load.ts'
import { ConfigError, LimitError } from '../../src/util/errors.ts'

t.test('the resource names and the hard load', async t => {
  t.equal(HARD_LOAD, 2)
  t.same(Object.values(Resource).sort(), ['build', 'down', 'lookup', 'queue', 'transit', 'up'])
})

t.test('rate monitor: 0 when idle, 1 at the excess point, HARD_LOAD when empty', async t => {
  const m = new RateMonitor(1000, 0) // burst 1000 bytes, excess 0.5
  t.equal(m.bucket.burst, 1000)
  t.equal(m.load(0), 0)
  m.spend(250, 0)
  t.equal(m.load(0), 0.5)
  m.spend(250, 0)
  t.equal(m.load(0), 1, 'half the burst used: exactly 1')
  t.ok(m.trySpend(500, 0))
  t.equal(m.load(0), HARD_LOAD, 'empty: exactly HARD_LOAD')
  t.notOk(m.trySpend(1, 0), 'nothing optional when empty')
  m.spend(500, 0)
  t.equal(m.load(0), 3, 'overdrawn by received traffic: beyond HARD_LOAD')
  m.spend(1e6, 0)
  t.equal(m.load(0), 4, 'at most 4, the floor of the bucket')
  t.equal(m.load(1000), HARD_LOAD, 'one second of refill repays the debt')
  t.equal(m.load(1500), 1)
  t.equal(m.load(10_000), 0, 'idle again')
})

t.test('rate monitor: burstSec and excess', async t => {
  const m = new RateMonitor(100, 0, { burstSec: 4, excess: 0.8 })
  t.equal(m.bucket.burst, 400)
  m.spend(160, 0)
  t.equal(m.load(0), 0.5)
  m.spend(160, 0)
  t.equal(m.load(0), 1, 'exactly 1 at 80% used')
  m.spend(40, 0)
  t.equal(m.load(0), 1.5, 'halfway from the excess point to empty')
  m.spend(40, 0)
  t.equal(m.load(0), HARD_LOAD, 'exactly HARD_LOAD when empty')
  t.ok(m.load(1) < HARD_LOAD, 'and below it as soon as it refills')
})

t.test('rate monitor: load is monotone in what was spent (property)', async t => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 1e7 }),
    fc.double({ min: 0.05, max: 0.95, noNaN: true }),
    fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 20 }),
    (rate, excess, spends) => {
      const m = new RateMonitor(rate, 0, { excess })
      let prev = m.load(0)
      for (const s of spends) {
        m.spend(s * rate, 0)
        const l = m.load(0)
        if (l < prev || l < 0) return false
        const used = m.bucket.used(0)
        if (used <= excess && l >= 1 + 1e-12) return false
        if (used >= excess && l < 1 - 1e-12) return false
        prev = l
      }
      return true
    }
  ))
})

t.test('rate monitor: unlimited rates have load 0', async t => {
  for (const rate of [0, Infinity]) {
    const m = new RateMonitor(rate, 0)
    m.spend(1e12, 0)
    t.ok(m.trySpend(1e12, 0))
    t.equal(m.load(0), 0, `rate ${rate}`)
  }
})

t.test('rate monitor: argument checks', async t => {
  t.throws(() => new RateMonitor(-1, 0), ConfigError)
  t.throws(() => new RateMonitor(Number.NaN, 0), ConfigError)
  t.throws(() => new RateMonitor(100, 0, { burstSec: 0 }), ConfigError)
  t.throws(() => new RateMonitor(100, 0, { burstSec: Infinity }), ConfigError)
  t.throws(() => new RateMonitor(100, 0, { excess: 0 }), ConfigError)
  t.throws(() => new RateMonitor(100, 0, { excess: 1 }), ConfigError)
  t.throws(() => new RateMonitor(100, 0).spend(-1, 0), LimitError)
})

t.test('gauge monitor: linear to 1 at excess * limit, HARD_LOAD at the limit', async t => {
  const g = new GaugeMonitor(100) // excess 0.8
  t.equal(g.load(0), 0)
  g.set(40)
  t.equal(g.value, 40)
  t.equal(g.load(0), 0.5)
  g.set(80)
  t.equal(g.load(0), 1, 'exactly 1 at 80')
  g.set(90)
  t.equal(g.load(0), 1.5)
  g.set(100)
  t.equal(g.load(0), HARD_LOAD, 'exactly HARD_LOAD at the limit')
  g.set(110)
  t.ok(Math.abs(g.load(0) - 2.5) < 1e-12, 'beyond the limit: beyond HARD_LOAD')
  g.set(0)
  t.equal(g.load(0), 0)
  const h = new GaugeMonitor(10, { excess: 0.5 })
  h.set(5)
  t.equal(h.load(0), 1)
  h.set(10)
  t.equal(h.load(0), HARD_LOAD)
  fc.assert(fc.property(fc.integer({ min: 1, max: 1e6 }), fc.double({ min: 0.01, max: 0.99, noNaN: true }), (limit, excess) => {
    const m = new GaugeMonitor(limit, { excess })
    m.set(excess * limit)
    const atKnee = m.load(0)
    m.set(limit)
    return atKnee === 1 && m.load(0) === HARD_LOAD
  }))
})

t.test('gauge monitor: limit 0 is always exhausted, Infinity never loaded', async t => {
  const z = new GaugeMonitor(0)
  t.equal(z.load(0), HARD_LOAD)
  z.set(0)
  t.equal(z.load(0), HARD_LOAD)
  const u = new GaugeMonitor(Infinity)
  u.set(1e9)
  t.equal(u.load(0), 0)
  t.throws(() => new GaugeMonitor(-1), ConfigError)
  t.throws(() => new GaugeMonitor(1.5), ConfigError)
  t.throws(() => new GaugeMonitor(Number.NaN), ConfigError)
  t.throws(() => new GaugeMonitor(10, { excess: 1.2 }), ConfigError)
  t.throws(() => u.set(-1), LimitError)
  t.throws(() => u.set(Number.NaN), LimitError)
})

t.test('delay monitor: running average (7 * avg + d) / 8, load avg / target', async t => {
  const d = new DelayMonitor(100)
  t.equal(d.load(0), 0)
  d.record(800, 0)
  t.equal(d.load(0), 1, 'avg 100 = target')
  d.record(100, 0)
  t.equal(d.load(0), 1)
  d.record(900, 100)
  t.equal(d.load(100), 2, 'avg (700 + 900) / 8 = 200')
  d.record(-50, 100)
  t.equal(d.load(100), 1.75, 'a negative delay counts as 0')
  const s = new DelayMonitor(50)
  for (let i = 0; i < 200; i++) s.record(50, i)
  t.ok(Math.abs(s.load(200) - 1) < 1e-9, 'a steady delay at the target converges to load 1')
  t.throws(() => s.record(Number.NaN, 0), LimitError)
  t.throws(() => s.record(Infinity, 0), LimitError)
  t.throws(() => new DelayMonitor(0), ConfigError)
  t.throws(() => new DelayMonitor(-1), ConfigError)
  t.throws(() => new DelayMonitor(Infinity), ConfigError)
})

t.test('delay monitor: decays by 7/8 per full 250 ms without samples', async t => {
  const d = new DelayMonitor(100)
  d.record(8 * 512, 1000) // avg 512
  t.equal(d.load(1000), 5.12)
  t.equal(d.load(1249), 5.12, 'no decay before 250 ms')
  t.equal(d.load(1250), 4.48, '512 * 7/8 = 448')
  t.equal(d.load(1499), 4.48)
  t.equal(d.load(1500), 3.92, '448 * 7/8 = 392')
  t.ok(Math.abs(d.load(1000 + 250 * 10) - 5.12 * (7 / 8) ** 10) < 1e-12, 'ten periods')
  t.ok(d.load(1000 + 3_600_000) < 1e-100, 'an hour idle: gone')
  t.equal(d.load(500), 5.12, 'time going backwards decays nothing')
  d.record(0, 1500) // decayed to 392 first, then (7 * 392 + 0) / 8 = 343
  t.equal(d.load(1500), 3.43)
  t.equal(d.load(1749), 3.43, 'the sample restarts the decay period')
  t.equal(d.load(1750), 3.43 * 7 / 8)
  d.record(0, 1600) // earlier than nothing: 343 * 7 / 8 = 300.125, no decay
  t.equal(d.load(1600), 3.00125)
})

t.test('rate monitor: setRate keeps how full the bucket is; 0 makes it unlimited', async t => {
  const m = new RateMonitor(1000, 0)
  m.spend(500, 0)
  t.equal(m.load(0), 1)
  m.setRate(2000, 0)
  t.equal(m.load(0), 1, 'half used stays half used')
  t.equal(m.bucket.burst, 2000, 'one second of the new rate')
  m.setRate(0, 0)
  t.equal(m.load(0), 0)
  t.ok(m.bucket.unlimited)
  t.throws(() => { m.setRate(-1, 0) }, ConfigError)
})
