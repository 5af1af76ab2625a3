/**
 * The block tree: leaf/depth/block counts (20 MiB → 643 blocks), encodeFile + a walk back from
 * rootRef with childrenOf/decryptBlock reproducing the file for sizes around the leaf and IBlock
 * boundaries with random chunking, emission order (leaves in order, children before parents,
 * root last), determinism, a hand-built depth-1 root, source too short/long, bad sizes, malformed
 * IBlocks, leavesUnder/plainLength, and streaming (the encoder reads at most one chunk past the
 * leaf it sinks, and never while a sink call is pending).
 */
import t from 'tap'
import fc from 'fast-check'
import { loadCrypto } from '../../../src/crypto/index.ts'
import { BLOCK_SIZE, type Chk, chkEquals, decryptBlock, encodeChk, encryptBlock } from '../../../src/apps/fs/chk.ts'
import {
  blockCount, childrenOf, CHKS_PER_IBLOCK, encodeFile, type EncodedBlock, leafCount, leavesUnder,
  MAX_FILE_SIZE, plainLength, rootRef, treeDepth, type BlockRef
} from '../../../src/apps/fs/tree.ts'
import { ConfigError, DecodeError } from '../../../src/util/errors.ts'
import { prng } from '../../fixtures/prng.ts'

const crypto = await loadCrypto()
const B = BLOCK_SIZE
const ZERO: Chk = { key: new Uint8Array(32), query: new Uint8Array(32) }
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

function fileOf (size: number, seed: number): Uint8Array {
  const r = prng(seed)
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) out[i] = (r() * 256) | 0
  return out
}

/** Yields `file` in random chunks (some empty) through one reused buffer. */
async function * chunked (file: Uint8Array, seed: number, maxChunk = 70_000): AsyncGenerator<Uint8Array> {
  const r = prng(seed)
  const buf = new Uint8Array(maxChunk)
  for (let off = 0; off < file.length;) {
    const n = Math.min(file.length - off, Math.floor(r() * (maxChunk + 1)))
    buf.set(file.subarray(off, off + n))
    yield buf.subarray(0, n)
    off += n
  }
}

/**
 * Whether `order` is a valid emission order for a file of `size` bytes: blockCount blocks,
 * consecutive indices per level, every block after all its children, the root last.
 */
function wellOrdered (order: EncodedBlock[], size: number): boolean {
  if (order.length !== blockCount(size) || order.at(-1)!.level !== treeDepth(size)) return false
  const next: number[] = []
  for (const b of order) {
    if (b.index !== (next[b.level] ?? 0)) return false
    next[b.level] = b.index + 1
    if (b.level > 0) {
      const { first, count } = leavesUnder({ chk: ZERO, level: b.level, index: b.index, offset: 0, length: 0 }, size)
      const needed = Math.ceil((first + count) / CHKS_PER_IBLOCK ** (b.level - 1))
      if ((next[b.level - 1] ?? 0) < needed) return false
    }
  }
  return true
}

/** Encodes, checking emission order, and returns the root and the store of blocks by query. */
async function encode (file: Uint8Array, seed: number): Promise<{ root: Chk, store: Map<string, EncodedBlock>, order: EncodedBlock[] }> {
  const store = new Map<string, EncodedBlock>()
  const order: EncodedBlock[] = []
  const root = await encodeFile(crypto, chunked(file, seed), file.length, b => {
    store.set(hex(b.query), b)
    order.push(b)
  })
  if (!wellOrdered(order, file.length)) throw new Error('badly ordered emission')
  return { root, store, order }
}

