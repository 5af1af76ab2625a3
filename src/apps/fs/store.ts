/**
 * The file-sharing app's local block store: this node's share of the distributed store, in the
 * embedded database under a disk quota, with expiry and eviction by priority and popularity
 * (GNUnet's "content priority": when full, expired blocks go first, then the lowest priority +
 * popularity). Blocks are opaque, verified by the caller (hash or signature); nothing is logged.
 * CHK blocks: at most 32 KiB, one per 32-byte query. KBlocks: at most 4 KiB, up to `maxPerQuery`
 * per query, told apart by their BLAKE2b-256 content hash.
 *
 * Record layouts: buckets `fs-data` and `fs-meta` share the key.
 *   key             CHK: query (32 B); KBlock: query (32 B) || BLAKE2b-256(block) (32 B)
 *   `fs-data` value the block's bytes as given
 *   `fs-meta` value 15 bytes, big-endian:
 *     [0]       kind        u8   1 = CHK, 2 = KBlock
 *     [1, 3)    priority    u16
 *     [3, 7)    expiresAt   u32  seconds since the Unix epoch
 *     [7, 11)   popularity  u32  requests served (saturating)
 *     [11, 15)  size        u32  length of the `fs-data` value
 * A block's data and meta (and the deletes of whatever it evicts) are issued in one event-loop
 * turn, so they commit in one transaction. Open reconciles anyway: a meta without data, data
 * without meta, or a malformed meta is deleted (a meta whose size does not match its data, from
 * an older bug or damage, when the block is read); if the store holds more than a lowered quota
 * allows, the lowest-scoring blocks are evicted.
 *
 * All metas live in an in-memory index (bounded by `maxEntries`), so usage and eviction never
 * scan the database; open reads every meta but only the keys of the blocks, so it takes the
 * same short time whatever the blocks weigh. A block whose length does not match its meta
 * (damage on disk) is found when it is read: it is dropped, not served.
 * Popularity is counted in memory and written back lazily, without timers: by the first put or
 * sweep at least 30 s after the last write-back, and on close. A crash may lose recent popularity.
 */
import type { CryptoSuite } from '../../crypto/types.ts'
import { compareBytes, fromHex, getU32, toHex } from '../../util/bytes.ts'
import { ClosedError, ConfigError, DecodeError, LimitError } from '../../util/errors.ts'
import type { DataStore, KvBucket } from '../../util/kv.ts'

/** What a block is: a content-hash-keyed CHK block or a signed keyword block (KBlock). */
export type BlockKind = 'chk' | 'kblock'

const QUERY_BYTES = 32
const MAX_BYTES: Record<BlockKind, number> = { chk: 32 * 1024, kblock: 4 * 1024 }
const KIND_BYTE: Record<BlockKind, number> = { chk: 1, kblock: 2 }
const MAX_PRIORITY = 65_535
const MAX_U32 = 0xffff_ffff
const META_BYTES = 15
const POPULARITY_FLUSH_MS = 30_000

/**
 * Settings of {@link BlockStore.open}: `quotaBytes` (sum of stored block bytes allowed, LMDB's
 * overhead not counted; a positive integer), `maxPerQuery` (KBlocks kept per query, default 64),
 * `maxEntries` (most blocks kept, bounding the in-memory index when blocks are small; default
 * max(1024, ceil(quotaBytes / 2048)); at this count the store evicts as when full), `now` (ms
 * clock, default Date.now).
 */
export interface StoreOptions { quotaBytes: number, maxPerQuery?: number, maxEntries?: number, now?: () => number }

/** Settings of a put: `priority` an integer 0..65535, `expiresAtSec` a u32 in the future (Unix seconds). */
export interface PutOptions { priority: number, expiresAtSec: number }

/** What {@link BlockStore.put} did: stored it, had it already, or refused it for lack of room. */
export type PutResult = 'stored' | 'exists' | 'full'

