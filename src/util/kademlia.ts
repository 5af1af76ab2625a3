/**
 * Kademlia's XOR metric and a k-bucket routing table over 32-byte node IDs (SHA-256 hashes).
 * Pure: no I/O, no timers; `now` is an argument. The table does not ping anyone: a full bucket
 * refuses newcomers (long-lived peers are preferred) and the caller decides, from failures it
 * reports or pings of its own, which stale peers to {@link RoutingTable.remove}.
 */
import { toHex } from './bytes.ts'
import { ConfigError } from './errors.ts'

/** Length of node IDs and keys in bytes. */
export const ID_BYTES = 32

/** Number of buckets: one per possible common-prefix length with self (256 is self only). */
const BUCKETS = ID_BYTES * 8

/** `a XOR b`, a new array. Throws {@link ConfigError} if the lengths differ. */
export function xorDistance (a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length !== b.length) throw new ConfigError(`xorDistance: lengths differ (${a.length} vs ${b.length})`)
  const out = new Uint8Array(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!
  return out
}

/**
 * Orders `a` and `b` by XOR distance to `target`: negative if `a` is closer, zero only if
 * `a` and `b` are equal, positive if `b` is closer. Allocates nothing; all three must have the
 * same length (not checked: this is the hot path).
 */
export function compareDistance (target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < target.length; i++) {
    const t = target[i]!
    const d = (a[i]! ^ t) - (b[i]! ^ t)
    if (d !== 0) return d
  }
  return 0
}

/** Number of leading bits `a` and `b` share (0..8·length; 256 for equal 32-byte IDs). */
export function commonPrefixBits (a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new ConfigError(`commonPrefixBits: lengths differ (${a.length} vs ${b.length})`)
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! ^ b[i]!
    if (x !== 0) return i * 8 + Math.clz32(x) - 24
  }
  return a.length * 8
}

/** Options of a {@link RoutingTable}. */
export interface RoutingTableOptions {
  /** Peers per bucket (default 16). */
  k?: number
  /** Consecutive failures after which a peer is evicted (default 3). */
  maxFailures?: number
}

/** Result of {@link RoutingTable.add}: new, refreshed, refused (bucket full), or our own ID. */
export type AddResult = 'added' | 'updated' | 'full' | 'self'

interface Entry<P> {
  peer: P
  lastSeen: number
  failures: number
}

/**
 * Peers in k-buckets indexed by the length of the prefix they share with `selfId`. Each bucket
 * holds at most `k` peers, least recently seen first. Memory is at most 256·k entries.
 */
export class RoutingTable<P extends { id: Uint8Array }> {
  /** Peers per bucket. */
  readonly k: number
  /** Consecutive failures that evict a peer. */
  readonly maxFailures: number
  private readonly buckets: Array<Map<string, Entry<P>>> = []
  private readonly byId = new Map<string, Entry<P>>()

  constructor (readonly selfId: Uint8Array, opts: RoutingTableOptions = {}) {
    if (selfId.length !== ID_BYTES) throw new ConfigError(`RoutingTable: self ID must be ${ID_BYTES} bytes, got ${selfId.length}`)
    this.k = opts.k ?? 16
    this.maxFailures = opts.maxFailures ?? 3
    if (!Number.isInteger(this.k) || this.k < 1) throw new ConfigError(`RoutingTable: k must be a positive integer, got ${this.k}`)
    if (!Number.isInteger(this.maxFailures) || this.maxFailures < 1) throw new ConfigError(`RoutingTable: maxFailures must be a positive integer, got ${this.maxFailures}`)
    for (let i = 0; i < BUCKETS; i++) this.buckets.push(new Map())
  }

  /** Number of peers held. */
  get size (): number { return this.byId.size }

  /** The bucket `id` belongs in: its common-prefix length with self (256 for self). */
  bucketIndex (id: Uint8Array): number {
    if (id.length !== ID_BYTES) throw new ConfigError(`RoutingTable: ID must be ${ID_BYTES} bytes, got ${id.length}`)
    return commonPrefixBits(this.selfId, id)
  }