/** Downloads the file from `store` by walking the tree from its root. */
function walk (root: Chk, size: number, store: Map<string, EncodedBlock>): Uint8Array {
  const out = new Uint8Array(size)
  const visit = (ref: BlockRef): void => {
    const b = store.get(hex(ref.chk.query))
    if (b === undefined) throw new Error('missing block')
    if (b.level !== ref.level || b.index !== ref.index) throw new Error('block position mismatch')
    const plain = decryptBlock(crypto, ref.chk, b.block)
    if (plain.length !== plainLength(ref, size)) throw new Error('bad plaintext length')
    if (ref.level === 0) {
      if (plain.length !== ref.length) throw new Error('leaf length mismatch')
      out.set(plain, ref.offset)
    }
    for (const c of childrenOf(crypto, ref, plain, size)) visit(c)
  }
  visit(rootRef(root, size))
  return out
}

t.test('counts: leaves, depth, blocks', async t => {
  const cases: Array<[number, number, number, number]> = [
    [0, 1, 0, 1], [1, 1, 0, 1], [B, 1, 0, 1], [B + 1, 2, 1, 3], [512 * B, 512, 1, 513],
    [512 * B + 1, 513, 2, 516], [20 * 2 ** 20, 640, 2, 643], [MAX_FILE_SIZE, 2 ** 35, 4, 2 ** 35 + 2 ** 26 + 2 ** 17 + 2 ** 8 + 1]
  ]
  for (const [size, leaves, depth, blocks] of cases) {
    t.same([leafCount(size), treeDepth(size), blockCount(size)], [leaves, depth, blocks], `size ${size}`)
  }
  for (const bad of [-1, 1.5, NaN, MAX_FILE_SIZE + 1]) t.throws(() => blockCount(bad), ConfigError, `size ${bad}`)
})

t.test('encode then walk back reproduces the file around boundaries', async t => {
  for (const [i, size] of [0, 1, B - 1, B, B + 1, 3 * B + 7, 512 * B, 512 * B + 1].entries()) {
    const file = fileOf(size, 100 + i)
    const { root, store, order } = await encode(file, 200 + i)
    t.ok(chkEquals({ key: root.key, query: order.at(-1)!.query }, root), `size ${size}: well ordered, root last`)
    t.ok(Buffer.from(walk(root, size, store)).equals(file), `size ${size}: walk reproduces the file`)
  }
})

t.test('deterministic: the root does not depend on chunking', async t => {
  await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 3 * B + 5 }), fc.integer(), async (size, seed) => {
    const file = fileOf(size, seed)
    const one = await encodeFile(crypto, (async function * () { yield file })(), size, () => {})
    const { root } = await encode(file, seed + 1)
    return chkEquals(one, root)
  }), { numRuns: 15 })
  t.pass('15 random files, two chunkings each')
})

t.test('a depth-1 root is the CHK of its children\'s concatenated CHKs', async t => {
  const file = fileOf(2 * B + 10, 7)
  const leaves = [0, 1, 2].map(i => encryptBlock(crypto, file.subarray(i * B, (i + 1) * B)).chk)
  const iblock = new Uint8Array(3 * 64)
  leaves.forEach((c, i) => iblock.set(encodeChk(c), i * 64))
  const { root } = await encode(file, 8)
  t.ok(chkEquals(root, encryptBlock(crypto, iblock).chk))
  const kids = childrenOf(crypto, rootRef(root, file.length), iblock, file.length)
  t.same(kids.map(k => [k.level, k.index, k.offset, k.length]), [[0, 0, 0, B], [0, 1, B, B], [0, 2, 2 * B, 10]])
  t.ok(kids.every((k, i) => chkEquals(k.chk, leaves[i]!)))
})

t.test('source too short or too long is a DecodeError; bad sizes are ConfigErrors', async t => {
  const file = fileOf(2 * B + 1, 3)
  const sunk: EncodedBlock[] = []
  const sink = (b: EncodedBlock): void => { sunk.push(b) }
  await t.rejects(encodeFile(crypto, chunked(file.subarray(0, 2 * B), 1), file.length, sink), DecodeError, 'one byte short')
  t.ok(sunk.every(b => b.level === 0) && sunk.length < 3, 'neither the last leaf nor the root was sunk')
  sunk.length = 0
  await t.rejects(encodeFile(crypto, chunked(file, 2), 2 * B, sink), DecodeError, 'one byte long')
  t.ok(sunk.every(b => b.level === 0) && sunk.length < 2, 'no root sunk')
  await t.rejects(encodeFile(crypto, chunked(file, 2), 0, sink), DecodeError, 'bytes for an empty file')
  for (const bad of [-1, 0.5, NaN, MAX_FILE_SIZE + 1]) {
    await t.rejects(encodeFile(crypto, chunked(file, 2), bad, sink), ConfigError, `size ${bad}`)
  }
})

