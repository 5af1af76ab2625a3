/**
 * The token bucket on virtual time: refill up to the burst, take and force, the floor at
 * -burst, waitMs, time going backwards, unlimited rates, changing the rate, argument checks.
 */
import t from 'tap'
import fc from 'fast-check'
import { TokenBucket } from '../../src/util/token-bucket.ts'
import { ConfigError, LimitError } from '../../src/util/errors.ts'

t.test('starts full and refills at the rate, up to the burst', async t => {
  const b = new TokenBucket(100, 50, 1000)
  t.equal(b.rate, 100)
  t.equal(b.burst, 50)
  t.equal(b.unlimited, false)
  t.equal(b.tokens(1000), 50, 'full')
  t.ok(b.take(50, 1000))
  t.equal(b.tokens(1000), 0)
  t.equal(b.tokens(1100), 10, '100/s for 100 ms')
  t.equal(b.tokens(1250), 25)
  t.equal(b.tokens(5000), 50, 'never above the burst')
})

t.test('take takes only what is there', async t => {
  const b = new TokenBucket(10, 10, 0)
  t.ok(b.take(4, 0))
  t.ok(b.take(6, 0))
  t.notOk(b.take(1, 0), 'empty')
  t.equal(b.tokens(0), 0, 'a refused take takes nothing')
  t.notOk(b.take(1, 99))
  t.ok(b.take(1, 100), 'one token after 100 ms')
  t.notOk(b.take(11, 100_000), 'more than the burst: never')
  t.ok(b.take(0, 100_000))
  t.throws(() => b.take(-1, 0), LimitError)
  t.throws(() => b.take(Number.NaN, 0), LimitError)
  t.throws(() => b.force(Infinity, 0), LimitError)
})

t.test('force overdraws down to -burst, and the debt is repaid first', async t => {
  const b = new TokenBucket(10, 10, 0)
  b.force(15, 0)
  t.equal(b.tokens(0), -5)
  t.equal(b.used(0), 1.5)
  b.force(100, 0)
  t.equal(b.tokens(0), -10, 'floor at -burst')
  t.equal(b.used(0), 2)
  t.notOk(b.take(1, 1000), 'after 1 s (10 tokens) the debt is only repaid')
  t.equal(b.tokens(1000), 0)
  t.ok(b.take(1, 1100))
  t.equal(b.tokens(3000), 10)
})

t.test('used is the fraction of the burst used, clamped to [0, 2]', async t => {
  const b = new TokenBucket(1000, 200, 0)
  t.equal(b.used(0), 0)
  b.take(50, 0)
  t.equal(b.used(0), 0.25)
  b.force(150, 0)
  t.equal(b.used(0), 1)
  b.force(1000, 0)
  t.equal(b.used(0), 2)
  t.equal(b.used(100), 1.5, '100 tokens back')
})

t.test('waitMs: whole ms until n tokens, 0 if now, Infinity above the burst', async t => {
  const b = new TokenBucket(10, 10, 0)
  t.equal(b.waitMs(10, 0), 0)
  t.equal(b.waitMs(11, 0), Infinity)
  b.take(10, 0)
  t.equal(b.waitMs(1, 0), 100)
  t.equal(b.waitMs(10, 0), 1000)
  t.equal(b.waitMs(0.5, 0), 50)
  t.equal(b.waitMs(1, 30), 70)
  b.force(10, 30) // 0.3 - 10 → -9.7
  t.equal(b.waitMs(1, 30), 1070)
  const c = new TokenBucket(3, 5, 0)
  c.take(5, 0)
  t.equal(c.waitMs(1, 0), 334, 'rounded up: 333.3 ms')
  t.notOk(c.take(1, 333))
  t.ok(c.take(1, 334))
})

