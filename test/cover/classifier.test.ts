/**
 * The observer's threshold classifier: about 0.5 on two samples of one distribution, 1 on clearly
 * separated ones (whichever is higher), in between for overlapping ones; the train/test split;
 * argument checks; and counting events per window. Seeded randomness only.
 */
import t from 'tap'
import { countsPerWindow, thresholdAccuracy } from '../../src/cover/classifier.ts'
import { prng } from '../fixtures/prng.ts'


/** `n` Poisson(`lambda`) counts (Knuth's method; fine for lambda up to a few hundred). */
function poissonCounts (lambda: number, n: number, random: () => number): number[] {
  const limit = Math.exp(-lambda)
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    let k = 0
    let p = random()
    while (p > limit) { k++; p *= random() }
    out.push(k)
  }
  return out
}

t.test('about 0.5 on two samples of one distribution', async t => {
  const accs: number[] = []
  for (let seed = 1; seed <= 20; seed++) {
    const r = prng(seed)
    accs.push(thresholdAccuracy(poissonCounts(100, 200, r), poissonCounts(100, 200, r)))
  }
  const mean = accs.reduce((a, b) => a + b, 0) / accs.length
  t.ok(mean > 0.45 && mean < 0.55, `mean accuracy over 20 pairs: ${mean}`)
  t.ok(accs.every(a => a <= 0.65), `each at most 0.65: ${accs.join(', ')}`)
})

t.test('1 on clearly separated samples, whichever is higher', async t => {
  const r = prng(2)
  const low = poissonCounts(20, 200, r)
  const high = poissonCounts(200, 200, r)
  t.equal(thresholdAccuracy(low, high), 1)
  t.equal(thresholdAccuracy(high, low), 1)
  t.equal(thresholdAccuracy([0, 0, 0, 0], [1, 1, 1, 1]), 1)
  t.equal(thresholdAccuracy([5, 5, 5, 5], [5, 5, 5, 5]), 0.5, 'identical constants: a coin toss')
})

t.test('in between for overlapping samples', async t => {
  const r = prng(3)
  // Poisson(100) vs Poisson(120): the best cut near 110 is right about 83% of the time.
  const acc = thresholdAccuracy(poissonCounts(100, 400, r), poissonCounts(120, 400, r))
  t.ok(acc > 0.75 && acc < 0.9, `accuracy ${acc}`)
})

t.test('trains on even indices and tests on odd ones', async t => {
  // On even indices a < b; on odd indices the classes are swapped, so the trained rule is always wrong.
  t.equal(thresholdAccuracy([0, 10, 0, 10], [10, 0, 10, 0]), 0)
  // Balanced: the mean of per-class accuracies, whatever the sample sizes.
  const acc = thresholdAccuracy([0, 0, 0, 0, 0, 0, 0, 0, 0, 10], [10, 10, 10, 10])
  t.equal(acc, 0.9, 'class a: 4 of 5 right; class b: 2 of 2')
})

t.test('argument checks', async t => {
  t.throws(() => thresholdAccuracy([1, 2, 3], [1, 2, 3, 4]), RangeError)
  t.throws(() => thresholdAccuracy([1, 2, 3, 4], []), RangeError)
  t.throws(() => thresholdAccuracy([1, 2, Number.NaN, 4], [1, 2, 3, 4]), RangeError)
  t.throws(() => thresholdAccuracy([1, 2, 3, 4], [1, Infinity, 3, 4]), RangeError)
  t.throws(() => countsPerWindow([], 0, 0, 3), RangeError)
  t.throws(() => countsPerWindow([], 0, Number.NaN, 3), RangeError)
  t.throws(() => countsPerWindow([], 0, Infinity, 3), RangeError)
  t.throws(() => countsPerWindow([], 0, 10, -1), RangeError)
  t.throws(() => countsPerWindow([], 0, 10, 1.5), RangeError)
})

t.test('countsPerWindow: half-open windows from start; times outside are ignored', async t => {
  t.same(countsPerWindow([1000, 1999.9, 2000, 2500, 4999, 5000, 999, -3], 1000, 1000, 4), [2, 2, 0, 1])
  t.same(countsPerWindow([5, 5, 5], 0, 10, 1), [3])
  t.same(countsPerWindow([1, 2, 3], 0, 10, 0), [])
  t.same(countsPerWindow([], 0, 250, 3), [0, 0, 0])
})
