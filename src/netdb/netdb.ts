/**
 * The network database driver: keeps verified RouterInfos and LeaseSets (store.ts), a Kademlia
 * routing table of known routers (kademlia.ts), answers other routers' lookups and stores, runs
 * iterative lookups (lookup.ts) and publishes records to the routers closest to their keys,
 * republishing them on a timer. Records from peers pass `verifyRecord` first; poison counts
 * against the sender (peer-guard.ts) and is never stored or served.
 *
 * The protocol decisions live in the pure parts; this file wires them to messages, timers and
 * the router's `send`. It does no socket I/O itself.
 */
import { Accountant, Price } from '../accounting/accountant.ts'
import type { CryptoSuite } from '../crypto/types.ts'
import type { RouterInfo, Verified } from '../identity/index.ts'
import type { LeaseSet } from '../identity/lease-set.ts'
import type { Clock } from '../util/clock.ts'
import type { KvBucket } from '../util/kv.ts'
import { silentLogger, type Logger } from '../util/log.ts'
import { compareBytes, toHex } from '../util/bytes.ts'
import { AbortError, ClosedError, LimitError, NotFoundError } from '../util/errors.ts'
import { compareDistance, RoutingTable } from '../util/kademlia.ts'
import { Lookup } from '../util/kad-lookup.ts'
import {
  closerOverhead, decodeNetDb, encodeNetDb, LookupKind, MAX_CLOSER, NetDbType, RecordKind,
  type CloserMsg, type FoundMsg, type LookupMsg, type StoreMsg
} from './messages.ts'
import { PeerGuard, type PeerGuardOptions } from './peer-guard.ts'
import { claimedKey, RECORD_POLICY_DEFAULTS, leaseSetRecord, routerInfoRecord, verifyRecord, type LeaseSetRecord, type NetDbRecord, type RecordPolicy, type RouterInfoRecord } from './records.ts'
import { RecordStore, type StoreLimits } from './store.ts'

/** A router the netDb can query: its ID and verified RouterInfo record. */
export interface NetDbPeer { readonly id: Uint8Array, readonly rec: RouterInfoRecord }

/** What the netDb needs from the router. */
export interface NetDbDeps {
  crypto: CryptoSuite
  clock: Clock
  log?: Logger
  /** Our router ID. */
  ownId: Uint8Array
  /** Our current signed RouterInfo. */
  self: () => Verified<RouterInfo>
  /** Sends `msg` to the router of `info`, linking to it first if needed; rejects if unreachable. */
  send: (info: Verified<RouterInfo>, msg: Uint8Array) => Promise<void>
  /** Sends `msg` back over the open link to `peerId` (replies); may throw if there is none. */
  reply: (peerId: Uint8Array, msg: Uint8Array) => void
  /** Largest message the open link to `peerId` carries (replies must fit). */
  maxMessage: (peerId: Uint8Array) => number
  /** Called when a peer is banned for sending poison (the router drops its link). */
  onBan?: (peerId: Uint8Array) => void
  /**
   * Admission and credit: lookups and stores from others pass it when we are busy, and routers
   * that answer our lookups with verified records earn credit. Default: no limits, nothing kept.
   */
  accounting?: Accountant
}

/** NetDb settings; every one has a default. */
export interface NetDbOptions {
  /** Kademlia bucket size. Default 16. */
  k: number
  /** How many closest routers a lookup confirms. Default 8. */
  lookupK: number
  /** Parallel queries per lookup. Default 3. */
  alpha: number
  /** Routers each published record is stored at. Default 3. */
  replication: number
  /** Per-query timeout. Default 2 s. */
  queryTimeoutMs: number
  /** A lookup ends with NotFoundError after this. Default 10 s. */
  lookupDeadlineMs: number
  /** Waiting for a STORE acknowledgement. Default 5 s. */
  storeTimeoutMs: number
  /** Our RouterInfo and our LeaseSets are republished this often. Default 10 min. */
  republishMs: number
  /** A random-key exploration runs this often (the first after 1 s, then doubling up to this); 0 = never. Default 60 s. */
  exploreMs: number
  /** Expired records are dropped this often. Default 60 s. */
  pruneMs: number
  limits: Partial<StoreLimits>
  policy: RecordPolicy
  guard: Partial<PeerGuardOptions>
}