  /**
   * Adds `peer` or, if its ID is present, replaces the stored object with it, marks it seen at
   * `now` and clears its failures. A full bucket refuses a newcomer ('full'); self is never
   * added ('self').
   */
  add (peer: P, now: number): AddResult {
    const b = this.bucketIndex(peer.id)
    if (b === BUCKETS) return 'self'
    const key = toHex(peer.id)
    const bucket = this.buckets[b]!
    const old = bucket.get(key)
    if (old !== undefined) {
      bucket.delete(key) // re-inserted at the tail: most recently seen
      old.peer = peer
      old.lastSeen = now
      old.failures = 0
      bucket.set(key, old)
      return 'updated'
    }
    if (bucket.size >= this.k) return 'full'
    const e: Entry<P> = { peer, lastSeen: now, failures: 0 }
    bucket.set(key, e)
    this.byId.set(key, e)
    return 'added'
  }

  /** Removes the peer with `id`; returns whether it was present. */
  remove (id: Uint8Array): boolean {
    const key = toHex(id)
    if (!this.byId.delete(key)) return false
    this.buckets[this.bucketIndex(id)]!.delete(key)
    return true
  }

  /** The peer with `id`, if present. */
  get (id: Uint8Array): P | undefined { return this.byId.get(toHex(id))?.peer }

  /** Whether a peer with `id` is present. */
  has (id: Uint8Array): boolean { return this.byId.has(toHex(id)) }

  /** When the peer was last added or marked seen, if present. */
  lastSeen (id: Uint8Array): number | undefined { return this.byId.get(toHex(id))?.lastSeen }

  /** The peer's consecutive failures, if present. */
  failures (id: Uint8Array): number | undefined { return this.byId.get(toHex(id))?.failures }

  /** Marks the peer as having answered at `now`: clears its failures, moves it to its bucket's tail. */
  markSeen (id: Uint8Array, now: number): boolean {
    const e = this.byId.get(toHex(id))
    if (e === undefined) return false
    this.add(e.peer, now)
    return true
  }

  /**
   * Counts one more consecutive failure of the peer; at `maxFailures` it is evicted. Returns
   * true if this call evicted it. (`now` is taken for symmetry and future ageing policy.)
   */
  markFailed (id: Uint8Array, _now: number): boolean {
    const e = this.byId.get(toHex(id))
    if (e === undefined) return false
    if (++e.failures < this.maxFailures) return false
    this.remove(id)
    return true
  }

  /**
   * The `n` peers closest to `target`, nearest first, skipping those `exclude` rejects.
   * Scans buckets outward from the target's: with c = commonPrefixBits(self, target), every
   * peer in bucket c is closer than every peer in buckets above c, which are (together) closer
   * than bucket c−1, then c−2, … 0. Only the groups needed are sorted.
   */
  closest (target: Uint8Array, n: number, exclude?: (id: Uint8Array) => boolean): P[] {
    const out: P[] = []
    if (n <= 0) return out
    const c = this.bucketIndex(target)
    const take = (group: P[]): boolean => {
      group.sort((a, b) => compareDistance(target, a.id, b.id))
      for (const p of group) { out.push(p); if (out.length >= n) return true }
      return false
    }
    const collect = (b: number, into: P[]): void => {
      for (const e of this.buckets[b]!.values()) if (exclude === undefined || !exclude(e.peer.id)) into.push(e.peer)
    }
    if (c < BUCKETS) {
      const g: P[] = []
      collect(c, g)
      if (take(g)) return out
      const above: P[] = []
      for (let b = c + 1; b < BUCKETS; b++) collect(b, above)
      if (take(above)) return out
    }
    for (let b = Math.min(c, BUCKETS) - 1; b >= 0; b--) {
      const g: P[] = []
      collect(b, g)
      if (take(g)) return out
    }
    return out
  }

  /** Every peer held, by bucket (lowest index first), least recently seen first within one. */
  all (): P[] {
    const out: P[] = []
    for (const b of this.buckets) for (const e of b.values()) out.push(e.peer)
    return out
  }

  /** The peers of bucket `i`, least recently seen first (the first is the one to ping). */
  bucket (i: number): P[] {
    const b = this.buckets[i]
    return b === undefined ? [] : [...b.values()].map(e => e.peer)
  }

  /** Number of non-empty buckets (for stats). */
  bucketsFilled (): number {
    let n = 0
    for (const b of this.buckets) if (b.size > 0) n++
    return n
  }
}
