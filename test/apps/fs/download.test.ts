/**
 * The download's final check (`LeafCheck`): the file read back from disk must hash leaf by leaf
 * to the keys of the verified tree. A changed byte in any leaf, a short file or a leaf
 * without a key fails it, naming that leaf; files of every shape (empty, one partial leaf, exactly one leaf, more
 * leaves than one read holds) pass it; `LeafCheck` runs it by runs of 32 leaves as they are
 * complete on disk. Then `download` over an in-memory block source: a good
 * tree arrives intact; a publisher's inconsistent tree (a leaf whose plaintext does not hash to
 * the key its index block gives, though its ciphertext matches the query) leaves no file.
 */
import t from 'tap'
import { mkdtemp, open, readFile, rm, stat, writeFile, type FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadCrypto } from '../../../src/crypto/index.ts'
import { BLOCK_SIZE, encodeChk, encryptBlock, verifyBlock, type Chk } from '../../../src/apps/fs/chk.ts'
import { download, LeafCheck, LeafKeys } from '../../../src/apps/fs/download.ts'
import type { Dht } from '../../../src/apps/fs/dht.ts'
import { formatChkUri } from '../../../src/apps/fs/uri.ts'
import { toHex } from '../../../src/util/bytes.ts'

const crypto = await loadCrypto()

/** A file's leaves, each encrypted as the publisher does (a 0-byte file has one empty leaf). */
function leavesOf (content: Uint8Array): Array<{ chk: Chk, block: Uint8Array }> {
  const n = Math.max(1, Math.ceil(content.length / BLOCK_SIZE))
  return Array.from({ length: n }, (_, i) => encryptBlock(crypto, content.subarray(i * BLOCK_SIZE, Math.min((i + 1) * BLOCK_SIZE, content.length))))
}

/** The keys of a file's leaves, as the tree gives them; without `skip` (a leaf index) recorded. */
function leafKeys (content: Uint8Array, skip = -1): LeafKeys {
  const leaves = leavesOf(content)
  const keys = new LeafKeys(leaves.length)
  leaves.forEach((l, i) => { if (i !== skip) keys.set(i, l.chk.key) })
  return keys
}

/** The whole check at once: every leaf reported on disk, in order; the first bad leaf or -1. */
async function checkAll (fh: FileHandle, keys: LeafKeys, size: number): Promise<number> {
  const check = new LeafCheck(fh, crypto, keys, size)
  for (let i = 0; i < Math.max(1, Math.ceil(size / BLOCK_SIZE)); i++) check.onDisk(i)
  return await check.result()
}

t.test('the final check: what was written passes; a change, a short file or a missing key names its leaf', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'umbra-dl-check-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const check = async (path: string, keys: LeafKeys, size: number): Promise<number> => {
    const fh = await open(path, 'r')
    try { return await checkAll(fh, keys, size) } finally { await fh.close() }
  }
  for (const size of [0, 100, BLOCK_SIZE, 33 * BLOCK_SIZE + 5, 64 * BLOCK_SIZE]) {
    const content = new Uint8Array(crypto.randomBytes(size))
    const keys = leafKeys(content)
    const path = join(dir, `f${size}`)
    await writeFile(path, content)
    t.equal(await check(path, keys, size), -1, `${size} bytes as written`)
    if (size === 0) continue
    for (const at of [0, size - 1, Math.floor(size / 2)]) {
      const bad = content.slice()
      bad[at]! ^= 0x40
      await writeFile(path, bad)
      t.equal(await check(path, keys, size), Math.floor(at / BLOCK_SIZE), `${size} bytes, byte ${at} changed`)
    }
    await writeFile(path, content.subarray(0, size - 1))
    t.equal(await check(path, keys, size), keys.count - 1, `${size} bytes, the last byte missing on disk`)
    await writeFile(path, content)
    t.equal(await check(path, leafKeys(content, keys.count - 1), size), keys.count - 1, `${size} bytes, the last leaf without a key`)
    t.equal(await check(path, new LeafKeys(keys.count + 1), size), 0, `${size} bytes, keys for a different leaf count`)
  }
})

