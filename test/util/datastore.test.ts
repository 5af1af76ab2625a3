import t from 'tap'
import type { Test } from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LOCK_FILE, MAX_KEY_BYTES, MAX_VALUE_BYTES, openDataStore } from '../../src/util/datastore.ts'
import { ClosedError, ConfigError, LimitError } from '../../src/util/errors.ts'
import { crashKey, crashValue } from './fixtures-datastore.ts'

const FIXTURE = fileURLToPath(new URL('./fixtures-datastore.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const b = (...xs: number[]): Uint8Array => new Uint8Array(xs)
const text = (s: string): Uint8Array => new TextEncoder().encode(s)

/** A fresh temp directory (removed at teardown); the store goes in its `db` subdirectory. */
async function tempDir (t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'umbra-db-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return join(dir, 'db')
}

/** Runs the fixture in a child process; resolves with its stdout once it exits (killed after 60 s). */
function runFixture (mode: string, dir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, mode, dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 60_000)
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.on('error', reject)
    child.on('exit', () => { clearTimeout(timer); resolve(out) })
  })
}

t.test('round trip, overwrite, delete, count, entries in key order', async (t) => {
  const store = await openDataStore(await tempDir(t))
  const kv = store.bucket('netdb')
  t.equal(kv.get(b(1)), undefined, 'absent key reads as undefined')
  const value = b(10, 20, 30)
  await kv.put(b(2), value)
  value[0] = 99
  t.same(kv.get(b(2)), b(10, 20, 30), 'round trip; changing the caller\'s array afterwards changes nothing')
  const got = kv.get(b(2))!
  got[0] = 77
  t.same(kv.get(b(2)), b(10, 20, 30), 'a returned value is a copy')
  await kv.put(b(2), b(4))
  t.same(kv.get(b(2)), b(4), 'overwrite')
  await Promise.all([kv.put(b(0xff), b()), kv.put(b(1, 5), b(6)), kv.put(b(1), b(5))])
  t.same(kv.get(b(0xff)), b(), 'empty value')
  t.equal(kv.count(), 4, 'count')
  t.same([...kv.entries()], [[b(1), b(5)], [b(1, 5), b(6)], [b(2), b(4)], [b(0xff), b()]], 'entries in bytewise key order')
  t.same([...kv.entries({ start: b(1), end: b(2) })], [[b(1), b(5)], [b(1, 5), b(6)]], 'a range: start included, end excluded')
  t.same([...kv.entries({ start: b(2) })], [[b(2), b(4)], [b(0xff), b()]], 'a range without an end')
  t.same([...kv.entries({ end: b(1, 5) })], [[b(1), b(5)]], 'a range without a start')
  t.same([...kv.keys()], [b(1), b(1, 5), b(2), b(0xff)], 'keys in the same order, without values')
  t.same([...kv.keys({ start: b(1), end: b(2) })], [b(1), b(1, 5)], 'keys of a range')
  const kit = kv.keys()
  t.same(kit.next().value, b(1), 'a key iterator can stop early')
  kit.return?.()
  await kv.delete(b(1, 5))
  await kv.delete(b(3))
  t.equal(kv.get(b(1, 5)), undefined, 'deleted')
  t.equal(kv.count(), 3, 'count after delete (deleting an absent key is no error)')
  const it = kv.entries()
  t.same(it.next().value, [b(1), b(5)], 'an iterator can stop early')
  it.return?.()
  await store.close()
})

t.test('reopen keeps data; buckets are isolated', async (t) => {
  const dir = await tempDir(t)
  let store = await openDataStore(dir)
  await store.bucket('a').put(text('k'), text('in a'))
  await store.bucket('b').put(text('k'), text('in b'))
  await store.bucket('b').put(text('only-b'), text('x'))
  await store.close()
  t.equal((await stat(dir)).mode & 0o777, 0o700, 'directory is 0700')
  store = await openDataStore(dir)
  t.same(store.bucket('a').get(text('k')), text('in a'), 'bucket a kept its value')
  t.same(store.bucket('b').get(text('k')), text('in b'), 'bucket b kept its own value')
  t.equal(store.bucket('a').get(text('only-b')), undefined, 'no leak between buckets')
  t.equal(store.bucket('a').count(), 1)
  t.equal(store.bucket('c').count(), 0, 'a new bucket is empty')
  await store.close()
})

t.test('bad input fails with typed errors', async (t) => {
  const store = await openDataStore(await tempDir(t), { maxBuckets: 3 })
  for (const name of ['', 'Upper', 'a_b', 'a/b', 'x'.repeat(33)]) {
    t.throws(() => store.bucket(name), ConfigError, `bucket name ${JSON.stringify(name)}`)
  }
  const kv = store.bucket('x'.repeat(32))
  await t.resolves(kv.put(new Uint8Array(MAX_KEY_BYTES).fill(1), b(1)), `a ${MAX_KEY_BYTES}-byte key is fine`)
  await t.rejects(kv.put(new Uint8Array(MAX_KEY_BYTES + 1), b(1)), LimitError, 'oversize key on put')
  t.throws(() => kv.get(new Uint8Array(MAX_KEY_BYTES + 1)), LimitError, 'oversize key on get')
  await t.rejects(kv.delete(new Uint8Array(MAX_KEY_BYTES + 1)), LimitError, 'oversize key on delete')
  await t.rejects(kv.put(b(), b(1)), LimitError, 'empty key')
  await t.resolves(kv.put(b(1), new Uint8Array(MAX_VALUE_BYTES)), '1 MiB value is fine')
  await t.rejects(kv.put(b(1), new Uint8Array(MAX_VALUE_BYTES + 1)), LimitError, 'oversize value')
  t.same(kv.get(b(1))?.length, MAX_VALUE_BYTES, 'the refused put changed nothing')
  store.bucket('b'); store.bucket('c')
  t.throws(() => store.bucket('d'), LimitError, 'more buckets than maxBuckets')
  await store.close()
  t.throws(() => store.bucket('b'), ClosedError, 'bucket() after close')
  await t.rejects(kv.put(b(2), b(2)), ClosedError, 'put after close')
  t.throws(() => kv.get(b(1)), ClosedError, 'get after close')
  t.throws(() => [...kv.entries()], ClosedError, 'entries after close')
  t.throws(() => [...kv.keys()], ClosedError, 'keys after close')
  await t.rejects(openDataStore(await tempDir(t), { maxBuckets: 0 }), ConfigError, 'bad options')
})

