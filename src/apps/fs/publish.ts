/**
 * Publishing: encodes a file (or every file of a directory plus a listing) into encrypted
 * blocks and inserts each at the `replication` nearest DHT nodes, then inserts one keyword
 * block per keyword carrying the URI and metadata. Blocks go out while the file is read (a
 * bounded queue; memory does not grow with the file). Fails, naming the block, if a block
 * finds no node that stores it.
 */
import { createReadStream } from 'node:fs'
import { lstat, readdir } from 'node:fs/promises'
import { basename, join, relative, sep } from 'node:path'
import PQueue from 'p-queue'
import type { CryptoSuite } from '../../crypto/index.ts'
import { ConfigError, LimitError, NotFoundError } from '../../util/errors.ts'
import { fanOutSignal, throwIfAborted } from '../../util/abort.ts'
import { toHex } from '../../util/bytes.ts'
import type { Dht } from './dht.ts'
import { encodeFile, type EncodedBlock } from './tree.ts'
import { formatChkUri } from './uri.ts'
import { createKBlock, normalizeKeyword } from './kblock.ts'
import { encodeDirectory, type DirEntry } from './directory.ts'
import type { FileMeta } from './meta.ts'

/** Settings of a publish. */
export interface PublishOptions {
  keywords: readonly string[]
  /** Extra metadata (description, type, free-form `extra`). */
  meta?: Omit<FileMeta, 'size'>
  /** Nodes each block is stored at (default 3). */
  replication?: number
  /** Store priority asked for (default 10). */
  priority?: number
  /** How long the blocks should live, seconds (default 90 days). */
  lifetimeSec?: number
  /** Blocks inserted at once (default 16). */
  concurrency?: number
  /** Called as blocks are stored: bytes of the input done so far, of the total. */
  onProgress?: (done: number, total: number) => void
  signal?: AbortSignal
}

/** What a publish made. */
export interface PublishResult {
  uri: string
  size: number
  /** Blocks inserted (data, index and keyword blocks). */
  blocks: number
  /** Fewest nodes any block was stored at. */
  minReplicas: number
  /** Files inside, for a directory. */
  files: number
}

/** Most files one directory publish takes. */
export const MAX_DIRECTORY_FILES = 10_000
/** MIME type given to a directory listing. */
export const DIRECTORY_TYPE = 'application/x-umbra-directory'

/** Publishes the file or directory at `path`. */
export async function publish (dht: Dht, crypto: CryptoSuite, path: string, o: PublishOptions): Promise<PublishResult> {
  o = { ...o, signal: fanOutSignal(o.signal) } // every parallel request races it
  const keywords = o.keywords.map(normalizeKeyword)
  const st = await lstat(path)
  const ctx = new Inserter(dht, o)
  let made: Omit<PublishResult, 'blocks' | 'minReplicas'>
  if (st.isDirectory()) {
    const files = await listFiles(path)
    const total = files.reduce((n, f) => n + f.size, 0)
    let base = 0
    const entries: DirEntry[] = []
    for (const f of files) {
      throwIfAborted(o.signal)
      const r = await ctx.insertFile(crypto, f.path, f.size, (done) => o.onProgress?.(base + done, total))
      base += f.size
      entries.push({ path: relative(path, f.path).split(sep).join('/'), uri: r, size: f.size })
    }
    const listing = encodeDirectory(entries)
    const uri = await ctx.insertBytes(crypto, listing)
    made = { uri, size: listing.length, files: files.length }
    await ctx.insertKeywords(crypto, keywords, { uri, meta: { ...o.meta, name: o.meta?.name ?? basename(path), size: total, type: DIRECTORY_TYPE } })
  } else if (st.isFile()) {
    const uri = await ctx.insertFile(crypto, path, st.size, (done) => o.onProgress?.(done, st.size))
    made = { uri, size: st.size, files: 1 }
    await ctx.insertKeywords(crypto, keywords, { uri, meta: { ...o.meta, name: o.meta?.name ?? basename(path), size: st.size } })
  } else {
    throw new ConfigError(`${path} is neither a file nor a directory`)
  }
  await ctx.queue.onIdle()
  ctx.check()
  return { ...made, blocks: ctx.blocks, minReplicas: ctx.minReplicas }
}

