/**
 * The file-sharing block store on a real LMDB database: round trips, KBlocks per query, quota
 * and eviction by priority + popularity and expiry, reopening, reconciling orphans, a SIGKILL
 * mid-write, and (on an in-memory DataStore) a property test of the eviction rules.
 */
import t from 'tap'
import type { Test } from 'tap'
import fc from 'fast-check'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BlockStore, type StoreOptions } from '../../../src/apps/fs/store.ts'
import { loadCrypto } from '../../../src/crypto/index.ts'
import { toHex } from '../../../src/util/bytes.ts'
import { openDataStore } from '../../../src/util/datastore.ts'
import { ClosedError, ConfigError, DecodeError, LimitError } from '../../../src/util/errors.ts'
import type { DataStore, KvBucket } from '../../../src/util/kv.ts'
import { EVICT_QUOTA, EXPIRES_AT_SEC, fsBlock } from '../../fixtures/fs-store-writer.ts'

const crypto = await loadCrypto()
const FIXTURE = fileURLToPath(new URL('../../fixtures/fs-store-writer.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const T0 = 1_700_000_000_000
const SEC0 = T0 / 1000

/** A 32-byte query filled with `n`. */
const q = (n: number): Uint8Array => new Uint8Array(32).fill(n)
/** A block of `size` bytes whose content depends on `n`. */
function blk (n: number, size = 1000): Uint8Array {
  const b = new Uint8Array(size)
  for (let i = 0; i < size; i++) b[i] = (n * 131 + i * 7) & 0xff
  return b
}

/** A fresh temp directory (removed at teardown). */
async function tempDir (t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'umbra-fs-store-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A store over a fresh database (both closed at teardown unless closed already), with a settable clock. */
async function fresh (t: Test, opts: Partial<StoreOptions> = {}): Promise<{ store: BlockStore, db: DataStore, dir: string, clock: { ms: number } }> {
  const dir = await tempDir(t)
  const clock = { ms: T0 }
  const db = await openDataStore(join(dir, 'db'))
  const store = await BlockStore.open(db, crypto, { quotaBytes: 1 << 20, now: () => clock.ms, ...opts })
  t.teardown(async () => { await store.close().catch(() => {}); await db.close() })
  return { store, db, dir, clock }
}

const sorted = (s: BlockStore): unknown[] => [...s.entries()].map(e => ({ ...e, query: toHex(e.query) }))
  .sort((a, b) => `${a.kind}${a.query}${a.bytes}`.localeCompare(`${b.kind}${b.query}${b.bytes}`))

t.test('put/get/has round trip, exists, refresh, expiry', async t => {
  const { store, clock } = await fresh(t)
  const block = blk(1)
  t.equal(await store.put('chk', q(1), block, { priority: 5, expiresAtSec: SEC0 + 100 }), 'stored')
  block[0] = 99
  t.ok(store.has(q(1)), 'has')
  t.same(store.get(q(1)), blk(1), 'get returns the block (the caller changing its array later changes nothing)')
  t.notOk(store.has(q(2)), 'absent query')
  t.equal(store.get(q(2)), undefined)
  t.equal(await store.put('chk', q(1), blk(1), { priority: 5, expiresAtSec: SEC0 + 100 }), 'exists')
  t.equal(await store.put('chk', q(1), blk(1), { priority: 9, expiresAtSec: SEC0 + 50 }), 'exists', 'a higher priority raises the stored one')
  t.equal(await store.put('chk', q(1), blk(1), { priority: 2, expiresAtSec: SEC0 + 200 }), 'exists', 'a later expiry raises the stored one')
  t.match([...store.entries()], [{ kind: 'chk', query: q(1), bytes: 1000, priority: 9, expiresAtSec: SEC0 + 200, popularity: 1 }])
  t.same(store.usage(), { bytes: 1000, quotaBytes: 1 << 20, chk: 1, kblocks: 0, evicted: 0, refused: 0 })
  clock.ms = (SEC0 + 200) * 1000
  t.notOk(store.has(q(1)), 'expired: not live')
  t.equal(store.get(q(1)), undefined, 'expired: not served')
  t.equal(await store.put('chk', q(1), blk(1), { priority: 2, expiresAtSec: SEC0 + 300 }), 'exists', 'republish of an expired block')
  t.ok(store.has(q(1)), 'live again')
})

t.test('caller errors are typed and change nothing', async t => {
  const { store, clock } = await fresh(t)
  const ok = { priority: 1, expiresAtSec: SEC0 + 60 }
  await t.rejects(store.put('chk', new Uint8Array(31), blk(1), ok), DecodeError, 'short query')
  t.throws(() => store.has(new Uint8Array(33)), DecodeError)
  t.throws(() => store.get(new Uint8Array(0)), DecodeError)
  t.throws(() => store.kblocks(new Uint8Array(31)), DecodeError)
  await t.rejects(store.put('kblock', q(1), new Uint8Array(0), ok), DecodeError, 'empty KBlock')
  t.equal(await store.put('chk', q(9), new Uint8Array(0), ok), 'stored', 'an empty CHK block (the empty file) is fine')
  t.equal(store.get(q(9))?.length, 0, 'and reads back empty')
  await t.resolves(store.put('chk', q(1), blk(1, 32 * 1024), ok), 'a 32 KiB CHK block is fine')
  await t.rejects(store.put('chk', q(2), blk(1, 32 * 1024 + 1), ok), LimitError, 'CHK over 32 KiB')
  await t.resolves(store.put('kblock', q(2), blk(1, 4096), ok), 'a 4 KiB KBlock is fine')
  await t.rejects(store.put('kblock', q(2), blk(2, 4097), ok), LimitError, 'KBlock over 4 KiB')
  for (const priority of [-1, 65_536, 1.5, NaN]) {
    await t.rejects(store.put('chk', q(3), blk(3), { priority, expiresAtSec: SEC0 + 60 }), LimitError, `priority ${priority}`)
  }
  await t.rejects(store.put('chk', q(3), blk(3), { priority: 1, expiresAtSec: 2 ** 32 }), LimitError, 'expiry not a u32')
  await t.rejects(store.put('chk', q(3), blk(3), { priority: 1, expiresAtSec: SEC0 }), ConfigError, 'already expired')
  clock.ms += 1
  await t.rejects(store.put('chk', q(3), blk(3), { priority: 1, expiresAtSec: SEC0 }), { name: 'ConfigError', message: /already expired/ })
  await t.rejects(store.put('dblock' as 'chk', q(3), blk(3), ok), ConfigError, 'unknown kind')
  t.throws(() => store.kblocks(q(2), -1), ConfigError)
  t.equal(store.usage().chk + store.usage().kblocks, 3, 'only the three good puts stored anything')
  const db = await openDataStore(join(await tempDir(t), 'db'))
  for (const opts of [{ quotaBytes: 0 }, { quotaBytes: 1.5 }, { quotaBytes: 100, maxPerQuery: 0 }, { quotaBytes: 100, maxEntries: -1 }, {} as StoreOptions]) {
    await t.rejects(BlockStore.open(db, crypto, opts), ConfigError, `options ${JSON.stringify(opts)}`)
  }
  await db.close()
})

t.test('kblocks: several values per query, the cap replaces the one expiring soonest', async t => {
  const { store } = await fresh(t, { maxPerQuery: 3 })
  const kb = (n: number): Uint8Array => blk(n, 300 + n)
  for (const n of [1, 2, 3]) t.equal(await store.put('kblock', q(7), kb(n), { priority: 1, expiresAtSec: SEC0 + 10 * n }), 'stored')
  t.same(store.kblocks(q(7)).map(b => b.length).sort(), [301, 302, 303], 'three values under one query')
  t.same(store.kblocks(q(8)), [], 'none under another query')
  t.notOk(store.has(q(7)), 'has() is about CHK blocks')
  t.equal(await store.put('kblock', q(7), kb(2), { priority: 1, expiresAtSec: SEC0 + 20 }), 'exists', 'same content: exists')
  t.equal(await store.put('kblock', q(7), kb(4), { priority: 100, expiresAtSec: SEC0 + 5 }), 'full', 'cap reached, expires sooner than all: refused')
  t.equal(await store.put('kblock', q(7), kb(5), { priority: 1, expiresAtSec: SEC0 + 40 }), 'stored', 'expires later: replaces the soonest')
  t.same(store.kblocks(q(7)).map(b => b.length).sort(), [302, 303, 305], 'the value expiring at +10 s is gone')
  t.equal(store.kblocks(q(7), 2).length, 2, 'max limits the answer')
  t.equal(await store.put('chk', q(7), blk(9), { priority: 1, expiresAtSec: SEC0 + 60 }), 'stored', 'a CHK block under the same query is separate')
  t.same(store.get(q(7)), blk(9))
  t.match(store.usage(), { chk: 1, kblocks: 3, evicted: 1, refused: 1, bytes: 302 + 303 + 305 + 1000 })
  // The most popular / highest priority value comes first.
  for (let i = 0; i < 5; i++) store.kblocks(q(7), 1)
  const top = store.kblocks(q(7), 1)[0]!
  t.same(store.kblocks(q(7))[0], top, 'popular first')
})

t.test('reopen keeps blocks, metas and popularity; a crash loses only recent popularity', async t => {
  const dir = await tempDir(t)
  const clock = { ms: T0 }
  const opts = { quotaBytes: 1 << 20, now: () => clock.ms }
  let db = await openDataStore(join(dir, 'db'))
  let store = await BlockStore.open(db, crypto, opts)
  for (let n = 0; n < 6; n++) await store.put('chk', q(n), blk(n, 100 + n), { priority: n, expiresAtSec: SEC0 + 1000 + n })
  for (let n = 0; n < 4; n++) await store.put('kblock', q(50), blk(50 + n, 200 + n), { priority: 7, expiresAtSec: SEC0 + 500 })
  for (let i = 0; i < 3; i++) store.get(q(2))
  store.kblocks(q(50))
  const before = sorted(store)
  const usage = store.usage()
  await store.close()
  await t.rejects(store.put('chk', q(9), blk(9), { priority: 1, expiresAtSec: SEC0 + 60 }), ClosedError, 'put after close')
  t.throws(() => store.get(q(1)), ClosedError, 'get after close')
  await store.close()
  await db.close()
  db = await openDataStore(join(dir, 'db'))
  store = await BlockStore.open(db, crypto, opts)
  t.same(sorted(store), before, 'every meta, popularity included, survived close and reopen')
  t.same(store.usage(), usage)
  for (let n = 0; n < 6; n++) t.same(store.get(q(n)), blk(n, 100 + n), `block ${n} intact`)
  t.same(store.kblocks(q(50)).map(b => b.length).sort(), [200, 201, 202, 203])
  // Popularity is written back by a put at least 30 s after the last write-back…
  for (let i = 0; i < 5; i++) store.get(q(3))
  clock.ms += 29_000
  await store.put('chk', q(20), blk(20), { priority: 1, expiresAtSec: SEC0 + 1000 })
  clock.ms += 2_000
  await store.put('chk', q(21), blk(21), { priority: 1, expiresAtSec: SEC0 + 1000 })
  store.get(q(4)) // …and what comes after it is lost in a crash (no close: the database is closed under it).
  await db.close()
  db = await openDataStore(join(dir, 'db'))
  store = await BlockStore.open(db, crypto, opts)
  const pop = (n: number): number | undefined => [...store.entries()].find(e => e.kind === 'chk' && e.query[0] === n && e.query[1] === n)?.popularity
  t.equal(pop(3), 1 + 5, 'popularity written back by the put 31 s later')
  t.equal(pop(4), 1, 'popularity counted after the last write-back is lost without close')
  await store.close()
  await db.close()
})

t.test('quota: a full store refuses equal priority and keeps every block', async t => {
  const { store } = await fresh(t, { quotaBytes: 10_000 })
  for (let n = 0; n < 10; n++) t.equal(await store.put('chk', q(n), blk(n), { priority: 1, expiresAtSec: SEC0 + 100 + n }), 'stored')
  t.equal(store.usage().bytes, 10_000)
  t.equal(await store.put('chk', q(10), blk(10), { priority: 1, expiresAtSec: SEC0 + 999 }), 'full', 'priority 1 does not evict priority 1')
  t.equal(await store.put('chk', q(10), blk(10, 1), { priority: 0, expiresAtSec: SEC0 + 999 }), 'full', 'not even one byte fits')
  for (let n = 0; n < 10; n++) t.same(store.get(q(n)), blk(n), `block ${n} still readable`)
  t.match(store.usage(), { bytes: 10_000, chk: 10, evicted: 0, refused: 2 })
})

t.test('quota: a higher priority evicts the lowest score; popular blocks survive; all or nothing', async t => {
  const { store } = await fresh(t, { quotaBytes: 10_000 })
  for (let n = 0; n < 10; n++) await store.put('chk', q(n), blk(n), { priority: 1, expiresAtSec: SEC0 + 100 + n })
  for (let i = 0; i < 20; i++) store.get(q(0)) // block 0 expires soonest but is popular: score 21
  t.equal(await store.put('chk', q(10), blk(10), { priority: 10, expiresAtSec: SEC0 + 999 }), 'stored')
  t.ok(store.has(q(0)), 'the popular block survives')
  t.notOk(store.has(q(1)), 'the unpopular block expiring soonest is evicted')
  t.equal(await store.put('chk', q(11), blk(11, 2500), { priority: 10, expiresAtSec: SEC0 + 999 }), 'stored', 'a larger block evicts as many as needed')
  t.notOk(store.has(q(2)) || store.has(q(3)) || store.has(q(4)), 'blocks 2, 3, 4 evicted (lowest first)')
  t.ok(store.has(q(5)), 'block 5 kept: three sufficed')
  t.match(store.usage(), { bytes: 9_500, evicted: 4 })
  const before = sorted(store)
  // Score < 20: blocks 5..9 (priority 1, 5000 bytes) and 10, 11 (priority 10, 3500 bytes): 8500 + 500 free < 10 000.
  t.equal(await store.put('chk', q(12), blk(12, 10_000), { priority: 20, expiresAtSec: SEC0 + 999 }), 'full', 'cannot fit without evicting block 0')
  t.same(sorted(store), before, 'a refused put deleted nothing')
  t.equal(await store.put('chk', q(12), blk(12, 10_001), { priority: 65_535, expiresAtSec: SEC0 + 999 }), 'full', 'larger than the quota')
  t.same(sorted(store), before, 'nothing deleted for a block that can never fit')
  t.equal(await store.put('chk', q(12), blk(12, 9_500), { priority: 22, expiresAtSec: SEC0 + 999 }), 'stored', 'priority 22 may evict block 0 too')
  t.same(sorted(store).length, 1, 'block 0 went last')
  t.match(store.usage(), { bytes: 9_500, chk: 1, refused: 2, evicted: 12 })
})

t.test('quota: expired blocks go first; sweep removes them', async t => {
  const { store, clock } = await fresh(t, { quotaBytes: 5_000 })
  for (let n = 0; n < 5; n++) await store.put('chk', q(n), blk(n), { priority: 100, expiresAtSec: SEC0 + (n < 3 ? 3600 : 60 + n) })
  clock.ms += 65_000
  t.notOk(store.has(q(3)), 'block 3 expired')
  t.ok(store.has(q(2)), 'block 2 live')
  t.equal(await store.put('chk', q(5), blk(5), { priority: 0, expiresAtSec: SEC0 + 3600 }), 'stored', 'priority 0 evicts an expired block')
  t.ok(store.has(q(0)) && store.has(q(1)) && store.has(q(2)), 'live blocks untouched')
  t.equal([...store.entries()].length, 5, 'the other expired block is still there')
  t.equal(await store.sweep(), 1, 'sweep removes it')
  t.equal(await store.sweep(), 0)
  t.same([...store.entries()].map(e => e.query[0]).sort(), [0, 1, 2, 5])
  t.match(store.usage(), { bytes: 4_000, chk: 4, evicted: 1 })
})

/** Polls `cond` every 10 ms until it holds or `ms` pass. */
async function until (cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms
  while (!cond() && Date.now() < end) await new Promise(resolve => setTimeout(resolve, 10))
  return cond()
}

t.test('open reconciles: orphans and bad metas are deleted; a lowered quota evicts', async t => {
  const dir = await tempDir(t)
  let db = await openDataStore(join(dir, 'db'))
  let store = await BlockStore.open(db, crypto, { quotaBytes: 10_000 })
  const exp = Math.floor(Date.now() / 1000) + 3600
  await store.put('chk', q(1), blk(1), { priority: 1, expiresAtSec: exp })
  await store.put('chk', q(2), blk(2), { priority: 5, expiresAtSec: exp })
  await store.put('kblock', q(3), blk(3, 100), { priority: 9, expiresAtSec: exp })
  const goodMeta = db.bucket('fs-meta').get(q(1))!
  await store.close()
  const meta = db.bucket('fs-meta')
  const data = db.bucket('fs-data')
  await Promise.all([
    meta.put(q(10), goodMeta), // meta without data
    data.put(q(11), blk(11)), // data without meta
    meta.put(q(12), goodMeta), data.put(q(12), blk(12, 999)), // size mismatch
    meta.put(q(13), goodMeta.subarray(0, 3)), data.put(q(13), blk(13)), // truncated meta
    meta.put(new Uint8Array(64).fill(14), goodMeta), data.put(new Uint8Array(64).fill(14), blk(14)) // CHK meta on a KBlock key
  ])
  t.equal(meta.count(), 7)
  store = await BlockStore.open(db, crypto, { quotaBytes: 10_000 })
  t.equal(meta.count(), 4, 'the three good metas are left, and the one whose block has another size (open reads no block)')
  t.equal(data.count(), 4, 'so are their blocks')
  t.match(store.usage(), { bytes: 3100, chk: 3, kblocks: 1 })
  t.equal(store.get(q(12)), undefined, 'the block whose size does not match its meta is not served when read')
  t.ok(await until(() => meta.count() === 3 && data.count() === 3), 'and it is deleted, both records')
  t.match(store.usage(), { bytes: 2100, chk: 2, kblocks: 1 })
  t.notOk(store.has(q(12)))
  t.same(store.get(q(1)), blk(1))
  await store.close()
  await db.close()
  db = await openDataStore(join(dir, 'db'))
  store = await BlockStore.open(db, crypto, { quotaBytes: 1100 })
  t.match(store.usage(), { bytes: 1100, chk: 1, kblocks: 1, evicted: 1 }, 'a lowered quota evicts the lowest priority')
  t.notOk(store.has(q(1)))
  t.ok(store.has(q(2)))
  t.equal(db.bucket('fs-data').count(), 2)
  await store.close()
  await db.close()
})

/** Runs the fixture until `acks` puts are acknowledged, then SIGKILLs it; resolves to the acknowledged indexes. */
async function runAndKill (t: Test, mode: string, dir: string, acks: number): Promise<number[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, mode, dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  const acked: number[] = []
  let partial = ''
  const exited = new Promise<NodeJS.Signals | null>(resolve => child.on('exit', (_code, signal) => resolve(signal)))
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  child.stdout.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n')
    partial = lines.pop()!
    for (const l of lines) acked.push(Number(l.split(' ')[0]))
    if (acked.length >= acks) child.kill('SIGKILL')
  })
  t.equal(await exited, 'SIGKILL', `the ${mode} writer was killed mid-run`)
  clearTimeout(timer)
  return acked
}

/** Checks the raw buckets agree (a meta for every block and no other) and returns the stored bytes. */
function checkRaw (t: Test, db: DataStore): number {
  const metas = new Map([...db.bucket('fs-meta').entries()].map(([k, v]) => [toHex(k), v]))
  let bytes = 0
  let bad = 0
  for (const [k, v] of db.bucket('fs-data').entries()) {
    const m = metas.get(toHex(k))
    if (m === undefined || Buffer.from(m).readUInt32BE(11) !== v.length) bad++
    metas.delete(toHex(k))
    bytes += v.length
  }
  t.equal(bad, 0, 'every stored block has its meta, of the right size')
  t.equal(metas.size, 0, 'no meta without data')
  return bytes
}

t.test('SIGKILL mid-write: every acknowledged block is intact, no orphans', async t => {
  const dir = await tempDir(t)
  const acked = await runAndKill(t, 'plain', dir, 150)
  t.ok(acked.length >= 150, `${acked.length} puts acknowledged`)
  const db = await openDataStore(join(dir, 'db'))
  const rawBytes = checkRaw(t, db)
  const store = await BlockStore.open(db, crypto, { quotaBytes: 1 << 30 })
  let missing = 0
  for (const i of acked) {
    const { kind, query, block } = fsBlock(crypto, i)
    const found = kind === 'chk' ? [store.get(query)] : store.kblocks(query)
    if (!found.some(b => b !== undefined && Buffer.compare(b, block) === 0)) missing++
  }
  t.equal(missing, 0, 'every acknowledged block is present and intact')
  t.equal(store.usage().bytes, rawBytes, 'usage().bytes is the sum of the stored blocks')
  t.equal(store.usage().evicted, 0)
  t.ok(store.usage().chk + store.usage().kblocks >= acked.length)
  await store.close()
  await db.close()
})

t.test('SIGKILL while evicting: buckets consistent, within quota', async t => {
  const dir = await tempDir(t)
  const acked = await runAndKill(t, 'evict', dir, 150)
  const db = await openDataStore(join(dir, 'db'))
  const rawBytes = checkRaw(t, db)
  t.ok(rawBytes <= EVICT_QUOTA, `${rawBytes} bytes stored, within the quota`)
  const store = await BlockStore.open(db, crypto, { quotaBytes: EVICT_QUOTA })
  const n = store.usage().chk + store.usage().kblocks
  t.ok(n < acked.length, `evictions happened: ${n} blocks kept of ${acked.length} acknowledged`)
  t.equal(store.usage().bytes, rawBytes)
  t.equal(store.usage().evicted, 0, 'nothing to evict at open')
  const byHex = new Map(acked.map(i => { const b = fsBlock(crypto, i); return [toHex(b.query), b] }))
  let damaged = 0
  for (const e of store.entries()) {
    if (e.kind !== 'chk') continue
    const got = store.get(e.query)
    const want = byHex.get(toHex(e.query))
    if (got === undefined || (want !== undefined && Buffer.compare(got, want.block) !== 0)) damaged++
  }
  t.equal(damaged, 0, 'every kept CHK block is intact')
  t.ok([...store.entries()].every(e => e.expiresAtSec === EXPIRES_AT_SEC))
  await store.close()
  await db.close()
})

/** An in-memory DataStore (for the property test: no fsync per put). */
function memoryStore (): DataStore {
  const buckets = new Map<string, KvBucket>()
  return {
    bucket (name) {
      let b = buckets.get(name)
      if (b === undefined) {
        const m = new Map<string, Uint8Array>()
        b = {
          get: k => m.get(toHex(k))?.slice(),
          put: async (k, v) => { m.set(toHex(k), v.slice()) },
          delete: async k => { m.delete(toHex(k)) },
          * entries () { for (const k of [...m.keys()].sort()) yield [Buffer.from(k, 'hex'), m.get(k)!.slice()] },
          * keys () { for (const k of [...m.keys()].sort()) yield Buffer.from(k, 'hex') },
          count: () => m.size
        }
        buckets.set(name, b)
      }
      return b
    },
    close: async () => {}
  }
}

t.test('property: eviction only below the new priority, only when needed, all or nothing', async t => {
  const op = fc.oneof(
    { weight: 6, arbitrary: fc.record({ t: fc.constant('put' as const), n: fc.integer({ min: 0, max: 30 }), size: fc.integer({ min: 1, max: 3000 }), priority: fc.integer({ min: 0, max: 6 }), ttl: fc.integer({ min: 1, max: 600 }) }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('get' as const), n: fc.integer({ min: 0, max: 30 }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('tick' as const), s: fc.integer({ min: 1, max: 60 }) }) })
  await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 10, maxLength: 80 }), async ops => {
    const clock = { ms: T0 }
    const db = memoryStore()
    const quota = 10_000
    const store = await BlockStore.open(db, crypto, { quotaBytes: quota, maxEntries: 8, now: () => clock.ms })
    for (const o of ops) {
      if (o.t === 'tick') { clock.ms += o.s * 1000; continue }
      if (o.t === 'get') { store.get(q(o.n)); continue }
      const before = new Map([...store.entries()].map(e => [e.query[0]!, e]))
      const r = await store.put('chk', q(o.n), blk(o.n, o.size), { priority: o.priority, expiresAtSec: clock.ms / 1000 + o.ttl })
      const after = new Map([...store.entries()].map(e => [e.query[0]!, e]))
      const gone = [...before.keys()].filter(k => !after.has(k))
      const used = [...before.values()].reduce((s, e) => s + e.bytes, 0)
      if (r !== 'stored') {
        if (gone.length > 0) return false
      } else {
        if (used + o.size <= quota && before.size < 8 && gone.length > 0) return false
        for (const k of gone) {
          const e = before.get(k)!
          if (e.expiresAtSec * 1000 > clock.ms && e.priority + e.popularity >= o.priority) return false
        }
        if (!store.has(q(o.n))) return false
      }
      const u = store.usage()
      if (u.bytes > quota || u.chk > 8 || u.bytes !== [...after.values()].reduce((s, e) => s + e.bytes, 0)) return false
      if ([...after.values()].some(e => e.expiresAtSec * 1000 > clock.ms && store.get(e.query)?.length !== e.bytes)) return false
    }
    return true
  }), { numRuns: 200 })
  t.pass('eviction rules hold')
})

