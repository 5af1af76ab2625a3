/**
 * Peer selection for tunnel hops: draws `n` distinct routers from the candidates, weighted by
 * their profiles, never the creator itself and never a router twice in one tunnel. Pure: the
 * random source is passed in.
 */

/** A router that can be a hop. */
export interface Candidate { idHex: string }

/**
 * Draws `n` distinct candidates (weighted, without replacement), excluding those in `exclude`.
 * Returns fewer when there are not enough.
 */
export function pickHops<C extends Candidate> (candidates: readonly C[], n: number, weight: (idHex: string) => number, random: () => number, exclude: ReadonlySet<string> = new Set()): C[] {
  const pool = candidates.filter(c => !exclude.has(c.idHex))
  const weights = pool.map(c => Math.max(0, weight(c.idHex)))
  const out: C[] = []
  while (out.length < n && pool.length > 0) {
    let total = 0
    for (const w of weights) total += w
    let i = 0
    if (total > 0) {
      let x = random() * total
      while (i < pool.length - 1 && x >= weights[i]!) { x -= weights[i]!; i++ }
    } else {
      i = Math.floor(random() * pool.length)
    }
    out.push(pool[i]!)
    pool.splice(i, 1)
    weights.splice(i, 1)
  }
  return out
}
