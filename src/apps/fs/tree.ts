/**
 * The block tree of a shared file (GNUnet ECRS style). The file is cut into BLOCK_SIZE leaves
 * (data blocks, level 0; the last may be short; the empty file has one empty leaf). An index
 * block (IBlock) at level L >= 1 is the concatenation of the 64-byte CHKs (key || query, see
 * encodeChk) of up to CHKS_PER_IBLOCK consecutive blocks of level L-1, so its plaintext is at
 * most 32 KiB; it is CHK-encrypted like any block. The root is the single block of the top level
 * (depth d = smallest with 512^d >= leaves); a file of <= BLOCK_SIZE bytes has depth 0 and its
 * only leaf is the root. The file's URI is the root's CHK plus the file size.
 *
 * Block (level L, index i) covers leaves [i * 512^L, min((i+1) * 512^L, leaves)) and file bytes
 * from offset i * 512^L * BLOCK_SIZE. Everything here is pure: encodeFile only reads the source
 * and calls the sink it is given.
 */
import type { CryptoSuite } from '../../crypto/types.ts'
import { ConfigError, DecodeError } from '../../util/errors.ts'
import { BLOCK_SIZE, CHK_BYTES, type Chk, decodeChk, encodeChk, encryptBlock } from './chk.ts'

/** CHKs per index block: 512 × 64 bytes = 32 KiB. */
export const CHKS_PER_IBLOCK = 512
/** The largest file size the tree supports (1 PiB; depth 4). */
export const MAX_FILE_SIZE = 2 ** 50

/** Leaves (level-0 blocks) under one block of `level`: 512^level. */
const span = (level: number): number => CHKS_PER_IBLOCK ** level

function checkSize (size: number): void {
  if (!Number.isInteger(size) || size < 0 || size > MAX_FILE_SIZE) {
    throw new ConfigError(`file size must be an integer in 0..${MAX_FILE_SIZE}, got ${size}`)
  }
}

/** Data blocks of a file of `size` bytes: max(1, ceil(size / BLOCK_SIZE)). ConfigError for a bad size. */
export function leafCount (size: number): number {
  checkSize(size)
  return Math.max(1, Math.ceil(size / BLOCK_SIZE))
}

/** Tree depth: the smallest d with 512^d >= leafCount(size) (0 for files of <= BLOCK_SIZE bytes). */
export function treeDepth (size: number): number {
  const leaves = leafCount(size)
  let d = 0
  while (span(d) < leaves) d++
  return d
}

/** All blocks of the tree: leaves plus every IBlock (20 MiB → 640 + 2 + 1 = 643). */
export function blockCount (size: number): number {
  let n = leafCount(size)
  let total = n
  while (n > 1) {
    n = Math.ceil(n / CHKS_PER_IBLOCK)
    total += n
  }
  return total
}

/** One encrypted block as the encoder emits it; `index` is the block's position within its level. */
export interface EncodedBlock { query: Uint8Array, block: Uint8Array, level: number, index: number }

interface Level { buf: Uint8Array | undefined, fill: number, count: number }

/**
 * Encodes a file of exactly `size` bytes read from `source` (chunks of any size; chunks may be
 * reused by the source once yielded). Each block is passed to `sink`, and awaited, before
 * more is read (backpressure): leaves in file order, each IBlock as soon as its last child is
 * out, the root last. Memory is one leaf buffer plus one pending IBlock buffer per level.
 * Returns the root's CHK. Throws ConfigError for a size that is negative, non-integer or above
 * MAX_FILE_SIZE, DecodeError if the source yields more or fewer than `size` bytes. The last leaf
 * (and so every block above it) is sunk only once the source has ended with the right length;
 * after an error the blocks already sunk are of no use and may be discarded.
 */
