/**
 * The router's embedded database: one LMDB environment (lmdb-js) in one directory of the data
 * dir, one named LMDB sub-database per bucket, raw byte keys and values. Reads are synchronous
 * lookups in the memory map; every value handed out is a copy. Writes go to lmdb-js's write
 * thread, which commits all writes queued in one event-loop turn (and those queued while a commit
 * is running) as one transaction with one fsync: group commit, off the event loop. A put's or
 * delete's promise resolves only after its transaction is synced (`overlappingSync: false`).
 *
 * One process at a time: a lock file names the owner, and a second open while it lives fails
 * with a ConfigError. Before LMDB sees the data file its two meta pages are checked, because
 * lmdb-js 3.5 crashes the process (SIGSEGV) when LMDB refuses to open a file.
 * Not here: what goes in the buckets, record encodings, migrations (see docs/persistence.md).
 */
import { open as openLmdb, type Database, type RootDatabase } from 'lmdb'
import { constants, promises as fs, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ClosedError, ConfigError, LimitError } from './errors.ts'
import type { DataStore, KeyRange, KvBucket } from './kv.ts'

/** Longest key in bytes (LMDB's portable key limit). */
export const MAX_KEY_BYTES = 511
/** Default bound on a value's size in bytes (1 MiB). */
export const MAX_VALUE_BYTES = 1 << 20
/** What a bucket name may look like. */
const BUCKET_NAME = /^[a-z0-9-]{1,32}$/

/** Name of the lock file in the database directory: `<pid> <process start time>`. */
export const LOCK_FILE = 'umbra.lock'

/** Settings of {@link openDataStore}. */
export interface DataStoreOptions {
  /** Most buckets the database can hold; fixed while it is open. Default 64. */
  maxBuckets?: number
  /** Largest value in bytes; a larger put rejects with LimitError. Default {@link MAX_VALUE_BYTES}. */
  maxValueBytes?: number
}

type Bytes = Database<Uint8Array, Uint8Array>
const MDB_MAGIC = 0xbeefc0de
/** In LMDB's meta page (64-bit layout): page header 24 B, then magic, version, …, page size at 48. */
const META_MAGIC = 24
const META_VERSION = 28
const META_PSIZE = 48
const META_END = 168

/**
 * Opens (creating it 0700 if needed) the database in `dir`. Rejects with ConfigError if another
 * live process (or this one) has it open, or if its data file is not a sound LMDB file.
 */
export async function openDataStore (dir: string, opts: DataStoreOptions = {}): Promise<DataStore> {
  const maxBuckets = opts.maxBuckets ?? 64
  const maxValue = opts.maxValueBytes ?? MAX_VALUE_BYTES
  if (!Number.isInteger(maxBuckets) || maxBuckets < 1 || maxBuckets > 1024) throw new ConfigError('maxBuckets must be 1..1024')
  if (!Number.isInteger(maxValue) || maxValue < 1) throw new ConfigError('maxValueBytes must be a positive integer')
  await fs.mkdir(dir, { recursive: true, mode: 0o700 })
  await fs.chmod(dir, 0o700)
  const unlock = await lockDir(dir)
  let root: RootDatabase<Uint8Array, Uint8Array>
  try {
    await checkFiles(dir)
    root = openLmdb<Uint8Array, Uint8Array>({
      path: dir, noSubdir: false, encoding: 'binary', keyEncoding: 'binary',
      overlappingSync: false, maxDbs: maxBuckets, cache: false
    })
  } catch (err) {
    await unlock()
    if (err instanceof ConfigError) throw err
    throw new ConfigError(`cannot open the database in ${dir}: ${String(err)}`, { cause: err })
  }
  return new LmdbStore(dir, root, maxBuckets, maxValue, unlock)
}

class LmdbStore implements DataStore {
  private readonly buckets = new Map<string, LmdbBucket>()
  private readonly pending = new Set<Promise<unknown>>()
  closed = false