export const NETDB_DEFAULTS: Omit<NetDbOptions, 'limits' | 'guard'> = {
  k: 16,
  lookupK: 8,
  alpha: 3,
  replication: 3,
  queryTimeoutMs: 2000,
  lookupDeadlineMs: 10_000,
  storeTimeoutMs: 5000,
  republishMs: 10 * 60_000,
  exploreMs: 60_000,
  pruneMs: 60_000,
  policy: RECORD_POLICY_DEFAULTS
}

/** Counters and sizes for status. */
export interface NetDbStats {
  routerInfos: number
  leaseSets: number
  /** Routers in the routing table. */
  peers: number
  lookups: { found: number, notFound: number, hops: number[] }
  /** Records rejected as poison, by reason. */
  rejected: { malformed: number, signature: number, time: number }
  rateLimited: number
  bans: number
}

interface Pending { lookup: Lookup<NetDbPeer>, peer: NetDbPeer, kind: LookupKind, key: Uint8Array, onRecord: (rec: NetDbRecord) => void, wake: () => void }

/** The netDb of one router (see module doc). */
export class NetDb {
  readonly store: RecordStore
  readonly table: RoutingTable<NetDbPeer>
  private readonly o: NetDbOptions
  private readonly log: Logger
  private readonly guard: PeerGuard
  private readonly pending = new Map<number, Pending>()
  private readonly acks = new Map<number, (accepted: boolean) => void>()
  private readonly owned = new Map<string, NetDbRecord>()
  private nextId = 1
  private timers: NodeJS.Timeout[] = []
  private closed = false
  private readonly counters = { found: 0, notFound: 0, malformed: 0, signature: 0, time: 0 }
  private readonly hops: number[] = []

  private readonly acct: Accountant

  constructor (private readonly deps: NetDbDeps, opts: Partial<NetDbOptions> = {}, persist?: KvBucket) {
    this.acct = deps.accounting ?? new Accountant({}, deps.clock)
    this.o = { ...NETDB_DEFAULTS, limits: {}, guard: {}, ...opts }
    this.log = (deps.log ?? silentLogger).child({ part: 'netdb' })
    this.store = new RecordStore(deps.ownId, this.o.limits, persist)
    this.store.onWriteError = (err) => { this.log.error('netDb write failed', { err: String(err) }) }
    this.table = new RoutingTable<NetDbPeer>(deps.ownId, { k: this.o.k })
    this.guard = new PeerGuard(this.o.guard)
  }

  /** Loads persisted records and starts the timers (republish, explore, prune). */
  start (): number {
    const loaded = this.store.load(this.deps.crypto, this.deps.clock.wall(), this.o.policy)
    for (const rec of this.store.all(RecordKind.ROUTER_INFO)) this.addPeer(rec as RouterInfoRecord)
    this.publishSelfLocal()
    const every = (ms: number, fn: () => void): void => { this.timers.push(setInterval(fn, ms).unref()) }
    every(this.o.pruneMs, () => { this.prune() })
    if (this.o.exploreMs > 0) this.scheduleExplore(Math.min(1000, this.o.exploreMs))
    every(this.o.republishMs, () => { this.republishOwned() })
    if (loaded > 0) this.log.info('netDb loaded', { records: loaded })
    return loaded
  }

  /** Stops timers and ends running lookups; waits until stored records are durable. */
  async stop (): Promise<void> {
    this.closed = true
    for (const t of this.timers) clearTimeout(t)
    for (const p of this.pending.values()) p.wake()
    for (const ack of this.acks.values()) ack(false)
    await this.store.flush()
  }

  /** Sizes and counters. */
  stats (): NetDbStats {
    return {
      routerInfos: this.store.count(RecordKind.ROUTER_INFO),
      leaseSets: this.store.count(RecordKind.LEASE_SET),
      peers: this.table.size,
      lookups: { found: this.counters.found, notFound: this.counters.notFound, hops: [...this.hops] },
      rejected: { malformed: this.counters.malformed, signature: this.counters.signature, time: this.counters.time },
      rateLimited: this.guard.counters.rateLimited,
      bans: this.guard.counters.bans
    }
  }

