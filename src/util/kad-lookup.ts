/**
 * An iterative Kademlia lookup of one key, as a pure state machine: {@link Lookup.poll} says
 * whom to query, the driver reports each answer (`onFound`, `onCloser`, `onFailure`) and calls
 * `poll` again at the latest by {@link Lookup.nextDeadline}. No I/O, no timers; `now` (ms) is
 * always an argument, so it runs on virtual time in tests.
 *
 * Only peers currently queried (in flight) may change the state: a reply from anyone else, or
 * one arriving after its query timed out, is ignored. Memory is bounded: queried peers by
 * `maxQueries`, unqueried candidates by {@link Lookup.maxCandidates} (the farthest are dropped),
 * and at most {@link Lookup.maxReplyPeers} peers of one reply are considered.
 */
import { toHex } from './bytes.ts'
import { ConfigError } from './errors.ts'
import { compareDistance } from './kademlia.ts'

/** Options of a {@link Lookup}. */
export interface LookupOptions {
  /** Queries in flight at once (default 3). */
  alpha?: number
  /** How many of the closest peers must have answered to finish without the record (default 8). */
  k?: number
  /** A query unanswered this long counts as failed and frees its slot (default 2000 ms). */
  queryTimeoutMs?: number
  /** The whole lookup gives up this long after it started (default 10000 ms). */
  deadlineMs?: number
  /** Queries sent at most (default 32). */
  maxQueries?: number
}

/**
 * Where a lookup stands. 'running' is the only state that is not final. 'exhausted': the `k`
 * nearest peers not failed have all answered without the record (nobody nearer is left to ask),
 * or `maxQueries` were sent and all settled. 'timed-out': the overall deadline passed.
 */
export type LookupState = 'running' | 'found' | 'exhausted' | 'timed-out'

/** Counters of a lookup. */
export interface LookupStats {
  /** Queries sent. */
  queries: number
  /** Queries answered with an error (`onFailure`). */
  failures: number
  /** Queries that got no answer within `queryTimeoutMs`. */
  timeouts: number
  /** Depth of the peer that had the record, or if none, the deepest peer queried (seeds are 1). */
  hops: number
}

type CandState = 'new' | 'inflight' | 'answered' | 'failed'

interface Cand<P> {
  peer: P
  key: string
  depth: number
  state: CandState
  /** When its query times out (in flight only). */
  expires: number
}

/** One iterative lookup of `target`. */
export class Lookup<P extends { id: Uint8Array }> {
  /** Queries in flight at most. */
  readonly alpha: number
  /** Nearest peers that must have answered (or failed) to end without the record. */
  readonly k: number
  /** How long a query may stay unanswered. */
  readonly queryTimeoutMs: number
  /** Queries sent at most; with `maxCandidates`, bounds memory to 8·k + maxQueries peers. */
  readonly maxQueries: number
  /** Unqueried candidates kept at most: 8·k (the farthest are dropped). */
  readonly maxCandidates: number
  /** Peers of one reply considered at most: 4·k (the rest are ignored). */
  readonly maxReplyPeers: number
  /** When the whole lookup times out. */
  readonly deadline: number
  private _state: LookupState = 'running'
  private _foundBy: P | undefined
  private foundDepth: number | undefined
  private maxDepth = 0
  private readonly _stats = { queries: 0, failures: 0, timeouts: 0 }
  /** Every candidate held, nearest to the target first. */
  private readonly sorted: Array<Cand<P>> = []
  private readonly byKey = new Map<string, Cand<P>>()
  private readonly inFlight = new Set<Cand<P>>()
  private unqueried = 0
  private readonly selfKey: string | undefined

  /**
   * Starts a lookup of `target` at `now` from `seeds` (depth 1; duplicates and `selfId` are
   * skipped). Throws {@link ConfigError} on invalid options or an ID whose length differs from
   * the target's.
   */
  constructor (readonly target: Uint8Array, seeds: readonly P[], opts: LookupOptions = {}, now: number, selfId?: Uint8Array) {
    this.alpha = posInt('alpha', opts.alpha ?? 3)
    this.k = posInt('k', opts.k ?? 8)
    this.queryTimeoutMs = posNum('queryTimeoutMs', opts.queryTimeoutMs ?? 2000)
    this.maxQueries = posInt('maxQueries', opts.maxQueries ?? 32)
    this.deadline = now + posNum('deadlineMs', opts.deadlineMs ?? 10000)
    this.maxCandidates = 8 * this.k
    this.maxReplyPeers = 4 * this.k
    this.selfKey = selfId === undefined ? undefined : toHex(selfId)
    for (const p of seeds) {
      if (p.id.length !== target.length) throw new ConfigError(`Lookup: seed ID is ${p.id.length} bytes, target ${target.length}`)
      this.learn(p, 1)
    }
    this.settle(now)
  }

  /** The current state. */
  get state (): LookupState { return this._state }

  /** Whether the lookup has finished (any state but 'running'). */
  get done (): boolean { return this._state !== 'running' }

  /** The peer that had the record, once 'found'. */
  get foundBy (): P | undefined { return this._foundBy }

  /** Counters so far (a fresh object). */
  get stats (): LookupStats {
    return { ...this._stats, hops: this.foundDepth ?? this.maxDepth }
  }

  /** Number of peers currently held (queried and candidates). */
  get known (): number { return this.sorted.length }