  constructor (private readonly dir: string, private readonly root: RootDatabase<Uint8Array, Uint8Array>,
    private readonly maxBuckets: number, readonly maxValue: number, private readonly unlock: () => Promise<void>) {}

  bucket (name: string): KvBucket {
    this.check()
    if (!BUCKET_NAME.test(name)) throw new ConfigError(`bad bucket name ${JSON.stringify(name)}: use [a-z0-9-]{1,32}`)
    let b = this.buckets.get(name)
    if (b === undefined) {
      if (this.buckets.size >= this.maxBuckets) throw new LimitError(`more than ${this.maxBuckets} buckets in ${this.dir}`)
      b = new LmdbBucket(this, this.root.openDB<Uint8Array, Uint8Array>(name, { encoding: 'binary', keyEncoding: 'binary', cache: false }))
      this.buckets.set(name, b)
    }
    return b
  }

  /** Tracks a write so that close() can wait for it. */
  track (p: Promise<unknown>): Promise<void> {
    this.pending.add(p)
    return p.then(() => {}).finally(() => { this.pending.delete(p) })
  }

  check (): void {
    if (this.closed) throw new ClosedError(`the database in ${this.dir} is closed`)
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.allSettled([...this.pending])
    await this.root.close()
    await this.unlock()
  }
}

class LmdbBucket implements KvBucket {
  constructor (private readonly store: LmdbStore, private readonly db: Bytes) {}

  get (key: Uint8Array): Uint8Array | undefined {
    this.store.check()
    checkKey(key)
    const v = this.db.getBinary(key)
    return v === undefined ? undefined : new Uint8Array(v)
  }

  async put (key: Uint8Array, value: Uint8Array): Promise<void> {
    this.store.check()
    checkKey(key)
    if (!(value instanceof Uint8Array)) throw new LimitError('value must be a Uint8Array')
    if (value.length > this.store.maxValue) throw new LimitError(`value of ${value.length} bytes is over the ${this.store.maxValue}-byte limit`)
    // lmdb-js reads the bytes later, on its write thread: hand it a private copy.
    await this.store.track(this.db.put(copy(key), copy(value)))
  }

  async delete (key: Uint8Array): Promise<void> {
    this.store.check()
    checkKey(key)
    await this.store.track(this.db.remove(copy(key)))
  }

  entries (range: KeyRange = {}): IterableIterator<[Uint8Array, Uint8Array]> {
    this.store.check()
    return this.walk(this.db.getRange(bounds(range)), r => [new Uint8Array(r.key), new Uint8Array(r.value)])
  }

  keys (range: KeyRange = {}): IterableIterator<Uint8Array> {
    this.store.check()
    return this.walk(this.db.getKeys(bounds(range)), k => new Uint8Array(k))
  }

  /** Yields `map` of each item of an lmdb-js range, ending it early if the caller stops; ClosedError if the store closes meanwhile. */
  private * walk<T, U> (range: Iterable<T>, map: (item: T) => U): IterableIterator<U> {
    const it = range[Symbol.iterator]()
    try {
      while (true) {
        this.store.check()
        const r = it.next()
        if (r.done === true) return
        yield map(r.value)
      }
    } finally {
      if (!this.store.closed) it.return?.()
    }
  }

  count (): number {
    this.store.check()
    return this.db.getCount()
  }
}

function checkKey (key: Uint8Array): void {
  if (!(key instanceof Uint8Array)) throw new LimitError('key must be a Uint8Array')
  if (key.length === 0 || key.length > MAX_KEY_BYTES) throw new LimitError(`key of ${key.length} bytes: keys are 1..${MAX_KEY_BYTES} bytes`)
}

/** lmdb-js range options of `range` (copies of its bounds). */
function bounds (range: KeyRange): { start?: Uint8Array, end?: Uint8Array } {
  return {
    ...(range.start !== undefined ? { start: copy(range.start) } : {}),
    ...(range.end !== undefined ? { end: copy(range.end) } : {})
  }
}