  /**
   * A router's RouterInfo bytes (from its link handshake, or a caller): the identical record
   * already held, else verified (throws like `verifyRecord`); kept either way. The router's one
   * path for RouterInfos, so each is checked once however it arrives. A banned router's is
   * returned but not kept.
   */
  acceptRouterInfo (bytes: Uint8Array): Verified<RouterInfo> {
    const rec = (this.held(RecordKind.ROUTER_INFO, bytes) ??
      verifyRecord(this.deps.crypto, RecordKind.ROUTER_INFO, bytes, this.deps.clock.wall(), this.o.policy)) as RouterInfoRecord
    if (!this.banned(rec.key)) this.keep(rec)
    return rec.info
  }

  /** Stores a verified record; a RouterInfo that is new or newer also enters the routing table. */
  private keep (rec: NetDbRecord): void {
    if (this.store.put(rec) === 'stored' && rec.kind === RecordKind.ROUTER_INFO) this.addPeer(rec)
  }

  /** Whether `peerId` is banned now. */
  banned (peerId: Uint8Array): boolean { return this.guard.banned(toHex(peerId), this.deps.clock.now()) }

  // ---- incoming ----

  /** Handles one netDb message from the (authenticated) router `from`. Never throws. */
  handle (from: Uint8Array, bytes: Uint8Array): void {
    const fromHex = toHex(from)
    if (this.closed || !this.guard.admit(fromHex, this.deps.clock.now())) return
    let m
    try { m = decodeNetDb(bytes) } catch { this.poison(from, 'malformed'); return }
    switch (m.type) {
      case NetDbType.STORE: this.onStore(from, fromHex, m); break
      case NetDbType.STORE_ACK: this.acks.get(m.token)?.(m.accepted); break
      case NetDbType.LOOKUP: this.onLookup(from, fromHex, m); break
      case NetDbType.FOUND: this.onFound(from, fromHex, m); break
      case NetDbType.CLOSER: this.onCloser(from, m); break
    }
  }

  private onStore (from: Uint8Array, fromHex: string, m: StoreMsg): void {
    // A store refused for load is answered "rejected" like an invalid one.
    const rec = this.acct.admitLookup(fromHex, m.priority ?? 0) ? this.verify(from, m.kind, m.record) : undefined
    if (rec !== undefined) this.keep(rec)
    // An acknowledgement means "stored durably": it waits for the database commit.
    if (m.token !== 0) {
      const ack = encodeNetDb({ type: NetDbType.STORE_ACK, token: m.token, accepted: rec !== undefined })
      void this.store.flush().then(() => { this.reply(from, ack) })
    }
  }

  private onLookup (from: Uint8Array, fromHex: string, m: LookupMsg): void {
    // Refused lookups are dropped: the asker's query times out and it asks another router.
    if (!this.acct.admitLookup(fromHex, m.priority ?? 0)) return
    if (m.kind !== LookupKind.EXPLORE) {
      const rec = this.local(m.kind, m.key)
      if (rec !== undefined) {
        this.reply(from, encodeNetDb({ type: NetDbType.FOUND, queryId: m.queryId, kind: m.kind, record: rec.raw }))
        return
      }
    }
    const budget = this.deps.maxMessage(from)
    const infos: Uint8Array[] = []
    let size = closerOverhead(0)
    for (const p of this.table.closest(m.key, MAX_CLOSER, id => toHex(id) === fromHex)) {
      if (size + 2 + p.rec.raw.length > budget) break
      infos.push(p.rec.raw)
      size += 2 + p.rec.raw.length
    }
    this.reply(from, encodeNetDb({ type: NetDbType.CLOSER, queryId: m.queryId, infos }))
  }

  private onFound (from: Uint8Array, fromHex: string, m: FoundMsg): void {
    const p = this.pending.get(m.queryId)
    if (p === undefined || !this.deps.crypto.equal(p.peer.id, from)) return
    if (m.kind !== p.kind) { this.poison(from, 'malformed'); this.failQuery(m.queryId); return }
    const rec = this.verify(from, m.kind, m.record, p.key)
    if (rec === undefined) { this.failQuery(m.queryId); return }
    this.pending.delete(m.queryId)
    const now = this.deps.clock.now()
    this.table.markSeen(from, now)
    this.keep(rec)
    // A verified record answers our query: the router served us (junk never verifies).
    this.acct.earn(fromHex, Price.LOOKUP)
    p.lookup.onFound(from, now)
    p.onRecord(rec)
    p.wake()
  }