/** Counters: `bytes` stored (sum of block sizes), quota, blocks of each kind, since open `evicted` and `refused` ('full'). */
export interface StoreUsage { bytes: number, quotaBytes: number, chk: number, kblocks: number, evicted: number, refused: number }

/** One stored block as listed by {@link BlockStore.entries} (`bytes` is its size). */
export interface StoreEntry { kind: BlockKind, query: Uint8Array, bytes: number, priority: number, expiresAtSec: number, popularity: number }

interface Entry { hex: string, kind: BlockKind, size: number, priority: number, expiresAtSec: number, popularity: number }
type Writes = Array<Promise<void>>

/** The local block store; see the module doc. */
export class BlockStore {
  private readonly index = new Map<string, Entry>()
  private readonly byQuery = new Map<string, Set<Entry>>()
  private readonly dirty = new Set<Entry>()
  private readonly inflight = new Set<Promise<void>>()
  private readonly n = { bytes: 0, chk: 0, evicted: 0, refused: 0 }
  private lastFlush: number
  private closed = false

  private constructor (private readonly data: KvBucket, private readonly meta: KvBucket, private readonly crypto: CryptoSuite,
    private readonly quota: number, private readonly maxPerQuery: number, private readonly maxEntries: number, private readonly now: () => number) {
    this.lastFlush = now()
  }

  /** Opens the store in `db`, reconciles it and loads its index. ConfigError for bad options. */
  static async open (db: DataStore, crypto: CryptoSuite, opts: StoreOptions): Promise<BlockStore> {
    const bad = (v: number | undefined): boolean => v !== undefined && !(Number.isSafeInteger(v) && v > 0)
    for (const k of ['quotaBytes', 'maxPerQuery', 'maxEntries'] as const) {
      if (bad(opts[k]) || opts.quotaBytes === undefined) throw new ConfigError(`block store ${k} must be a positive integer`)
    }
    const store = new BlockStore(db.bucket('fs-data'), db.bucket('fs-meta'), crypto, opts.quotaBytes, opts.maxPerQuery ?? 64,
      opts.maxEntries ?? Math.max(1024, Math.ceil(opts.quotaBytes / 2048)), opts.now ?? Date.now)
    await store.load()
    return store
  }

  /** Whether a live (unexpired) CHK block is stored under `query` (DecodeError unless 32 bytes). */
  has (query: Uint8Array): boolean { return this.liveChk(query) !== undefined }

  /** The live CHK block under `query`, counting one request for its popularity. */
  get (query: Uint8Array): Uint8Array | undefined {
    const e = this.liveChk(query)
    const block = e === undefined ? undefined : this.read(e)
    if (block !== undefined) this.bump(e!)
    return block
  }

  /**
   * Up to `max` (default maxPerQuery) live KBlocks under `query`, highest priority + popularity
   * first; each one returned counts one request for its popularity.
   */
  kblocks (query: Uint8Array, max = this.maxPerQuery): Uint8Array[] {
    this.check()
    checkQuery(query)
    if (!Number.isSafeInteger(max) || max < 0) throw new ConfigError('max must be a non-negative integer')
    const now = this.now()
    const live = [...this.byQuery.get(toHex(query)) ?? []].filter(e => alive(e, now))
      .sort((a, b) => (b.priority + b.popularity) - (a.priority + a.popularity) || (a.hex < b.hex ? -1 : 1))
    const out: Uint8Array[] = []
    for (const e of live.slice(0, max)) {
      const block = this.read(e)
      if (block !== undefined) { out.push(block); this.bump(e) }
    }
    return out
  }