t.test('waiting waitMs is always enough, and one ms less is not (property)', async t => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 1_000_000 }),
    fc.integer({ min: 1, max: 100_000 }),
    fc.double({ min: 0, max: 1, noNaN: true }),
    fc.double({ min: 0, max: 2, noNaN: true }),
    fc.double({ min: 0, max: 1e9, noNaN: true }),
    (rate, burst, fillFrac, needFrac, start) => {
      const b = new TokenBucket(rate, burst, start)
      b.force(burst * (2 - 2 * fillFrac), start) // anywhere from -burst to full
      const n = Math.min(burst, burst * needFrac)
      const w = b.waitMs(n, start)
      if (!Number.isInteger(w) || w < 0) return false
      if (w > 0) {
        const probe = new TokenBucket(rate, burst, start)
        probe.force(burst * (2 - 2 * fillFrac), start)
        if (probe.tokens(start + w - 1) >= n + 1e-9 * burst) return false
      }
      return b.take(n, start + w)
    }
  ))
})

t.test('time going backwards neither adds nor removes tokens', async t => {
  const b = new TokenBucket(10, 10, 10_000)
  b.take(10, 10_000)
  t.equal(b.tokens(9_000), 0, 'a second back: nothing')
  t.equal(b.tokens(10_000), 0, 'back to where it was: nothing either')
  t.equal(b.tokens(10_500), 5, 'the refill resumes from the latest time seen')
  t.equal(b.tokens(10_200), 5)
  t.equal(b.used(0), 0.5)
  t.notOk(b.take(6, 0))
  t.ok(b.take(5, 0))
  t.equal(b.waitMs(1, 10_400), 200, 'a wait counts from the latest time seen')
  t.equal(b.tokens(10_600), 1)
})

t.test('rate Infinity is unlimited; rate 0 gives its burst once', async t => {
  const once = new TokenBucket(0, 2, 0)
  t.equal(once.unlimited, false)
  t.ok(once.take(2, 0))
  t.notOk(once.take(1, 1e9), 'never refills')
  t.equal(once.waitMs(1, 0), Infinity)
  for (const rate of [Infinity]) {
    const b = new TokenBucket(rate, 1, 0)
    t.equal(b.unlimited, true)
    t.equal(b.tokens(0), Infinity)
    t.ok(b.take(1e12, 0))
    b.force(1e12, 0)
    t.equal(b.tokens(0), Infinity)
    t.equal(b.used(0), 0)
    t.equal(b.waitMs(1e12, 0), 0)
  }
  t.equal(new TokenBucket(Infinity, 0, 0).unlimited, true, 'an unlimited bucket needs no burst')
})

t.test('set changes rate and burst, keeping the fill fraction', async t => {
  const b = new TokenBucket(10, 10, 0)
  b.take(7, 0)
  b.set(100, 100, 0)
  t.equal(b.rate, 100)
  t.equal(b.burst, 100)
  t.equal(b.tokens(0), 30, '30% full stays 30% full')
  t.equal(b.tokens(100), 40, 'at the new rate')
  b.force(140, 100)
  t.equal(b.tokens(100), -100)
  b.set(20, 10, 100)
  t.equal(b.tokens(100), -10, 'an overdraft scales too, within -burst')
  b.set(Infinity, 10, 100)
  t.equal(b.unlimited, true)
  t.ok(b.take(1000, 100))
  b.set(10, 10, 200)
  t.equal(b.unlimited, false)
  t.equal(b.tokens(200), 10, 'full after being unlimited')
  t.throws(() => b.set(-1, 10, 200), ConfigError)
  t.throws(() => b.set(10, 0, 200), ConfigError)
  t.equal(b.rate, 10, 'a refused set changes nothing')
  t.equal(b.tokens(200), 10)
})

t.test('constructor checks', async t => {
  t.throws(() => new TokenBucket(-1, 10, 0), ConfigError)
  t.throws(() => new TokenBucket(Number.NaN, 10, 0), ConfigError)
  t.throws(() => new TokenBucket(10, -1, 0), ConfigError)
  t.throws(() => new TokenBucket(10, Number.NaN, 0), ConfigError)
  t.throws(() => new TokenBucket(10, 0, 0), ConfigError)
  t.throws(() => new TokenBucket(10, Infinity, 0), ConfigError)
  t.throws(() => new TokenBucket(0, -1, 0), ConfigError)
  t.equal(new TokenBucket(0.5, 0.25, 0).tokens(0), 0.25, 'fractional rates and bursts are fine')
})