t.test('LeafCheck: each run of 32 leaves is checked once all of it is on disk, in any order', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'umbra-dl-check-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const size = 70 * BLOCK_SIZE - 7 // runs of 32, 32 and 6 leaves
  const content = new Uint8Array(crypto.randomBytes(size))
  const keys = leafKeys(content)
  const path = join(dir, 'f')
  const order = Array.from({ length: 70 }, (_, i) => (i * 37) % 70) // every leaf once, shuffled

  await writeFile(path, content)
  let fh = await open(path, 'r')
  let check = new LeafCheck(fh, crypto, keys, size)
  for (const i of order) check.onDisk(i)
  t.equal(await check.result(), -1, 'every leaf hashes to its key')
  t.throws(() => { check.onDisk(3) }, { name: 'DecodeError' }, 'a leaf reported twice')
  await fh.close()

  // Leaf 40 damaged: the second run fails and names it.
  const bad = content.slice()
  bad[40 * BLOCK_SIZE + 123]! ^= 1
  await writeFile(path, bad)
  fh = await open(path, 'r')
  check = new LeafCheck(fh, crypto, keys, size)
  for (const i of order) check.onDisk(i)
  t.equal(await check.result(), 40)
  await fh.close()

  // A run is read back as soon as its last leaf is reported, before the download ends: a
  // change made to that run afterwards is not seen (each leaf is written once, then checked).
  await writeFile(path, content)
  fh = await open(path, 'r+')
  check = new LeafCheck(fh, crypto, keys, size)
  for (let i = 0; i < 32; i++) check.onDisk(i)
  await check.settled()
  await fh.write(Uint8Array.of(content[5]! ^ 1), 0, 1, 5)
  for (let i = 32; i < 70; i++) check.onDisk(i)
  t.equal(await check.result(), -1, 'run 0 was checked when its 32 leaves were in')
  t.equal(await checkAll(fh, keys, size), 0, 'a full read-back sees the change')

  // A leaf never reported fails, named exactly.
  await fh.write(content.subarray(0, 8), 0, 8, 0)
  check = new LeafCheck(fh, crypto, keys, size)
  for (let i = 0; i < 70; i++) if (i !== 33) check.onDisk(i)
  t.equal(await check.result(), 33, 'the leaf never reported')
  t.throws(() => { check.onDisk(70) }, { name: 'DecodeError' }, 'a leaf out of range')

  // onBad hears of a failing run once, with its leaf; stop() skips the checks still queued.
  await fh.write(Uint8Array.of(content[BLOCK_SIZE * 3]! ^ 1), 0, 1, BLOCK_SIZE * 3)
  const heard: number[] = []
  check = new LeafCheck(fh, crypto, keys, size, leaf => { heard.push(leaf) })
  for (const i of order) check.onDisk(i)
  t.equal(await check.result(), 3)
  t.same(heard, [3], 'onBad called once')
  heard.length = 0
  check = new LeafCheck(fh, crypto, keys, size, leaf => { heard.push(leaf) })
  for (const i of order) check.onDisk(i) // the checks start on later microtasks
  check.stop()
  await check.settled()
  t.same(heard, [], 'no run is read once stopped')
  await fh.close()

  // A read error (here: the file closed under the checks) is kept and thrown by result(), never
  // left as an unhandled rejection.
  check = new LeafCheck(fh, crypto, keys, size)
  for (let i = 0; i < 32; i++) check.onDisk(i)
  await new Promise(resolve => setImmediate(resolve))
  await check.settled()
  await t.rejects(check.result(), { code: 'EBADF' })
})

/** A Dht that serves blocks from a map by query, as a node holding every block would. */
function memoryDht (blocks: Map<string, Uint8Array>): Dht {
  const get = async (query: Uint8Array, accept: (b: Uint8Array) => boolean): Promise<{ block: Uint8Array, from: unknown } | undefined> => {
    const block = blocks.get(toHex(query))
    return block !== undefined && accept(block) ? { block, from: {} } : undefined
  }
  return { get } as unknown as Dht
}

/** A two-level tree over `leaves` (CHKs as given, blocks as given): the root index block and its URI. */
function treeOf (leaves: Array<{ chk: Chk, block: Uint8Array }>, size: number): { uri: string, blocks: Map<string, Uint8Array> } {
  const blocks = new Map<string, Uint8Array>()
  const index = new Uint8Array(leaves.length * 64)
  leaves.forEach((l, i) => { index.set(encodeChk(l.chk), i * 64); blocks.set(toHex(l.chk.query), l.block) })
  const root = encryptBlock(crypto, index)
  blocks.set(toHex(root.chk.query), root.block)
  return { uri: formatChkUri(root.chk, size), blocks }
}

