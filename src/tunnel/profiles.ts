/**
 * Per-peer tunnel profiles: how often a router accepted our build requests, how often builds
 * through it timed out, how long they took, and how often tunnels through it failed their
 * tests. Pure (time passed in); {@link PeerProfiles.weight} turns a profile into the weight with
 * which peer selection draws the router. Bounded: the least recently used profiles go first.
 */

/** What we know of one router as a tunnel hop. */
export interface PeerProfile {
  /** Builds it accepted. */
  accepted: number
  /** Builds it refused (it answered: alive, but busy or unwilling). */
  refused: number
  /** Builds through it that never came back (it or another hop is at fault). */
  timedOut: number
  /** Tunnels through it that failed a test or lost a link. */
  failed: number
  /** Smoothed build round trip in ms (builds it took part in). */
  buildMs: number
}

const MAX_PROFILES = 10_000

/** A table of {@link PeerProfile}s keyed by router ID (hex). */
export class PeerProfiles {
  private readonly map = new Map<string, PeerProfile>()

  /** The profile of `id`, made most recently used (the least recently used goes when full). */
  private touch (id: string): PeerProfile {
    let p = this.map.get(id)
    if (p === undefined) {
      if (this.map.size >= MAX_PROFILES) this.map.delete(this.map.keys().next().value!)
      p = { accepted: 0, refused: 0, timedOut: 0, failed: 0, buildMs: 0 }
    } else {
      this.map.delete(id)
    }
    this.map.set(id, p)
    return p
  }

  /** A build through `id` was answered: accepted or refused, after `ms`. */
  built (id: string, accepted: boolean, ms: number): void {
    const p = this.touch(id)
    if (accepted) p.accepted++
    else p.refused++
    p.buildMs = p.buildMs === 0 ? ms : p.buildMs * 0.8 + ms * 0.2
  }

  /** A build through `id` never came back. */
  timedOut (id: string): void { this.touch(id).timedOut++ }

  /** A tunnel through `id` failed. */
  failed (id: string): void { this.touch(id).failed++ }

  /**
   * The selection weight of `id`, in (0, 1]: unknown routers get 0.5, so new ones are tried;
   * each recent failure halves the weight (older history decays with the counts' ratio), and
   * slow builds weigh less than fast ones.
   */
  weight (id: string): number {
    const p = this.map.get(id)
    if (p === undefined) return 0.5
    const tries = p.accepted + p.refused + p.timedOut + p.failed
    const success = (p.accepted + 1) / (tries + 2)
    const speed = p.buildMs <= 50 ? 1 : Math.max(0.2, 50 / p.buildMs)
    return Math.max(0.01, success * speed)
  }
}
