/**
 * Downloading a CHK URI: walks the block tree from the root, fetching blocks in parallel
 * (p-queue) from the nodes nearest each query, verifying every block (hash of the ciphertext
 * against its query; for an index block, and the leaf of a one-leaf file, also hash of the
 * plaintext against its key) and writing leaves in place into `<out>.part`. A node that serves
 * a bad block is avoided and the block is fetched elsewhere. Resuming is automatic: a leaf
 * already in `<out>.part` whose content hashes to its key is kept, not fetched again. The whole
 * file is read back from disk and every leaf must hash to its key, as the verified tree above
 * it gives it (so the file on disk is the one the URI names): 32 leaves at a time, as soon as
 * all 32 are on disk, so only the last run is left to check when the last block arrives. Only
 * then is `<out>.part` synced and renamed to `<out>`. A directory (its plaintext starts with
 * the listing magic) is unpacked into a directory at `<out>`, each file fetched the same way.
 */
import { mkdir, open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import PQueue from 'p-queue'
import type { CryptoSuite } from '../../crypto/index.ts'
import { DecodeError, LimitError, NotFoundError } from '../../util/errors.ts'
import { fanOutSignal, throwIfAborted } from '../../util/abort.ts'
import { toHex } from '../../util/bytes.ts'
import type { Dht } from './dht.ts'
import { BLOCK_SIZE, HASH_BYTES, openVerifiedBlock, openVerifiedLeaf, plainMatchesKey, verifyBlock, type Chk } from './chk.ts'
import { childrenOf, leafCount, rootRef, type BlockRef } from './tree.ts'
import { parseUri } from './uri.ts'
import { MAX_DIR_BYTES, decodeDirectory, isDirectory, safeRelativePath } from './directory.ts'

/** Settings of a download. */
export interface DownloadOptions {
  /** Blocks fetched at once (default 64: the latency through tunnels, not bandwidth, bounds one request). */
  concurrency?: number
  /** Fresh lookups for a block no node had, before giving up (default 2). */
  retries?: number
  /** Called as leaves arrive: bytes done (fetched or reused), total, bytes reused. */
  onProgress?: (done: number, total: number, reused: number) => void
  signal?: AbortSignal
}

/** What a download did. */
export interface DownloadResult {
  /** Bytes of file content (all files, for a directory). */
  size: number
  /** Blocks fetched from the network. */
  fetched: number
  /** Bytes already present from an earlier, interrupted run. */
  reused: number
  /** Files written (1, or a directory's count). */
  files: number
  directory: boolean
}

/** Fetches `uri` (a `umbra://fs/chk/...` URI) to `out`. */
export async function download (dht: Dht, crypto: CryptoSuite, uri: string, out: string, o: DownloadOptions = {}): Promise<DownloadResult> {
  o = { ...o, signal: fanOutSignal(o.signal) } // every parallel request races it
  const u = parseUri(uri)
  if (u.kind !== 'chk') throw new DecodeError('umbra get takes a chk URI (umbra://fs/chk/...); use umbra search for keywords')
  const first = await fetchFile(dht, crypto, u.chk, u.size, out, o)
  if (!first.directory) return first
  // A directory: the listing is at <out>.part.listing; unpack it into <out>/.
  const listingPath = `${out}.listing`
  if (first.size > MAX_DIR_BYTES) throw new LimitError(`directory listing of ${first.size} bytes is over ${MAX_DIR_BYTES}`)
  const listing = decodeDirectory(await readFile(listingPath))
  await mkdir(out, { recursive: true })
  const result: DownloadResult = { size: 0, fetched: first.fetched, reused: first.reused, files: 0, directory: true }
  const total = listing.reduce((n, e) => n + e.size, 0)
  let base = 0
  for (const e of listing) {
    const target = join(out, ...safeRelativePath(e.path).split('/'))
    await mkdir(dirname(target), { recursive: true })
    const eu = parseUri(e.uri)
    if (eu.kind !== 'chk' || eu.size !== e.size) throw new DecodeError(`directory entry ${e.path} has a bad URI`)
    const r = await fetchFile(dht, crypto, eu.chk, eu.size, target, {
      ...o,
      onProgress: (done, _t, reused) => o.onProgress?.(base + done, total, result.reused + reused)
    }, false)
    base += e.size
    result.size += r.size
    result.fetched += r.fetched
    result.reused += r.reused
    result.files++
  }
  await rm(listingPath, { force: true })
  return result
}

/** One file: fetch into `<out>.part`, verify, rename. A directory listing goes to `<out>.listing`. */
async function fetchFile (dht: Dht, crypto: CryptoSuite, root: Chk, size: number, out: string, o: DownloadOptions, allowDirectory = true): Promise<DownloadResult> {
  const part = `${out}.part`
  const existed = await stat(part).then(s => s.isFile(), () => false)
  const fh = await open(part, existed ? 'r+' : 'w+', 0o644)
  const result: DownloadResult = { size, fetched: 0, reused: 0, files: 1, directory: false }
  let done = 0
  /** Each leaf's key, by leaf index, from the verified tree: the final check compares against them. */
  const keys = new LeafKeys(leafCount(size))
  const leafError = (leaf: number): Error => new DecodeError(`leaf ${leaf} of ${part} (bytes from ${leaf * BLOCK_SIZE}) does not hash to the key the URI's ` +
    'tree gives it: the publisher\'s tree is inconsistent, or the file was changed on disk during the download')
  let failure: Error | undefined
  // A run of leaves that fails its check ends the download at once (what is left is not fetched).
  const check = new LeafCheck(fh, crypto, keys, size, leaf => { failure ??= leafError(leaf); queue.clear() })
  const queue = new PQueue({ concurrency: o.concurrency ?? 64 })
  try {
    await fh.truncate(size)
    const top = rootRef(root, size)
    const visit = async (ref: BlockRef): Promise<void> => {
      if (failure !== undefined) return
      try {
        if (ref.level === 0) keys.set(ref.index, ref.chk.key)
        if (ref.level === 0 && existed && await haveLeaf(fh, crypto, ref)) {
          result.reused += ref.length
          done += ref.length
          check.onDisk(ref.index)
          o.onProgress?.(done, size, result.reused)
          return
        }
        const plain = await fetchBlock(dht, crypto, ref, o, ref === top)
        result.fetched++
        if (ref.level === 0) {
          if (plain.length !== ref.length) throw new DecodeError(`malformed file: leaf ${ref.index} holds ${plain.length} bytes, expected ${ref.length}`)
          if (plain.length > 0) await fh.write(plain, 0, plain.length, ref.offset)
          check.onDisk(ref.index)
          done += plain.length
          o.onProgress?.(done, size, result.reused)
          return
        }
        for (const child of childrenOf(crypto, ref, plain, size)) void queue.add(async () => { await visit(child) })
      } catch (err) {
        failure ??= err as Error
        queue.clear()
      }
    }
    void queue.add(async () => { await visit(top) })
    await queue.onIdle()
    if (failure !== undefined) throw failure
    throwIfAborted(o.signal)
    // The whole file, read back, must hash leaf by leaf to the keys of the tree: the checks of
    // the earlier runs of leaves ran during the download; this waits for the last.
    const bad = await check.result()
    if (bad >= 0) throw failure ?? leafError(bad)
    await fh.sync()
  } finally {
    check.stop() // checks still queued after a failure or an abort are skipped
    await check.settled()
    await fh.close()
  }
  if (allowDirectory && size >= 9 && isDirectory(await readHead(part, 9))) {
    await rename(part, `${out}.listing`)
    return { ...result, directory: true }
  }
  await rename(part, out)
  return result
}

/** One block, verified and decrypted; tries fresh lookups before giving up with NotFoundError. */
async function fetchBlock (dht: Dht, crypto: CryptoSuite, ref: BlockRef, o: DownloadOptions, isRoot: boolean): Promise<Uint8Array> {
  const retries = o.retries ?? 2
  for (let attempt = 0; attempt <= retries; attempt++) {
    throwIfAborted(o.signal)
    const got = await dht.get(ref.chk.query, b => verifyBlock(crypto, ref.chk.query, b), o.signal)
    // got.block passed verifyBlock. A leaf's plaintext is hashed once, in the final check; a
    // file of one leaf is checked at once (a wrong key in its URI is then a clear error).
    if (got !== undefined) return ref.level === 0 && !isRoot ? openVerifiedLeaf(crypto, ref.chk, got.block) : openVerifiedBlock(crypto, ref.chk, got.block)
  }
  const what = isRoot ? 'this file (unknown URI, or every node holding it is gone)' : `block ${toHex(ref.chk.query).slice(0, 16)} (level ${ref.level}, index ${ref.index})`
  throw new NotFoundError(`not found: no reachable node has ${what}`)
}

/** Leaves read back at once by {@link LeafCheck} (one run). */
const CHECK_LEAVES = 32

/** The leaf keys of one file, by leaf index, in one flat array (32 bytes per 32 KiB leaf). */
export class LeafKeys {
  private readonly keys: Uint8Array
  private readonly have: Uint8Array
  constructor (readonly count: number) {
    this.keys = new Uint8Array(count * HASH_BYTES)
    this.have = new Uint8Array(count)
  }

  /** Records leaf `i`'s key (32 bytes). */
  set (i: number, key: Uint8Array): void {
    this.keys.set(key, i * HASH_BYTES)
    this.have[i] = 1
  }

  /** Leaf `i`'s key, or undefined if none was recorded. */
  get (i: number): Uint8Array | undefined {
    return this.have[i] === 1 ? this.keys.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES) : undefined
  }
}

