/**
 * Random choices over a given source (`random()` in [0, 1), e.g. from the crypto suite or a
 * seeded PRNG in tests): a uniform pick and an in-place shuffle. Pure.
 */

/** A uniformly random element of `list`, or undefined when it is empty. */
export function pickOne<T> (list: readonly T[], random: () => number): T | undefined {
  return list.length === 0 ? undefined : list[Math.floor(random() * list.length)]
}

/** Shuffles `list` in place (Fisher-Yates) and returns it. */
export function shuffle<T> (list: T[], random: () => number): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const x = list[i]!; list[i] = list[j]!; list[j] = x
  }
  return list
}
