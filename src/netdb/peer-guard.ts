/**
 * Per-peer discipline for the netDb: a token bucket on incoming messages (so one chatty or
 * hostile peer cannot make us do unbounded lookup work) and a count of poisoned records (bad
 * signature, wrong key, oversize, far-future) after which the peer is banned for a while.
 * Pure: time is an argument. Memory is bounded (oldest entries are forgotten first).
 */

/** Settings of a {@link PeerGuard}. */
export interface PeerGuardOptions {
  /** Messages per second a peer may send on average. Default 200. */
  ratePerSec: number
  /** Burst allowance. Default 400. */
  burst: number
  /** Poisoned records before a ban. Default 3. */
  maxPenalties: number
  /** How long a ban lasts. Default 1 h. */
  banMs: number
  /** Most peers tracked. Default 10000. */
  maxPeers: number
}

interface Entry { tokens: number, last: number, penalties: number, bannedUntil: number }

/** Rate limit and poison count per peer (see module doc). */
export class PeerGuard {
  private readonly peers = new Map<string, Entry>()
  private readonly o: PeerGuardOptions
  /** Counters for status. */
  readonly counters = { rateLimited: 0, bans: 0 }

  constructor (opts: Partial<PeerGuardOptions> = {}) {
    this.o = { ratePerSec: 200, burst: 400, maxPenalties: 3, banMs: 3600_000, maxPeers: 10_000, ...opts }
  }

  private entry (peer: string, now: number): Entry {
    let e = this.peers.get(peer)
    if (e === undefined) {
      if (this.peers.size >= this.o.maxPeers) this.peers.delete(this.peers.keys().next().value!)
      e = { tokens: this.o.burst, last: now, penalties: 0, bannedUntil: 0 }
      this.peers.set(peer, e)
    }
    return e
  }

  /** Whether a message from `peer` may be processed now (spends one token). */
  admit (peer: string, now: number): boolean {
    const e = this.entry(peer, now)
    if (e.bannedUntil > now) return false
    e.tokens = Math.min(this.o.burst, e.tokens + (now - e.last) * this.o.ratePerSec / 1000)
    e.last = now
    if (e.tokens < 1) { this.counters.rateLimited++; return false }
    e.tokens -= 1
    return true
  }

  /** Counts a poisoned record against `peer`; returns true when that earns a ban. */
  penalize (peer: string, now: number): boolean {
    const e = this.entry(peer, now)
    if (++e.penalties < this.o.maxPenalties) return false
    e.penalties = 0
    e.bannedUntil = now + this.o.banMs
    this.counters.bans++
    return true
  }

  /** Whether `peer` is banned now. */
  banned (peer: string, now: number): boolean { return (this.peers.get(peer)?.bannedUntil ?? 0) > now }

}