/**
 * The run of up to CHECK_LEAVES leaves from leaf `first` (a multiple of CHECK_LEAVES), read
 * back in one go into `buf` (at least as long as the run's bytes): -1 if each leaf hashes to its
 * key, else the first that does not (short on disk, without a key, or hashing to something
 * else). The keys come from index blocks verified up to the URI's root, so this proves the bytes
 * on disk as re-encoding the file would, at a third of the work.
 */
async function badLeafIn (fh: FileHandle, crypto: CryptoSuite, keys: LeafKeys, size: number, first: number, buf: Uint8Array): Promise<number> {
  const n = Math.min(CHECK_LEAVES, leafCount(size) - first)
  const want = Math.min(n * BLOCK_SIZE, size - first * BLOCK_SIZE)
  let got = 0
  while (got < want) {
    const { bytesRead } = await fh.read(buf, got, want - got, first * BLOCK_SIZE + got)
    if (bytesRead === 0) return first + Math.floor(got / BLOCK_SIZE)
    got += bytesRead
  }
  for (let i = 0; i < n; i++) {
    const key = keys.get(first + i)
    const at = i * BLOCK_SIZE
    if (key === undefined || !plainMatchesKey(crypto, buf.subarray(at, Math.min(at + BLOCK_SIZE, want)), key)) return first + i
  }
  return -1
}