function copy (b: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(b)
}

/**
 * Refuses a data file that LMDB would refuse (lmdb-js 3.5 segfaults on that) or that is not
 * ours to write. Checks both meta pages' magic, page number and version; a missing or empty
 * data file is fine (LMDB creates one). Deeper damage (a bad data page) is not detected here.
 */
async function checkFiles (dir: string): Promise<void> {
  const file = join(dir, 'data.mdb')
  for (const f of [dir, file, join(dir, 'lock.mdb')]) {
    try {
      await fs.access(f, constants.R_OK | constants.W_OK)
    } catch (err) {
      if (f !== dir && (err as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw new ConfigError(`cannot read and write ${f}: fix its owner or permissions`, { cause: err })
    }
  }
  let head: Buffer
  try {
    const h = await fs.open(file, 'r')
    try {
      const size = (await h.stat()).size
      if (size === 0) return
      head = Buffer.alloc(Math.min(size, 65536 + META_END))
      await h.read(head, 0, head.length, 0)
    } finally { await h.close() }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  const corrupt = (why: string): ConfigError => new ConfigError(
    `the database in ${dir} is corrupt or not an Umbra database (${why}); move ${dir} away to start with an empty one`)
  if (head.length < META_END) throw corrupt('data file too short')
  const psize = head.readUInt32LE(META_PSIZE)
  if (psize < 512 || psize > 65536 || (psize & (psize - 1)) !== 0) throw corrupt('bad page size')
  if (head.length < psize + META_END) throw corrupt('data file too short')
  for (const page of [0, 1]) {
    const at = page * psize
    if (head.readUInt32LE(at + META_MAGIC) !== MDB_MAGIC || head.readBigUInt64LE(at) !== BigInt(page)) {
      throw corrupt(`meta page ${page} is damaged`)
    }
  }
  if (head.readUInt32LE(META_VERSION) !== head.readUInt32LE(psize + META_VERSION)) throw corrupt('meta pages disagree on the version')
}

/** Takes the lock file of `dir` (or fails with ConfigError); resolves to its release. */
async function lockDir (dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE)
  const me = `${process.pid} ${startTime(process.pid)}\n`
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fs.writeFile(path, me, { flag: 'wx', mode: 0o600 })
      return async () => {
        const now = await fs.readFile(path, 'utf8').catch(() => '')
        if (now === me) await fs.rm(path, { force: true })
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const [pidText = '', start = ''] = (await fs.readFile(path, 'utf8').catch(() => '')).trim().split(' ')
    const pid = Number(pidText)
    if (Number.isSafeInteger(pid) && pid > 0 && isAlive(pid, start)) {
      throw new ConfigError(pid === process.pid
        ? `the database in ${dir} is already open in this process`
        : `the database in ${dir} is in use by process ${pid}: stop it, or use another data directory`)
    }
    // The owner died without closing (crash, SIGKILL): its lock is stale.
    await fs.rm(path, { force: true })
  }
  throw new ConfigError(`could not lock the database in ${dir}: another process keeps taking ${path}`)
}

/** Whether `pid` runs and is the process that wrote the lock (not a later one given the same pid). */
function isAlive (pid: number, start: string): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  const stat = procStat(pid)
  if (stat === undefined) return true
  if (stat[0] === 'Z') return false
  return start === '' || stat[19] === start
}

/** The process's start time (clock ticks since boot) on Linux, else ''. */
function startTime (pid: number): string {
  return procStat(pid)?.[19] ?? ''
}

/** Fields of /proc/<pid>/stat after the command name (field 3 first), or undefined. */
function procStat (pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const close = text.lastIndexOf(')')
    return close < 0 ? undefined : text.slice(close + 2).split(' ')
  } catch {
    return undefined
  }
}