t.test('childrenOf: a malformed index block is a DecodeError; a leaf has no children', async t => {
  const size = 512 * B + 1
  const { root, store } = await encode(fileOf(size, 4), 5)
  const ref = rootRef(root, size)
  const plain = decryptBlock(crypto, root, store.get(hex(root.query))!.block)
  t.equal(plain.length, 128, 'root of a 513-leaf file has two children')
  t.throws(() => childrenOf(crypto, ref, plain.subarray(0, 64), size), { name: 'DecodeError', message: /malformed index block/ })
  t.throws(() => childrenOf(crypto, ref, new Uint8Array(129), size), DecodeError)
  const [mid, last] = childrenOf(crypto, ref, plain, size)
  t.same([mid!.level, mid!.index, mid!.offset, mid!.length], [1, 0, 0, 512 * B])
  t.same([last!.level, last!.index, last!.offset, last!.length], [1, 1, 512 * B, 1])
  t.equal(plainLength(mid!, size), B, 'a full IBlock is 32 KiB')
  t.equal(plainLength(last!, size), 64)
  const leaf = childrenOf(crypto, last!, new Uint8Array(64), size)[0]!
  t.same([leaf.level, leaf.index, leaf.offset, leaf.length, plainLength(leaf, size)], [0, 512, 512 * B, 1, 1])
  t.same(childrenOf(crypto, leaf, new Uint8Array(1), size), [])
})

t.test('leavesUnder, plainLength and rootRef', async t => {
  const at = (level: number, index: number): BlockRef => ({ chk: ZERO, level, index, offset: 0, length: 0 })
  const size = 1000 * B + 5
  t.same(rootRef(ZERO, size), { chk: ZERO, level: 2, index: 0, offset: 0, length: size })
  t.same(leavesUnder(at(2, 0), size), { first: 0, count: 1001 })
  t.same(leavesUnder(at(1, 1), size), { first: 512, count: 489 })
  t.same(leavesUnder(at(0, 1000), size), { first: 1000, count: 1 })
  t.same([plainLength(at(2, 0), size), plainLength(at(1, 1), size), plainLength(at(0, 1000), size), plainLength(at(0, 3), size)],
    [128, 489 * 64, 5, B])
  t.equal(plainLength(rootRef(ZERO, 0), 0), 0, 'the empty file\'s only leaf is empty')
  for (const [l, i] of [[0, 1001], [1, 2], [3, 0], [-1, 0], [0, 0.5]] as const) {
    t.throws(() => leavesUnder(at(l, i), size), ConfigError, `level ${l} index ${i}`)
  }
})

t.test('streaming: reads at most one chunk past the sunk leaf, never while the sink is pending', async t => {
  const size = 40 * B + 123
  const file = fileOf(size, 9)
  let pulled = 0
  let pending = false
  let pulledWhilePending = false
  let maxLead = 0
  const src = async function * (): AsyncGenerator<Uint8Array> {
    for await (const c of chunked(file, 10, 10_000)) {
      if (pending) pulledWhilePending = true
      pulled += c.length
      yield c
    }
  }
  await encodeFile(crypto, src(), size, async b => {
    if (b.level === 0) maxLead = Math.max(maxLead, pulled - (b.index + 1) * B)
    pending = true
    await new Promise(resolve => setImmediate(resolve))
    pending = false
  })
  t.notOk(pulledWhilePending, 'backpressure')
  t.ok(maxLead <= 10_000, `read ahead ${maxLead} bytes, at most one chunk`)
})