/**
 * The final check of a download, run by runs of CHECK_LEAVES leaves: as soon as every leaf of
 * a run is on disk (written, or kept from an earlier run of the download), the run is read back
 * and each leaf hashed against its key ({@link badLeafIn}), one run at a time, while the rest
 * is still being fetched; only the last run is left for the end. Each leaf is read back after
 * its only write by this download, as a check at the end would; a change made to a run by
 * another process after that run was checked is not seen.
 */
export class LeafCheck {
  /** Leaves of each run not yet on disk. */
  private readonly missing: Uint8Array
  /** 1 for each leaf reported on disk. */
  private readonly reported: Uint8Array
  private readonly buf: Uint8Array
  private chain: Promise<void> = Promise.resolve()
  private bad = -1
  private error: Error | undefined
  private stopped = false

  /** `onBad` is called once, with the failing leaf, when a run fails its check. */
  constructor (private readonly fh: FileHandle, private readonly crypto: CryptoSuite, private readonly keys: LeafKeys,
    private readonly size: number, private readonly onBad?: (leaf: number) => void) {
    const leaves = leafCount(size)
    this.reported = new Uint8Array(leaves)
    this.missing = new Uint8Array(Math.ceil(leaves / CHECK_LEAVES))
    for (let r = 0; r < this.missing.length; r++) this.missing[r] = Math.min(CHECK_LEAVES, leaves - r * CHECK_LEAVES)
    this.buf = new Uint8Array(Math.min(CHECK_LEAVES * BLOCK_SIZE, Math.max(size, 1)))
  }

  /** Leaf `i` is on disk. DecodeError for a leaf out of range or reported twice. */
  onDisk (i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.reported.length) throw new DecodeError(`leaf ${i} is not in this file`)
    if (this.reported[i] === 1) throw new DecodeError(`leaf ${i} reported twice`)
    this.reported[i] = 1
    const r = Math.floor(i / CHECK_LEAVES)
    if (--this.missing[r]! > 0) return
    this.chain = this.chain.then(async () => {
      if (this.stopped || this.bad >= 0 || this.error !== undefined) return
      const bad = await badLeafIn(this.fh, this.crypto, this.keys, this.size, r * CHECK_LEAVES, this.buf)
      if (bad >= 0 && this.bad < 0) { this.bad = bad; this.onBad?.(bad) }
    }).catch((err: Error) => { this.error ??= err })
  }

  /**
   * After every leaf is on disk: -1 if every leaf read back hashes to its key, else the first
   * failing leaf found (of the first run found to fail) or the first leaf never reported. A read
   * error is thrown.
   */
  async result (): Promise<number> {
    await this.chain
    if (this.error !== undefined) throw this.error
    if (this.bad >= 0) return this.bad
    return this.reported.indexOf(0)
  }

  /** Skips the checks still queued (the download failed or was aborted); result() then means nothing. */
  stop (): void { this.stopped = true }

  /** Waits for the check reading now, if any (before the file is closed); never rejects. */
  async settled (): Promise<void> { await this.chain }
}

/** Whether the leaf's bytes already in the part file hash to its key. */
async function haveLeaf (fh: FileHandle, crypto: CryptoSuite, ref: BlockRef): Promise<boolean> {
  const buf = new Uint8Array(ref.length)
  const { bytesRead } = await fh.read(buf, 0, ref.length, ref.offset)
  if (bytesRead !== ref.length || ref.length > BLOCK_SIZE) return false
  return plainMatchesKey(crypto, buf, ref.chk.key)
}

async function readHead (path: string, n: number): Promise<Uint8Array> {
  const fh = await open(path, 'r')
  try {
    const buf = new Uint8Array(n)
    await fh.read(buf, 0, n, 0)
    return buf
  } finally { await fh.close() }
}