  private onCloser (from: Uint8Array, m: CloserMsg): void {
    const p = this.pending.get(m.queryId)
    if (p === undefined || !this.deps.crypto.equal(p.peer.id, from)) return
    this.pending.delete(m.queryId)
    const now = this.deps.clock.now()
    this.table.markSeen(from, now)
    const peers: NetDbPeer[] = []
    for (const raw of m.infos) {
      const rec = this.verify(from, RecordKind.ROUTER_INFO, raw)
      if (rec === undefined || rec.kind !== RecordKind.ROUTER_INFO) continue
      const known = this.store.get(RecordKind.ROUTER_INFO, rec.key) as RouterInfoRecord | undefined
      const best = known !== undefined && known.published >= rec.published ? known : rec
      if (best === rec) this.keep(rec)
      peers.push({ id: best.key, rec: best })
    }
    p.lookup.onCloser(from, peers, now)
    p.wake()
  }

  // ---- lookups ----

  /** The verified RouterInfo of router `id`: from the store, else by an iterative lookup. */
  async findRouter (id: Uint8Array, signal?: AbortSignal): Promise<Verified<RouterInfo>> {
    return (await this.lookup(RecordKind.ROUTER_INFO, id, signal) as RouterInfoRecord).info
  }

  /** The verified LeaseSet of the destination with hash `key`. */
  async findLeaseSet (key: Uint8Array, signal?: AbortSignal): Promise<Verified<LeaseSet>> {
    return (await this.lookup(RecordKind.LEASE_SET, key, signal) as LeaseSetRecord).leaseSet
  }

  /**
   * Asks the network for the LeaseSet of `key` even when one is stored here (it may name dead
   * tunnels); resolves with the newest known afterwards. NotFoundError if there is none at all.
   */
  async refreshLeaseSet (key: Uint8Array, signal?: AbortSignal): Promise<Verified<LeaseSet>> {
    await this.iterate(RecordKind.LEASE_SET, key, signal).catch(() => undefined)
    const rec = this.local(RecordKind.LEASE_SET, key)
    if (rec?.kind !== RecordKind.LEASE_SET) throw new NotFoundError(`no LeaseSet for ${toHex(key).slice(0, 16)}…`)
    return rec.leaseSet
  }

  /**
   * The record of `kind` under `key`: local if stored, else found by an iterative lookup.
   * Rejects with NotFoundError within `lookupDeadlineMs`, AbortError on `signal`.
   */
  async lookup (kind: RecordKind, key: Uint8Array, signal?: AbortSignal): Promise<NetDbRecord> {
    const local = this.local(kind, key)
    if (local !== undefined) return local
    const { record, lookup } = await this.iterate(kind, key, signal)
    if (record !== undefined) {
      this.counters.found++
      this.noteHops(lookup.stats.hops)
      return record
    }
    this.counters.notFound++
    throw new NotFoundError(`no ${kind === RecordKind.ROUTER_INFO ? 'RouterInfo' : 'LeaseSet'} for ${toHex(key).slice(0, 16)}… (${lookup.state} after ${lookup.stats.queries} queries)`)
  }

  /** Explores toward `key` (random by default) to learn routers; returns how many are known after. */
  async explore (key: Uint8Array = this.deps.crypto.randomBytes(32), signal?: AbortSignal): Promise<number> {
    await this.iterate(LookupKind.EXPLORE, key, signal)
    return this.table.size
  }

