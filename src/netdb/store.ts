/**
 * The netDb store: verified records in memory, indexed by kind and key, mirrored to a
 * persistent bucket when one is given. Holds only {@link NetDbRecord}s (which only
 * `verifyRecord` makes), so nothing unverified is ever stored or served. Bounded: when full it
 * drops the RouterInfos farthest from us (Kademlia keeps what it is responsible for) and the
 * LeaseSets that expire soonest. Records from disk are verified again when loaded.
 */
import type { CryptoSuite } from '../crypto/types.ts'
import type { KvBucket } from '../util/kv.ts'
import { toHex } from '../util/bytes.ts'
import { RecordKind } from './messages.ts'
import { verifyRecord, type NetDbRecord, type RecordPolicy } from './records.ts'
import { compareDistance } from '../util/kademlia.ts'

/** Bounds of a {@link RecordStore}. */
export interface StoreLimits {
  /** Most RouterInfos kept. Default 5000. */
  maxRouterInfos: number
  /** Most LeaseSets kept. Default 5000. */
  maxLeaseSets: number
}

/** What {@link RecordStore.put} did. */
export type PutResult = 'stored' | 'same' | 'older'

/** Records by kind and key (see module doc). */
export class RecordStore {
  private readonly maps = new Map<RecordKind, Map<string, NetDbRecord>>([[RecordKind.ROUTER_INFO, new Map()], [RecordKind.LEASE_SET, new Map()]])
  private readonly limits: StoreLimits
  private readonly inflight = new Set<Promise<void>>()
  /** Called when a write to disk fails (the record stays in memory). */
  onWriteError: (err: unknown) => void = () => {}

  constructor (private readonly ownId: Uint8Array, limits: Partial<StoreLimits> = {}, private readonly persist?: KvBucket) {
    this.limits = { maxRouterInfos: 5000, maxLeaseSets: 5000, ...limits }
  }

  /** The record of `kind` under `key`, if stored. */
  get (kind: RecordKind, key: Uint8Array): NetDbRecord | undefined { return this.maps.get(kind)!.get(toHex(key)) }

  /** How many records of `kind`. */
  count (kind: RecordKind): number { return this.maps.get(kind)!.size }

  /** Every record of `kind`. */
  all (kind: RecordKind): IterableIterator<NetDbRecord> { return this.maps.get(kind)!.values() }

  /**
   * Stores `rec` unless a record under its key was published at the same time or later.
   * Persists in the background; {@link flush} waits for it.
   */
  put (rec: NetDbRecord): PutResult {
    const map = this.maps.get(rec.kind)!
    const old = map.get(rec.keyHex)
    if (old !== undefined) {
      if (old.published === rec.published) return 'same'
      if (old.published > rec.published) return 'older'
    } else if (map.size >= this.max(rec.kind)) {
      const victim = this.victim(rec.kind)
      if (victim === undefined || !this.better(rec, victim)) return 'older'
      this.remove(victim)
    }
    map.set(rec.keyHex, rec)
    this.write(rec.kind, rec.key, rec.raw)
    return 'stored'
  }

  /** Removes `rec` (if it is the one stored). */
  remove (rec: NetDbRecord): void {
    const map = this.maps.get(rec.kind)!
    if (map.get(rec.keyHex) !== rec) return
    map.delete(rec.keyHex)
    this.write(rec.kind, rec.key, undefined)
  }

  /** Drops every record expired at `now`; returns how many. */
  prune (now: number): number {
    let n = 0
    for (const map of this.maps.values()) {
      for (const rec of [...map.values()]) if (rec.expires <= now) { this.remove(rec); n++ }
    }
    return n
  }

  /**
   * Loads the persisted records, verifying each again (a record that no longer verifies, or
   * has expired, is deleted from disk). Returns how many were loaded.
   */
  load (crypto: CryptoSuite, now: number, policy: RecordPolicy): number {
    if (this.persist === undefined) return 0
    let n = 0
    const bad: Uint8Array[] = []
    for (const [k, v] of this.persist.entries()) {
      try {
        const kind = k[0] as RecordKind
        const rec = verifyRecord(crypto, kind, v, now, policy, k.subarray(1))
        this.maps.get(kind)!.set(rec.keyHex, rec)
        n++
      } catch {
        bad.push(k)
      }
    }
    for (const k of bad) this.chain(async () => { await this.persist!.delete(k) })
    return n
  }

  /** Resolves once every write so far is durable. */
  async flush (): Promise<void> { await Promise.all([...this.inflight]) }

  private max (kind: RecordKind): number { return kind === RecordKind.ROUTER_INFO ? this.limits.maxRouterInfos : this.limits.maxLeaseSets }

  /** The record that goes first when the store is full. */
  private victim (kind: RecordKind): NetDbRecord | undefined {
    let v: NetDbRecord | undefined
    for (const r of this.maps.get(kind)!.values()) if (v === undefined || this.better(v, r)) v = r
    return v
  }

  /** Whether `a` is worth more than `b` (closer RouterInfo; later-expiring LeaseSet). */
  private better (a: NetDbRecord, b: NetDbRecord): boolean {
    return a.kind === RecordKind.ROUTER_INFO ? compareDistance(this.ownId, a.key, b.key) < 0 : a.expires > b.expires
  }

  private write (kind: RecordKind, key: Uint8Array, value: Uint8Array | undefined): void {
    if (this.persist === undefined) return
    const k = new Uint8Array(33)
    k[0] = kind
    k.set(key, 1)
    const p = this.persist
    this.chain(async () => { await (value === undefined ? p.delete(k) : p.put(k, value)) })
  }

  private chain (fn: () => Promise<void>): void {
    // Writes are issued at once (the database batches them into one commit).
    const p: Promise<void> = fn().catch((err: unknown) => { this.onWriteError(err) }).finally(() => { this.inflight.delete(p) })
    this.inflight.add(p)
  }
}