t.test('open reads the metas and only the keys of the blocks, never a block', async t => {
  const db = memoryStore()
  let store = await BlockStore.open(db, crypto, { quotaBytes: 100_000 })
  const exp = Math.floor(Date.now() / 1000) + 3600
  for (let i = 1; i <= 5; i++) await store.put('chk', q(i), blk(i), { priority: 1, expiresAtSec: exp })
  await store.close()
  const data = db.bucket('fs-data')
  let valuesRead = 0
  const spied: DataStore = {
    bucket: (name) => name !== 'fs-data'
      ? db.bucket(name)
      : { ...data, get: (k) => { valuesRead++; return data.get(k) }, * entries () { valuesRead++; yield * data.entries() }, keys: (r) => data.keys(r) },
    close: async () => {}
  }
  store = await BlockStore.open(spied, crypto, { quotaBytes: 100_000 })
  t.equal(valuesRead, 0, 'no block was read at open')
  t.match(store.usage(), { chk: 5, bytes: 5000 }, 'yet every block is indexed, with its size from its meta')
  t.same(store.get(q(3)), blk(3), 'and served')
  t.equal(valuesRead, 1, 'reading it is the first block read')
  await store.close()
})

t.test('the empty file\'s empty CHK block survives a reopen', async t => {
  const dir = await tempDir(t)
  let db = await openDataStore(join(dir, 'db'))
  let store = await BlockStore.open(db, crypto, { quotaBytes: 10_000 })
  const exp = Math.floor(Date.now() / 1000) + 3600
  t.equal(await store.put('chk', q(1), new Uint8Array(0), { priority: 1, expiresAtSec: exp }), 'stored')
  await store.close()
  await db.close()
  db = await openDataStore(join(dir, 'db'))
  store = await BlockStore.open(db, crypto, { quotaBytes: 10_000 })
  t.ok(store.has(q(1)), 'still indexed after reopen')
  t.same(store.get(q(1)), new Uint8Array(0), 'and served, empty')
  await store.close()
  await db.close()
})

t.test('a block asked for while its put is still being written is not lost', async t => {
  const dir = await tempDir(t)
  const db = await openDataStore(join(dir, 'db'))
  const store = await BlockStore.open(db, crypto, { quotaBytes: 100_000 })
  const exp = Math.floor(Date.now() / 1000) + 3600
  const put = store.put('chk', q(1), blk(1), { priority: 1, expiresAtSec: exp })
  const early = store.get(q(1)) // before the write is durable: LMDB may not have it yet
  t.ok(early === undefined || Buffer.from(early).equals(Buffer.from(blk(1))), 'either not there yet or the block itself')
  t.equal(await put, 'stored')
  t.same(store.get(q(1)), blk(1), 'once written, it is there')
  await store.close()
  await db.close()
})