  /**
   * Stores `block` under `query`; resolves once durable. 'exists' if already stored (a higher
   * priority or later expiry raises the stored one's: a republish refreshes). 'full' if it does
   * not fit even after evicting every block scoring (priority + popularity, expired −∞) strictly
   * below its priority, lowest first; nothing is evicted then. A KBlock beyond maxPerQuery
   * replaces the one expiring soonest if it expires later, else is 'full'. Caller errors:
   * DecodeError (query not 32 bytes, empty KBlock), LimitError (block over its kind's limit,
   * priority or expiry out of range), ConfigError (unknown kind, expiry already past). If the
   * database write fails, put rejects and the index may be ahead of the disk until reopened.
   */
  async put (kind: BlockKind, query: Uint8Array, block: Uint8Array, opts: PutOptions): Promise<PutResult> {
    this.check()
    checkQuery(query)
    if (kind !== 'chk' && kind !== 'kblock') throw new ConfigError(`unknown block kind ${String(kind)}`)
    // The empty file's one block is empty; a KBlock never is.
    if (!(block instanceof Uint8Array) || (block.length === 0 && kind === 'kblock')) throw new DecodeError('a block must be a Uint8Array (non-empty for a KBlock)')
    if (block.length > MAX_BYTES[kind]) throw new LimitError(`${kind} block of ${block.length} bytes is over ${MAX_BYTES[kind]}`)
    const { priority, expiresAtSec } = opts
    if (!Number.isInteger(priority) || priority < 0 || priority > MAX_PRIORITY) throw new LimitError(`priority ${priority} is not 0..${MAX_PRIORITY}`)
    if (!Number.isInteger(expiresAtSec) || expiresAtSec < 0 || expiresAtSec > MAX_U32) throw new LimitError(`expiresAtSec ${expiresAtSec} is not a u32`)
    const now = this.now()
    if (expiresAtSec * 1000 <= now) throw new ConfigError('block already expired')
    const qhex = toHex(query)
    const hex = kind === 'chk' ? qhex : qhex + toHex(this.crypto.blake2b(block, 32))
    const writes: Writes = []
    let result: PutResult = 'exists'
    const old = this.index.get(hex)
    if (old !== undefined && (priority > old.priority || expiresAtSec > old.expiresAtSec)) {
      old.priority = Math.max(old.priority, priority)
      old.expiresAtSec = Math.max(old.expiresAtSec, expiresAtSec)
      this.dirty.delete(old)
      writes.push(this.meta.put(fromHex(hex), encodeMeta(old)))
    } else if (old === undefined) {
      const victims = this.makeRoom(kind, qhex, block.length, priority, expiresAtSec, now)
      result = victims === undefined ? 'full' : 'stored'
      if (victims === undefined) this.n.refused++
      else {
        for (const v of victims) writes.push(...this.remove(v))
        this.n.evicted += victims.length
        const e: Entry = { hex, kind, size: block.length, priority, expiresAtSec, popularity: 0 }
        this.add(e)
        writes.push(this.data.put(fromHex(hex), block), this.meta.put(fromHex(hex), encodeMeta(e)))
      }
    }
    await this.commit(now, writes)
    return result
  }

  /** Deletes every expired block; resolves (once durable) to how many. */
  async sweep (): Promise<number> {
    this.check()
    const now = this.now()
    const expired = [...this.index.values()].filter(e => !alive(e, now))
    const writes = expired.flatMap(e => this.remove(e))
    await this.commit(now, writes)
    return expired.length
  }

  /** Every stored block's meta, expired ones included (until swept or evicted), in no set order. */
  * entries (): IterableIterator<StoreEntry> {
    this.check()
    for (const { hex, kind, size, priority, expiresAtSec, popularity } of [...this.index.values()]) {
      yield { kind, query: fromHex(hex.slice(0, 2 * QUERY_BYTES)), bytes: size, priority, expiresAtSec, popularity }
    }
  }

  /** Current counters. */
  usage (): StoreUsage {
    const { bytes, chk, evicted, refused } = this.n
    return { bytes, quotaBytes: this.quota, chk, kblocks: this.index.size - chk, evicted, refused }
  }