export async function encodeFile (crypto: CryptoSuite, source: AsyncIterable<Uint8Array>, size: number,
  sink: (b: EncodedBlock) => void | Promise<void>): Promise<Chk> {
  checkSize(size)
  const depth = treeDepth(size)
  const levels: Level[] = Array.from({ length: depth + 1 }, () => ({ buf: undefined, fill: 0, count: 0 }))
  let root: Chk | undefined

  const emit = async (plain: Uint8Array, level: number): Promise<void> => {
    const { chk, block } = encryptBlock(crypto, plain)
    const here = levels[level]!
    await sink({ query: chk.query, block, level, index: here.count++ })
    if (level === depth) {
      root = chk
      return
    }
    const up = levels[level + 1]!
    up.buf ??= new Uint8Array(BLOCK_SIZE)
    up.buf.set(encodeChk(chk), up.fill)
    up.fill += CHK_BYTES
    if (up.fill === BLOCK_SIZE) {
      up.fill = 0
      await emit(up.buf, level + 1)
    }
  }

  const leaf = new Uint8Array(BLOCK_SIZE)
  let fill = 0
  let total = 0
  for await (const chunk of source) {
    if (chunk.length > size - total) {
      throw new DecodeError(`source yielded more than the declared ${size} bytes`)
    }
    total += chunk.length
    for (let off = 0; off < chunk.length;) {
      if (fill === BLOCK_SIZE) { // flushed lazily, so the last leaf waits for the end of the source
        await emit(leaf, 0)
        fill = 0
      }
      const n = Math.min(BLOCK_SIZE - fill, chunk.length - off)
      leaf.set(chunk.subarray(off, off + n), fill)
      fill += n
      off += n
    }
  }
  if (total !== size) throw new DecodeError(`source ended after ${total} of the declared ${size} bytes`)
  await emit(leaf.subarray(0, fill), 0)
  for (let l = 1; l <= depth; l++) {
    const lv = levels[l]!
    if (lv.fill > 0 && lv.buf !== undefined) {
      const n = lv.fill
      lv.fill = 0
      await emit(lv.buf.subarray(0, n), l)
    }
  }
  if (root === undefined) throw new Error('unreachable: encoder produced no root')
  return root
}

/**
 * A block to fetch, located in the tree. `offset` is the file offset of the first byte it covers,
 * `length` the file bytes it covers (a leaf's plaintext length; for an IBlock, the bytes of all
 * leaves under it). `level` and `index` are authoritative; the helpers below derive from them.
 */
export interface BlockRef { chk: Chk, level: number, index: number, offset: number, length: number }

/** The root block of a file of `size` bytes whose URI holds `chk`. ConfigError for a bad size. */
export function rootRef (chk: Chk, size: number): BlockRef {
  return { chk, level: treeDepth(size), index: 0, offset: 0, length: size }
}

/**
 * The leaf indices `ref` covers: [first, first + count). ConfigError if `ref` is not a block of
 * the tree of a `size`-byte file (bad level or index).
 */
export function leavesUnder (ref: BlockRef, size: number): { first: number, count: number } {
  const depth = treeDepth(size)
  const leaves = leafCount(size)
  const { level, index } = ref
  if (!Number.isInteger(level) || level < 0 || level > depth || !Number.isInteger(index) || index < 0 ||
    index * span(level) >= leaves) {
    throw new ConfigError(`no block at level ${level}, index ${index} in a file of ${size} bytes`)
  }
  const first = index * span(level)
  return { first, count: Math.min(span(level), leaves - first) }
}

/**
 * The exact plaintext length `ref`'s block decrypts to: for a leaf min(BLOCK_SIZE, size - offset)
 * (0 for the empty file), for an IBlock 64 × its number of children.
 */
export function plainLength (ref: BlockRef, size: number): number {
  const { first, count } = leavesUnder(ref, size)
  if (ref.level === 0) return Math.min(BLOCK_SIZE, size - first * BLOCK_SIZE)
  return Math.ceil(count / span(ref.level - 1)) * CHK_BYTES
}

/**
 * The children of `ref` given its decrypted plaintext `plain`: for an IBlock, one ref per CHK
 * (level - 1, consecutive indices, with offset and length); for a leaf, [] (callers check a
 * leaf's length against plainLength themselves). Throws DecodeError if an IBlock's plaintext is
 * not exactly plainLength bytes. `crypto` is unused (CHKs are parsed, not verified, here); it
 * stays in the signature so callers need not change if verification moves here.
 */
export function childrenOf (_crypto: CryptoSuite, ref: BlockRef, plain: Uint8Array, size: number): BlockRef[] {
  const want = plainLength(ref, size)
  if (ref.level === 0) return []
  if (plain.length !== want) {
    throw new DecodeError(`malformed index block at level ${ref.level}, index ${ref.index}: ` +
      `${plain.length} bytes, expected ${want}`)
  }
  const childSpan = span(ref.level - 1) * BLOCK_SIZE
  const out: BlockRef[] = []
  for (let j = 0; j * CHK_BYTES < want; j++) {
    const index = ref.index * CHKS_PER_IBLOCK + j
    const offset = index * childSpan
    out.push({ chk: decodeChk(plain, j * CHK_BYTES), level: ref.level - 1, index, offset, length: Math.min(childSpan, size - offset) })
  }
  return out
}