  /** Runs one iterative lookup to its end. */
  private async iterate (kind: LookupKind, key: Uint8Array, signal?: AbortSignal): Promise<{ record?: NetDbRecord, lookup: Lookup<NetDbPeer> }> {
    if (this.closed) throw new ClosedError('netDb is stopped')
    const seeds = this.table.closest(key, this.o.lookupK * 2, id => this.banned(id))
    const lookup = new Lookup<NetDbPeer>(key, seeds, {
      alpha: this.o.alpha, k: this.o.lookupK, queryTimeoutMs: this.o.queryTimeoutMs, deadlineMs: this.o.lookupDeadlineMs
    }, this.deps.clock.now(), this.deps.ownId)
    let record: NetDbRecord | undefined
    let wake: () => void = () => {}
    const mine = new Set<number>()
    const onAbort = (): void => { wake() }
    signal?.addEventListener('abort', onAbort)
    try {
      while (!lookup.done && !this.closed) {
        if (signal?.aborted === true) throw new AbortError('lookup aborted')
        const now = this.deps.clock.now()
        for (const peer of lookup.poll(now)) {
          const queryId = this.newId()
          mine.add(queryId)
          this.pending.set(queryId, { lookup, peer, kind, key, onRecord: (r) => { record = r }, wake: () => { wake() } })
          this.deps.send(peer.rec.info, encodeNetDb({ type: NetDbType.LOOKUP, queryId, kind, key, priority: this.acct.offer() }))
            .catch(() => { this.failQuery(queryId) })
        }
        if (lookup.done) break
        const due = lookup.nextDeadline()
        await new Promise<void>((resolve) => {
          const t = due !== undefined ? setTimeout(resolve, Math.max(0, due - this.deps.clock.now()) + 1) : undefined
          wake = () => { if (t !== undefined) clearTimeout(t); resolve() }
        })
      }
      if (signal?.aborted === true) throw new AbortError('lookup aborted')
    } finally {
      signal?.removeEventListener('abort', onAbort)
      for (const id of mine) this.pending.delete(id)
    }
    return record !== undefined ? { record, lookup } : { lookup }
  }

  private failQuery (queryId: number): void {
    const p = this.pending.get(queryId)
    if (p === undefined) return
    this.pending.delete(queryId)
    this.table.markFailed(p.peer.id, this.deps.clock.now())
    p.lookup.onFailure(p.peer.id, this.deps.clock.now())
    p.wake()
  }

  // ---- publishing ----

  /**
   * Publishes a LeaseSet we own: stores it here and at the `replication` routers closest to
   * its key, and republishes it every `republishMs` until it expires or is replaced. Resolves
   * with how many routers acknowledged it.
   */
  async publishLeaseSet (ls: Verified<LeaseSet>): Promise<number> {
    const rec = leaseSetRecord(this.deps.crypto, ls)
    if (rec.expires <= this.deps.clock.wall()) throw new LimitError('LeaseSet has expired')
    this.owned.set(rec.keyHex, rec)
    this.store.put(rec)
    return await this.publish(rec)
  }

  /** Publishes our own RouterInfo (call after the router re-signs it). */
  async publishSelf (): Promise<number> {
    return await this.publish(this.publishSelfLocal())
  }

  /** Stores `rec` at the routers closest to its key (found by an exploration); returns the acknowledgements. */
  async publish (rec: NetDbRecord): Promise<number> {
    // The closest routers that answered the exploration: our own table may hold none of them
    // (its far buckets are full), so it only fills in when the lookup found too few.
    const found = await this.iterate(LookupKind.EXPLORE, rec.key).then(r => r.lookup.closest(this.o.replication), () => [])
    const seen = new Set(found.map(p => toHex(p.id)))
    const more = this.table.closest(rec.key, this.o.replication, id => this.banned(id) || seen.has(toHex(id)))
    const targets = [...found, ...more].sort((a, b) => compareDistance(rec.key, a.id, b.id)).slice(0, this.o.replication)
    const results = await Promise.all(targets.map(async p => await this.storeAt(p, rec)))
    const n = results.filter(Boolean).length
    this.log.debug('published', { kind: rec.kind, key: rec.keyHex.slice(0, 16), acks: n, of: targets.length })
    return n
  }

  /**
   * Keeps the valid seed RouterInfos (bytes) and publishes our own RouterInfo, which explores
   * toward our ID on the way; returns routers known after.
   */
  async bootstrap (seeds: Uint8Array[]): Promise<number> {
    for (const raw of seeds) {
      try {
        this.acceptRouterInfo(raw)
      } catch (err) {
        this.log.warn('seed RouterInfo rejected', { err: err instanceof Error ? err.message : String(err) })
      }
    }
    await this.publishSelf()
    return this.table.size
  }