  /**
   * Writes back popularity and waits for pending writes; later use throws ClosedError. Does not
   * close the DataStore (rejects if that was closed first; the unwritten popularity is lost).
   */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    const done = Promise.all([...this.dirty].map(e => this.meta.put(fromHex(e.hex), encodeMeta(e))))
    this.dirty.clear()
    await Promise.allSettled([...this.inflight, done])
    await done
  }

  /**
   * The block of `e`, or undefined: not on disk yet (its put is still being written), or its
   * length is not the one its meta gives (damage on disk: open does not read blocks), in which
   * case `e` is dropped from the index and the database.
   */
  private read (e: Entry): Uint8Array | undefined {
    const block = this.data.get(fromHex(e.hex))
    if (block === undefined || block.length === e.size) return block
    this.track(this.remove(e)).catch(() => {})
    return undefined
  }

  /** Reconciles the two buckets (merging metas with block keys, in key order) and loads the index. */
  private async load (): Promise<void> {
    const drop: Array<[KvBucket, Uint8Array]> = []
    const metas = this.meta.entries()
    const datas = this.data.keys()
    let [m, d] = [metas.next(), datas.next()]
    while (m.done !== true || d.done !== true) {
      const c = m.done === true ? 1 : d.done === true ? -1 : compareBytes(m.value[0], d.value)
      const e = c === 0 ? decodeMeta(m.value![0], m.value![1]) : undefined
      if (e !== undefined) this.add(e)
      if (c <= 0) { if (e === undefined) drop.push([this.meta, m.value![0]]); m = metas.next() }
      if (c >= 0) { if (e === undefined) drop.push([this.data, d.value!]); d = datas.next() }
    }
    const writes = drop.map(([bucket, key]) => bucket.delete(key))
    const now = this.now()
    for (const e of ascending([...this.index.values()], now)) {
      if (this.n.bytes <= this.quota && this.index.size <= this.maxEntries) break
      writes.push(...this.remove(e))
      this.n.evicted++
    }
    await Promise.all(writes)
  }

  /** The blocks to evict so that a new one fits, or undefined if it cannot (see put). */
  private makeRoom (kind: BlockKind, qhex: string, size: number, priority: number, expiresAtSec: number, now: number): Entry[] | undefined {
    if (size > this.quota) return undefined
    const victims: Entry[] = []
    let free = this.quota - this.n.bytes
    const set = kind === 'kblock' ? this.byQuery.get(qhex) : undefined
    if (set !== undefined && set.size >= this.maxPerQuery) {
      const soonest = [...set].reduce((a, b) => b.expiresAtSec < a.expiresAtSec ? b : a)
      if (soonest.expiresAtSec >= expiresAtSec) return undefined
      victims.push(soonest)
      free += soonest.size
    }
    const fits = (): boolean => free >= size && this.index.size - victims.length < this.maxEntries
    if (fits()) return victims
    const candidates = [...this.index.values()].filter(e => score(e, now) < priority && e !== victims[0])
    for (const e of ascending(candidates, now)) {
      victims.push(e)
      free += e.size
      if (fits()) return victims
    }
    return undefined
  }

  private add (e: Entry): void {
    this.index.set(e.hex, e)
    this.n.bytes += e.size
    if (e.kind === 'chk') { this.n.chk++; return }
    const q = e.hex.slice(0, 2 * QUERY_BYTES)
    const set = this.byQuery.get(q) ?? new Set()
    this.byQuery.set(q, set.add(e))
  }

  /** Drops `e` from the index; returns the deletes of its data and meta. */
  private remove (e: Entry): Writes {
    this.index.delete(e.hex)
    this.dirty.delete(e)
    this.n.bytes -= e.size
    if (e.kind === 'chk') this.n.chk--
    const q = e.hex.slice(0, 2 * QUERY_BYTES)
    const set = this.byQuery.get(q)
    if (set?.delete(e) === true && set.size === 0) this.byQuery.delete(q)
    const key = fromHex(e.hex)
    return [this.data.delete(key), this.meta.delete(key)]
  }

  private liveChk (query: Uint8Array): Entry | undefined {
    this.check()
    checkQuery(query)
    const e = this.index.get(toHex(query))
    return e !== undefined && alive(e, this.now()) ? e : undefined
  }

  private bump (e: Entry): void { e.popularity = Math.min(MAX_U32, e.popularity + 1); this.dirty.add(e) }

  /** Queues the write-back of changed popularity if the last one was 30 s ago or more. */
  private flushIfDue (now: number, writes: Writes): void {
    if (this.dirty.size === 0 || now - this.lastFlush < POPULARITY_FLUSH_MS) return
    for (const e of this.dirty) writes.push(this.meta.put(fromHex(e.hex), encodeMeta(e)))
    this.dirty.clear()
    this.lastFlush = now
  }

  /** Adds the popularity write-back if due, waits for `writes` (tracked, so close() waits too). */
  private async commit (now: number, writes: Writes): Promise<void> {
    this.flushIfDue(now, writes)
    await this.track(writes)
  }

  /** Waits for `writes`, tracked so that close() waits for them too. */
  private async track (writes: Writes): Promise<void> {
    const all = Promise.all(writes).then(() => {})
    this.inflight.add(all)
    await all.finally(() => this.inflight.delete(all))
  }

  private check (): void { if (this.closed) throw new ClosedError('the block store is closed') }
}