  /**
   * The peers to query now, nearest first; they are then in flight. Applies query timeouts and
   * the overall deadline first. Only the `k` nearest peers not failed are ever queried, at most
   * `alpha` at once and `maxQueries` in all.
   */
  poll (now: number): P[] {
    this.settle(now)
    const out: P[] = []
    if (this.done) return out
    let window = 0
    for (const c of this.sorted) {
      if (this.inFlight.size >= this.alpha || this._stats.queries >= this.maxQueries || window >= this.k) break
      if (c.state === 'failed') continue
      window++
      if (c.state !== 'new') continue
      c.state = 'inflight'
      c.expires = now + this.queryTimeoutMs
      this.inFlight.add(c)
      this.unqueried--
      this._stats.queries++
      if (c.depth > this.maxDepth) this.maxDepth = c.depth
      out.push(c.peer)
    }
    return out
  }

  /** `peerId` (in flight) had the record: the lookup is 'found'. Returns whether it was accepted. */
  onFound (peerId: Uint8Array, now: number): boolean {
    const c = this.answering(peerId, now)
    if (c === undefined) return false
    this.finish(c, 'answered')
    this._state = 'found'
    this._foundBy = c.peer
    this.foundDepth = c.depth
    this.inFlight.clear()
    return true
  }

  /**
   * `peerId` (in flight) did not have the record and named `peers` closer to the target. New
   * ones (not self, not already held, of the target's ID length) become candidates one level
   * deeper. Returns whether the reply was accepted.
   */
  onCloser (peerId: Uint8Array, peers: readonly P[], now: number): boolean {
    const c = this.answering(peerId, now)
    if (c === undefined) return false
    this.finish(c, 'answered')
    const n = Math.min(peers.length, this.maxReplyPeers)
    for (let i = 0; i < n; i++) {
      const p = peers[i]!
      if (p.id instanceof Uint8Array && p.id.length === this.target.length) this.learn(p, c.depth + 1)
    }
    this.settle(now)
    return true
  }

  /** The query to `peerId` (in flight) failed. Returns whether the report was accepted. */
  onFailure (peerId: Uint8Array, now: number): boolean {
    const c = this.answering(peerId, now)
    if (c === undefined) return false
    this.finish(c, 'failed')
    this._stats.failures++
    this.settle(now)
    return true
  }

  /** The earliest time `poll` must be called again (a query timeout or the deadline), or undefined once done. */
  nextDeadline (): number | undefined {
    if (this.done) return undefined
    let t = this.deadline
    for (const c of this.inFlight) if (c.expires < t) t = c.expires
    return t
  }

  /** The `n` nearest peers that answered, nearest first (e.g. where to publish a record). */
  closest (n: number): P[] {
    const out: P[] = []
    for (const c of this.sorted) {
      if (out.length >= n) break
      if (c.state === 'answered') out.push(c.peer)
    }
    return out
  }

  /** Applies `now`, then returns the in-flight candidate `peerId`, if the lookup still runs. */
  private answering (peerId: Uint8Array, now: number): Cand<P> | undefined {
    this.settle(now)
    if (this.done) return undefined
    const c = this.byKey.get(toHex(peerId))
    return c !== undefined && c.state === 'inflight' ? c : undefined
  }

  private finish (c: Cand<P>, state: 'answered' | 'failed'): void {
    c.state = state
    this.inFlight.delete(c)
  }

  /** Adds a new candidate in distance order, dropping the farthest unqueried one over the cap. */
  private learn (p: P, depth: number): void {
    const key = toHex(p.id)
    if (key === this.selfKey || this.byKey.has(key)) return
    const s = this.sorted
    let lo = 0
    let hi = s.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compareDistance(this.target, s[mid]!.peer.id, p.id) < 0) lo = mid + 1
      else hi = mid
    }
    const c: Cand<P> = { peer: p, key, depth, state: 'new', expires: 0 }
    s.splice(lo, 0, c)
    this.byKey.set(key, c)
    this.unqueried++
    if (this.unqueried > this.maxCandidates) {
      for (let i = s.length - 1; i >= 0; i--) {
        const far = s[i]!
        if (far.state !== 'new') continue
        s.splice(i, 1)
        this.byKey.delete(far.key)
        this.unqueried--
        break
      }
    }
  }

  /** Applies the deadline and query timeouts at `now`, then checks whether the lookup is over. */
  private settle (now: number): void {
    if (this.done) return
    if (now >= this.deadline) {
      this._state = 'timed-out'
      this.inFlight.clear()
      return
    }
    for (const c of this.inFlight) {
      if (c.expires <= now) { this.finish(c, 'failed'); this._stats.timeouts++ }
    }
    const outOfQueries = this._stats.queries >= this.maxQueries && this.inFlight.size === 0
    if (outOfQueries || this.windowSettled()) {
      this._state = 'exhausted'
      this.inFlight.clear()
    }
  }

  /** Whether the `k` nearest peers not failed have all answered (none left to query or awaited). */
  private windowSettled (): boolean {
    let window = 0
    for (const c of this.sorted) {
      if (window >= this.k) break
      if (c.state === 'failed') continue
      if (c.state !== 'answered') return false
      window++
    }
    return true
  }
}

function posInt (name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new ConfigError(`Lookup: ${name} must be a positive integer, got ${v}`)
  return v
}

function posNum (name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new ConfigError(`Lookup: ${name} must be a positive number, got ${v}`)
  return v
}