/** Inserts blocks through a bounded queue and keeps the tally. */
class Inserter {
  readonly queue: PQueue
  blocks = 0
  minReplicas = Number.POSITIVE_INFINITY
  private failure: Error | undefined
  private readonly replication: number
  private readonly priority: number
  private readonly expires: number

  constructor (private readonly dht: Dht, private readonly o: PublishOptions) {
    this.queue = new PQueue({ concurrency: o.concurrency ?? 16 })
    this.replication = o.replication ?? 3
    if (!Number.isInteger(this.replication) || this.replication < 1 || this.replication > 16) throw new ConfigError('replication must be 1..16')
    this.priority = o.priority ?? 10
    this.expires = Math.floor(Date.now() / 1000) + (o.lifetimeSec ?? 90 * 24 * 3600)
  }

  /** Throws the first failure, if any. */
  check (): void {
    if (this.failure !== undefined) throw this.failure
    throwIfAborted(this.o.signal)
  }

  async insertFile (crypto: CryptoSuite, path: string, size: number, progress: (done: number) => void): Promise<string> {
    let done = 0
    const source = createReadStream(path, { highWaterMark: 256 * 1024, signal: this.o.signal })
    const root = await encodeFile(crypto, source, size, async (b) => {
      await this.enqueue('chk', b, () => {
        if (b.level === 0) { done += b.block.length; progress(Math.min(done, size)) }
      })
    })
    await this.queue.onIdle()
    this.check()
    return formatChkUri(root, size)
  }

  async insertBytes (crypto: CryptoSuite, bytes: Uint8Array): Promise<string> {
    const root = await encodeFile(crypto, (async function * () { yield bytes })(), bytes.length, async (b) => { await this.enqueue('chk', b) })
    await this.queue.onIdle()
    this.check()
    return formatChkUri(root, bytes.length)
  }

  async insertKeywords (crypto: CryptoSuite, keywords: readonly string[], payload: { uri: string, meta: FileMeta }): Promise<void> {
    for (const k of keywords) {
      const kb = createKBlock(crypto, k, payload, this.expires)
      await this.enqueue('kblock', { query: kb.query, block: kb.block, level: -1, index: 0 })
    }
  }

  private async enqueue (kind: 'chk' | 'kblock', b: EncodedBlock, after?: () => void): Promise<void> {
    this.check()
    await this.queue.onSizeLessThan(2 * (this.o.concurrency ?? 16))
    void this.queue.add(async () => {
      if (this.failure !== undefined) return
      let stored = 0
      for (let attempt = 0; attempt < 3 && stored === 0; attempt++) {
        try {
          const r = await this.dht.put(kind, b.query, b.block, { replication: this.replication, expires: this.expires, priority: this.priority }, this.o.signal)
          stored = r.stored
          if (stored === 0 && r.full > 0) { this.failure ??= new LimitError(`every node asked is full; block ${toHex(b.query).slice(0, 16)} could not be stored`); return }
        } catch (err) {
          if (this.o.signal?.aborted === true) { this.failure ??= err as Error; return }
        }
      }
      if (stored === 0) {
        this.failure ??= new NotFoundError(`no node stored block ${toHex(b.query).slice(0, 16)} (is the fs network up? \`umbra status\` shows this router's fs node)`)
        return
      }
      this.blocks++
      this.minReplicas = Math.min(this.minReplicas, stored)
      after?.()
    })
  }
}

/** Every regular file under `dir`, sorted by path (symlinks are skipped). */
async function listFiles (dir: string): Promise<Array<{ path: string, size: number }>> {
  const out: Array<{ path: string, size: number }> = []
  const walk = async (d: string): Promise<void> => {
    const names = (await readdir(d)).sort()
    for (const n of names) {
      const p = join(d, n)
      const st = await lstat(p)
      if (st.isDirectory()) await walk(p)
      else if (st.isFile()) {
        out.push({ path: p, size: st.size })
        if (out.length > MAX_DIRECTORY_FILES) throw new LimitError(`more than ${MAX_DIRECTORY_FILES} files under ${dir}`)
      }
    }
  }
  await walk(dir)
  if (out.length === 0) throw new ConfigError(`${dir} holds no files`)
  return out
}