function checkQuery (q: Uint8Array): void { if (!(q instanceof Uint8Array) || q.length !== QUERY_BYTES) throw new DecodeError('a query must be 32 bytes') }

function alive (e: Entry, nowMs: number): boolean { return e.expiresAtSec * 1000 > nowMs }

/** Eviction score: priority + popularity, −∞ once expired. */
function score (e: Entry, nowMs: number): number { return alive(e, nowMs) ? e.priority + e.popularity : -Infinity }

function encodeMeta (e: Entry): Uint8Array {
  const b = new Uint8Array(META_BYTES)
  const v = new DataView(b.buffer)
  v.setUint8(0, KIND_BYTE[e.kind]); v.setUint16(1, e.priority); v.setUint32(3, e.expiresAtSec); v.setUint32(7, e.popularity); v.setUint32(11, e.size)
  return b
}

/** The entry of a meta record, or undefined if it is malformed. */
function decodeMeta (key: Uint8Array, v: Uint8Array): Entry | undefined {
  const kind: BlockKind | undefined = v.length !== META_BYTES ? undefined : v[0] === 1 ? 'chk' : v[0] === 2 ? 'kblock' : undefined
  if (kind === undefined || key.length !== (kind === 'chk' ? 1 : 2) * QUERY_BYTES) return undefined
  const size = getU32(v, 11)
  // The empty file's one CHK block is empty; a KBlock never is.
  if ((size === 0 && kind === 'kblock') || size > MAX_BYTES[kind]) return undefined
  return { hex: toHex(key), kind, size, priority: (v[1]! << 8) | v[2]!, expiresAtSec: getU32(v, 3), popularity: getU32(v, 7) }
}

/**
 * Yields `entries` in eviction order: lowest score first (expired first), then earliest expiry,
 * then key. A binary heap, so taking the first few of n costs O(n), not a sort.
 */
function * ascending (entries: Entry[], now: number): Generator<Entry> {
  const h = entries.map(e => ({ e, s: score(e, now) }))
  type I = (typeof h)[number]
  const less = (x: I, y: I): boolean => x.s < y.s || (x.s === y.s &&
    (x.e.expiresAtSec < y.e.expiresAtSec || (x.e.expiresAtSec === y.e.expiresAtSec && x.e.hex < y.e.hex)))
  const down = (i: number, n: number): void => {
    for (let m = i; ; i = m) {
      const l = 2 * i + 1
      if (l < n && less(h[l]!, h[m]!)) m = l
      if (l + 1 < n && less(h[l + 1]!, h[m]!)) m = l + 1
      if (m === i) return
      ;[h[i], h[m]] = [h[m]!, h[i]!]
    }
  }
  for (let i = (h.length >> 1) - 1; i >= 0; i--) down(i, h.length)
  for (let n = h.length; n > 0; n--) { yield h[0]!.e; h[0] = h[n - 1]!; down(0, n - 1) }
}