t.test('download: a consistent tree arrives intact; a leaf that does not hash to its key leaves no file', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'umbra-dl-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const size = 2 * BLOCK_SIZE + 300
  const content = new Uint8Array(crypto.randomBytes(size))
  const leaves = leavesOf(content)
  const good = treeOf(leaves, size)
  const out = join(dir, 'good.bin')
  const r = await download(memoryDht(good.blocks), crypto, good.uri, out, { concurrency: 4 })
  t.equal(r.size, size)
  t.equal(r.fetched, 4, 'the root and three leaves')
  t.same(new Uint8Array(await readFile(out)), content, 'byte-identical')

  // The middle leaf: its ciphertext altered after encryption, and the index block names the
  // altered ciphertext's query with the original key. Every block passes its query check; the
  // leaf decrypts to bytes that do not hash to that key.
  const altered = leaves[1]!.block.slice()
  altered[17]! ^= 1
  const bad = { chk: { key: leaves[1]!.chk.key, query: crypto.blake2b(altered, 32) }, block: altered }
  t.ok(verifyBlock(crypto, bad.chk.query, bad.block), 'the altered leaf matches its query')
  const inconsistent = treeOf([leaves[0]!, bad, leaves[2]!], size)
  const out2 = join(dir, 'bad.bin')
  await t.rejects(download(memoryDht(inconsistent.blocks), crypto, inconsistent.uri, out2, { concurrency: 4 }),
    { name: 'DecodeError', message: /^leaf 1 of .* does not hash to the key the URI's tree gives it/ })
  await t.rejects(stat(out2), { code: 'ENOENT' }, 'no file under the output name')
})

t.test('download resumes from a part file: good leaves are kept, a tampered one is fetched again', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'umbra-dl-resume-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const size = 3 * BLOCK_SIZE + 10
  const content = new Uint8Array(crypto.randomBytes(size))
  const leaves = leavesOf(content)
  const tree = treeOf(leaves, size)
  const out = join(dir, 'file.bin')
  const part = content.slice()
  part[BLOCK_SIZE + 5]! ^= 1 // leaf 1 damaged on disk
  await writeFile(`${out}.part`, part)
  const asked: string[] = []
  const dht = memoryDht(tree.blocks)
  const counting = { get: async (q: Uint8Array, accept: (b: Uint8Array) => boolean) => { asked.push(toHex(q)); return await dht.get(q, accept) } } as unknown as Dht
  const r = await download(counting, crypto, tree.uri, out, { concurrency: 4 })
  t.equal(r.reused, size - BLOCK_SIZE, 'leaves 0, 2 and 3 kept from the part file')
  t.equal(r.fetched, 2, 'the root and leaf 1 fetched')
  t.ok(asked.includes(toHex(leaves[1]!.chk.query)), 'leaf 1 asked for')
  t.notOk(asked.includes(toHex(leaves[0]!.chk.query)), 'leaf 0 not asked for')
  t.same(new Uint8Array(await readFile(out)), content, 'byte-identical')
})

t.test('download: empty, one-leaf and 70-leaf files; an inconsistent leaf in a later run is named', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'umbra-dl-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  for (const size of [0, BLOCK_SIZE, 70 * BLOCK_SIZE - 7]) {
    const content = new Uint8Array(crypto.randomBytes(size))
    const leaves = leavesOf(content)
    const n = leaves.length
    // A one-leaf file's URI names the leaf itself.
    const tree = n === 1 ? { uri: formatChkUri(leaves[0]!.chk, size), blocks: new Map([[toHex(leaves[0]!.chk.query), leaves[0]!.block]]) } : treeOf(leaves, size)
    const out = join(dir, `f${size}`)
    const r = await download(memoryDht(tree.blocks), crypto, tree.uri, out, { concurrency: 8 })
    t.equal(r.size, size)
    t.same(new Uint8Array(await readFile(out)), content, `${size} bytes, byte-identical`)
    if (n < 70) continue
    const altered = leaves[40]!.block.slice()
    altered[0]! ^= 1
    const bad = [...leaves]
    bad[40] = { chk: { key: leaves[40]!.chk.key, query: crypto.blake2b(altered, 32) }, block: altered }
    const broken = treeOf(bad, size)
    await t.rejects(download(memoryDht(broken.blocks), crypto, broken.uri, join(dir, 'broken'), { concurrency: 8 }),
      { name: 'DecodeError', message: /^leaf 40 of / })
    await t.rejects(stat(join(dir, 'broken')), { code: 'ENOENT' }, 'no file under the output name')
  }
})

t.test('download: a wrong key in the URI of a one-leaf file fails at once with a clear error', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'umbra-dl-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const { chk, block } = encryptBlock(crypto, crypto.randomBytes(1000))
  const blocks = new Map([[toHex(chk.query), block]])
  const uri = formatChkUri({ key: crypto.randomBytes(32), query: chk.query }, 1000)
  await t.rejects(download(memoryDht(blocks), crypto, uri, join(dir, 'x'), { retries: 0 }), { name: 'DecodeError', message: /wrong key/ })
})
