/**
 * An observer's classifier, for tests and benchmarks that measure what cover traffic hides: a
 * link observer counts cells per window (one feature: the count) and tries to tell two behaviours
 * apart (say, an idle user from a busy one) with the best single threshold on that count. An
 * accuracy near 0.5 means the counts do not give the behaviour away; near 1, they do. Pure, no
 * I/O. It is a weak observer on purpose (one feature, one threshold): a pass here is a floor, not
 * a proof; other features (inter-arrival times, burst lengths) can be fed in as the per-window
 * values instead of counts.
 */

/** Balanced accuracy of "class b when x > threshold" on the two samples: mean of per-class hit rates. */
function balanced (a: readonly number[], b: readonly number[], threshold: number): number {
  let aHits = 0
  for (const x of a) if (x <= threshold) aHits++
  let bHits = 0
  for (const x of b) if (x > threshold) bHits++
  return (aHits / a.length + bHits / b.length) / 2
}

/** The values at even (`parity` 0) or odd (1) indices. */
function every2 (xs: readonly number[], parity: 0 | 1): number[] {
  return xs.filter((_, i) => i % 2 === parity)
}

/**
 * Accuracy (0..1) of the best single-threshold classifier telling two samples of per-window values
 * (e.g. per-second cell counts) apart. It trains threshold and direction on the even-indexed
 * values of both samples, maximising balanced accuracy (candidate thresholds: midpoints between
 * consecutive distinct training values, and below all of them; the first best wins), and reports
 * the balanced accuracy (mean of the two per-class accuracies) on the odd-indexed values. So
 * about 0.5 for samples of one distribution (give or take the noise of the held-out half), and 1
 * for separated ones. Throws RangeError if either sample has fewer than 4 values or holds a value
 * that is not finite.
 */
export function thresholdAccuracy (a: number[], b: number[]): number {
  for (const [name, xs] of [['a', a], ['b', b]] as const) {
    if (xs.length < 4) throw new RangeError(`thresholdAccuracy: sample ${name} has ${xs.length} values, needs at least 4`)
    if (!xs.every(Number.isFinite)) throw new RangeError(`thresholdAccuracy: sample ${name} holds a value that is not finite`)
  }
  const trainA = every2(a, 0)
  const trainB = every2(b, 0)
  const sorted = [...new Set([...trainA, ...trainB])].sort((x, y) => x - y)
  const candidates = [sorted[0]! - 1]
  for (let i = 1; i < sorted.length; i++) candidates.push((sorted[i - 1]! + sorted[i]!) / 2)
  let best = { score: -1, threshold: 0, bAbove: true }
  for (const threshold of candidates) {
    const up = balanced(trainA, trainB, threshold)
    // The other direction ("class a when x > threshold") scores 1 - up.
    if (up > best.score) best = { score: up, threshold, bAbove: true }
    if (1 - up > best.score) best = { score: 1 - up, threshold, bAbove: false }
  }
  const up = balanced(every2(a, 1), every2(b, 1), best.threshold)
  return best.bAbove ? up : 1 - up
}

/**
 * Counts of event times (ms) per window: window i covers [start + i·windowMs, start + (i+1)·windowMs);
 * times outside all `windows` windows are ignored. Throws RangeError unless `windowMs` is finite
 * and > 0 and `windows` an integer >= 0.
 */
export function countsPerWindow (times: number[], start: number, windowMs: number, windows: number): number[] {
  if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new RangeError(`countsPerWindow: windowMs must be finite and > 0, got ${windowMs}`)
  if (!Number.isInteger(windows) || windows < 0) throw new RangeError(`countsPerWindow: windows must be an integer >= 0, got ${windows}`)
  const counts = new Array<number>(windows).fill(0)
  for (const t of times) {
    const i = Math.floor((t - start) / windowMs)
    if (i >= 0 && i < windows) counts[i]!++
  }
  return counts
}