t.test('close waits for pending writes', async (t) => {
  const dir = await tempDir(t)
  let store = await openDataStore(dir)
  const kv = store.bucket('w')
  const puts = Array.from({ length: 500 }, (_, i) => kv.put(crashKey(i), crashValue(i)))
  await store.close()
  await Promise.all(puts)
  store = await openDataStore(dir)
  t.equal(store.bucket('w').count(), 500, 'all 500 unawaited puts were written before close returned')
  await store.close()
})

t.test('one process at a time', async (t) => {
  const dir = await tempDir(t)
  const store = await openDataStore(dir)
  await t.rejects(openDataStore(dir), { name: 'ConfigError', message: /already open in this process/ }, 'second open in the same process')
  const other = await runFixture('open', dir)
  t.match(other, new RegExp(`^ConfigError: .*in use by process ${process.pid}`), 'open from another process names the owner')
  await store.bucket('a').put(b(1), b(1))
  await store.close()
  t.equal(await runFixture('open', dir), 'opened\n', 'after close another process can open it')
  const reopened = await openDataStore(dir)
  t.same(reopened.bucket('a').get(b(1)), b(1), 'and so can this one')
  await reopened.close()
  // A lock left by a process that is gone is stale and taken over.
  await writeFile(join(dir, LOCK_FILE), '2147483646 1\n')
  const again = await openDataStore(dir)
  t.equal(await readFile(join(dir, LOCK_FILE), 'utf8').then((s) => Number(s.split(' ')[0])), process.pid, 'stale lock taken over')
  await again.close()
})

t.test('a damaged data file is refused, the process survives', async (t) => {
  const dir = await tempDir(t)
  const store = await openDataStore(dir)
  await store.bucket('a').put(b(1), b(2))
  await store.close()
  const good = await readFile(join(dir, 'data.mdb'))
  const page = good.readUInt32LE(48) // LMDB's page size, from meta page 0
  const cases: Array<[string, (good: Buffer) => Buffer]> = [
    ['not an LMDB file', () => Buffer.from('hello, this is not a database\n'.repeat(5000))],
    ['one byte', () => Buffer.from('x')],
    ['meta page 0 overwritten', (g) => { const c = Buffer.from(g); c.fill(0x41, 0, page); return c }],
    ['meta page 1 overwritten', (g) => { const c = Buffer.from(g); c.fill(0x41, page, 2 * page); return c }],
    ['cut after the first page', (g) => g.subarray(0, page)]
  ]
  for (const [what, damage] of cases) {
    await writeFile(join(dir, 'data.mdb'), damage(good))
    await t.rejects(openDataStore(dir), { name: 'ConfigError', message: /corrupt/ }, what)
  }
  await writeFile(join(dir, 'data.mdb'), good)
  const ok = await openDataStore(dir)
  t.same(ok.bucket('a').get(b(1)), b(2), 'the intact file opens again (a refused open leaves no lock behind)')
  await ok.close()
})

t.test('SIGKILL loses no write whose promise resolved', async (t) => {
  const dir = await tempDir(t)
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, 'write', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  const acked: number[] = []
  let partial = ''
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`only ${acked.length} writes in 60 s`)) }, 60_000)
    child.stdout.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n')
      partial = lines.pop()!
      for (const l of lines) acked.push(Number(l))
      if (acked.length >= 400) { clearTimeout(timer); child.kill('SIGKILL'); resolve() }
    })
    child.on('exit', () => { clearTimeout(timer); resolve() })
  })
  t.equal(await exited, 'SIGKILL', 'the writer was killed mid-stream')
  t.ok(acked.length >= 400, `${acked.length} writes were acknowledged before the kill`)
  const store = await openDataStore(dir)
  const kv = store.bucket('crash')
  let missing = 0
  let damaged = 0
  for (const i of acked) {
    const v = kv.get(crashKey(i))
    if (v === undefined) missing++
    else if (Buffer.compare(v, crashValue(i)) !== 0) damaged++
  }
  t.equal(missing, 0, 'every acknowledged key is there')
  t.equal(damaged, 0, 'every acknowledged value is intact')
  t.ok(kv.count() >= acked.length, `${kv.count()} records on disk`)
  for (const [k, v] of kv.entries()) {
    const i = Number(new TextDecoder().decode(k).slice(1))
    if (Buffer.compare(v, crashValue(i)) !== 0) damaged++
  }
  t.equal(damaged, 0, 'no record on disk is torn, acknowledged or not')
  await store.close()
})