  private async storeAt (p: NetDbPeer, rec: NetDbRecord): Promise<boolean> {
    const token = this.newId()
    return await new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => { clearTimeout(t); this.acks.delete(token); resolve(ok) }
      const t = setTimeout(() => { done(false) }, this.o.storeTimeoutMs)
      this.acks.set(token, done)
      this.deps.send(p.rec.info, encodeNetDb({ type: NetDbType.STORE, token, kind: rec.kind, record: rec.raw, priority: this.acct.offer() }))
        .catch(() => { this.table.markFailed(p.id, this.deps.clock.now()); done(false) })
    })
  }

  private publishSelfLocal (): RouterInfoRecord {
    const rec = routerInfoRecord(this.deps.crypto, this.deps.self(), this.o.policy)
    this.store.put(rec)
    this.owned.set(rec.keyHex, rec)
    return rec
  }

  private republishOwned (): void {
    const now = this.deps.clock.wall()
    for (const [k, rec] of this.owned) {
      if (rec.kind === RecordKind.ROUTER_INFO) { this.publishSelf().catch(() => {}); continue }
      if (rec.expires <= now || this.store.get(rec.kind, rec.key) !== rec) { this.owned.delete(k); continue }
      this.publish(rec).catch(() => {})
    }
  }

  // ---- helpers ----

  /** Explores after `delay`, then again after twice that, up to `exploreMs`: a young router fills its table fast. */
  private scheduleExplore (delay: number): void {
    if (this.closed) return
    const t = setTimeout(() => {
      this.timers = this.timers.filter(x => x !== t)
      this.explore().catch(() => 0).finally(() => { this.scheduleExplore(Math.min(this.o.exploreMs, delay * 2)) })
    }, delay).unref()
    this.timers.push(t)
  }

  private prune (): void {
    const n = this.store.prune(this.deps.clock.wall())
    for (const p of this.table.all()) if (this.store.get(RecordKind.ROUTER_INFO, p.id) === undefined) this.table.remove(p.id)
    if (n > 0) this.log.debug('pruned expired records', { n })
  }

  private local (kind: RecordKind, key: Uint8Array): NetDbRecord | undefined {
    const rec = this.store.get(kind, key)
    return rec !== undefined && rec.expires > this.deps.clock.wall() ? rec : undefined
  }

  private addPeer (rec: RouterInfoRecord): void {
    if (this.deps.crypto.equal(rec.key, this.deps.ownId) || this.banned(rec.key)) return
    this.table.add({ id: rec.key, rec }, this.deps.clock.now())
  }

  /** Verifies a record from `from`; on failure counts the poison and returns undefined. */
  private verify (from: Uint8Array, kind: RecordKind, bytes: Uint8Array, expectKey?: Uint8Array): NetDbRecord | undefined {
    const held = this.held(kind, bytes)
    if (held !== undefined && (expectKey === undefined || compareBytes(held.key, expectKey) === 0)) return held
    try {
      return verifyRecord(this.deps.crypto, kind, bytes, this.deps.clock.wall(), this.o.policy, expectKey)
    } catch (err) {
      const name = err instanceof Error ? err.name : ''
      this.poison(from, name === 'CryptoError' ? 'signature' : name === 'LimitError' ? 'time' : 'malformed')
      return undefined
    }
  }

  /** The record we hold with exactly these bytes, still unexpired: verified once, no second signature check. */
  private held (kind: RecordKind, bytes: Uint8Array): NetDbRecord | undefined {
    const key = claimedKey(this.deps.crypto, kind, bytes)
    const rec = key !== undefined ? this.store.get(kind, key) : undefined
    return rec !== undefined && rec.expires > this.deps.clock.wall() && compareBytes(rec.raw, bytes) === 0 ? rec : undefined
  }

  private poison (from: Uint8Array, why: 'malformed' | 'signature' | 'time'): void {
    this.counters[why]++
    const hex = toHex(from)
    this.log.debug('rejected record', { from: hex.slice(0, 16), why })
    if (this.guard.penalize(hex, this.deps.clock.now())) {
      this.log.warn('peer banned for sending bad records', { peer: hex.slice(0, 16) })
      this.table.remove(from)
      const rec = this.store.get(RecordKind.ROUTER_INFO, from)
      if (rec !== undefined) this.store.remove(rec)
      this.deps.onBan?.(from)
    }
  }

  private reply (to: Uint8Array, msg: Uint8Array): void {
    try { this.deps.reply(to, msg) } catch (err) { this.log.debug('reply not sent', { peer: toHex(to).slice(0, 16), err: String(err) }) }
  }

  private noteHops (h: number): void {
    if (this.hops.length >= 1000) this.hops.shift()
    this.hops.push(h)
  }

  private newId (): number {
    this.nextId = this.nextId >= 0xffff_fffe ? 1 : this.nextId + 1
    return this.nextId
  }
}
