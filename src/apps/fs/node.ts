/**
 * A file-sharing node: one member of the fs DHT, run by every router by default as a client of
 * its own SAM bridge (nothing else of the router is used). It owns a persistent destination
 * (key in `<dir>/node.key`, 0600), a block store (LMDB in `<dir>/db`) and a DHT view; it answers
 * find/get/search/put from other nodes and clients over SAM streams, verifying every block it
 * is given before storing it. `<dir>/node.json` tells local tools (`umbra publish`, `search`,
 * `get`) where the SAM bridge is and which destination to bootstrap from.
 *
 * The SAM session is made in the background and remade if it ends, so a node can start before
 * its router has tunnels. Every request travels through tunnels: a node never learns who asks.
 */
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CryptoSuite } from '../../crypto/index.ts'
import { openDataStore } from '../../util/datastore.ts'
import { writeFileAtomic } from '../../util/files.ts'
import type { DataStore } from '../../util/kv.ts'
import type { Logger } from '../../util/log.ts'
import { toHex } from '../../util/bytes.ts'
import { ConfigError, DecodeError } from '../../util/errors.ts'
import { generateDestination, type Session } from '../../api/client/index.ts'
import { keepSession } from '../session-keeper.ts'
import { publicFromPrivate } from '../../api/client/address.ts'
import { contactFromBase64, type Contact } from './contacts.ts'
import { Dht } from './dht.ts'
import { BlockStore } from './store.ts'
import { FsService } from './service.ts'

/** Settings of an {@link FsNode}. */
export interface FsNodeOptions {
  /** The node's directory, e.g. `<dataDir>/fs`. */
  dir: string
  /** The router's SAM bridge (and a user of it, if it has authentication on). */
  sam: { host: string, port: number, user?: string, password?: string }
  /** Base64 destinations of nodes to bootstrap from. */
  seeds: readonly string[]
  /** Disk quota for stored blocks, bytes. */
  quotaBytes: number
  crypto: CryptoSuite
  log: Logger
  /** Tunnel length of the node's session (default 3 hops each way). */
  tunnelLength?: number
}

/** What `<dir>/node.json` holds. */
export interface NodeFile {
  /** The node's base64 destination. */
  destination: string
  /** The SAM bridge as `host:port`. */
  sam: string
}

/** Where {@link FsNode} keeps what. */
export const NODE_FILE = 'node.json'
const KEY_FILE = 'node.key'

/** The fs node of one router. */
export class FsNode {
  readonly destination: string
  readonly self: Contact
  private session: Session | undefined
  private readonly dht: Dht
  private readonly service: FsService
  private readonly stop = new AbortController()
  private loop: Promise<void> | undefined

  private constructor (private readonly opts: FsNodeOptions, private readonly privateKey: string, private readonly db: DataStore, readonly store: BlockStore) {
    this.destination = publicFromPrivate(privateKey)
    this.self = contactFromBase64(this.destination)
    this.dht = new Dht({
      self: this.self,
      log: opts.log,
      dial: async (b64, signal) => {
        const s = this.session
        if (s === undefined) throw new ConfigError('the fs node has no SAM session yet')
        return await s.connect(b64, { signal })
      }
    })
    this.service = new FsService(opts.crypto, store, this.dht)
  }

  /** Opens the store and key (generating one over SAM if there is none) and starts serving in the background. */
  static async start (opts: FsNodeOptions): Promise<FsNode> {
    if (!(opts.quotaBytes > 0)) throw new ConfigError('fs quota must be positive')
    await mkdir(opts.dir, { recursive: true, mode: 0o700 })
    const privateKey = await loadOrCreateKey(opts)
    const db = await openDataStore(join(opts.dir, 'db'), { maxValueBytes: 64 * 1024 })
    let store: BlockStore
    try {
      store = await BlockStore.open(db, opts.crypto, { quotaBytes: opts.quotaBytes })
    } catch (err) {
      await db.close()
      throw err
    }
    const node = new FsNode(opts, privateKey, db, store)
    const file: NodeFile = { destination: node.destination, sam: `${opts.sam.host.includes(':') ? `[${opts.sam.host}]` : opts.sam.host}:${opts.sam.port}` }
    await writeFileAtomic(join(opts.dir, NODE_FILE), JSON.stringify(file, null, 2) + '\n', 0o644)
    node.loop = node.run()
    return node
  }

  /** Nodes known, streams open, requests served, store usage. */
  status (): Record<string, unknown> {
    return {
      address: this.self.b64.slice(0, 16),
      online: this.session !== undefined,
      nodes: this.dht.table.size,
      connections: this.dht.connections,
      requests: { ...this.dht.stats },
      served: { ...this.service.served },
      store: this.store.usage()
    }
  }

  /** Stops serving, closes the session and the store. */
  async close (): Promise<void> {
    this.stop.abort()
    this.dht.close()
    await this.session?.close().catch(() => {})
    await this.loop
    await this.store.close()
    await this.db.close()
  }

  /** Keeps a session up: create, listen, bootstrap, refresh; on its end, again. */
  private async run (): Promise<void> {
    await keepSession({
      sam: this.opts.sam,
      privateKey: this.privateKey,
      id: `umbra-fs-${toHex(this.self.id).slice(0, 12)}`,
      tunnelLength: this.opts.tunnelLength,
      what: 'fs node',
      log: this.opts.log,
      signal: this.stop.signal,
      accept: (socket, remote) => { this.accept(socket, remote) },
      live: async (session, ended) => {
        this.session = session
        await this.maintain(ended, this.stop.signal)
      },
      lost: () => { this.session = undefined }
    })
  }

  /** Bootstraps, then refreshes the table and sweeps the store until the session ends. */
  private async maintain (ended: Promise<void>, signal: AbortSignal): Promise<void> {
    let alive = true
    void ended.then(() => { alive = false })
    const seeds = this.opts.seeds.flatMap((s) => {
      try { return [contactFromBase64(s)] } catch { return [] }
    })
    for (let round = 0; alive && !signal.aborted; round++) {
      await this.dht.bootstrap(seeds, signal).catch(() => 0)
      await this.store.sweep().catch(() => 0)
      // Quickly while the network is forming, then every five minutes.
      const wait = this.dht.table.size < 2 || round < 3 ? 5_000 : 300_000
      await Promise.race([ended, sleep(wait, undefined, { signal }).catch(() => {})])
    }
  }

  private accept (socket: import('node:net').Socket, remote: string): void {
    let peer: Contact
    try { peer = contactFromBase64(remote) } catch { socket.destroy(); return }
    void this.service.serve(socket, peer)
  }
}

/** The node's private key from `<dir>/node.key`, or a new one from the bridge (DEST GENERATE). */
async function loadOrCreateKey (opts: FsNodeOptions): Promise<string> {
  const path = join(opts.dir, KEY_FILE)
  try {
    const key = (await readFile(path, 'utf8')).trim()
    publicFromPrivate(key)
    return key
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (err instanceof DecodeError) throw new ConfigError(`${path} does not hold a destination key: ${err.message}`)
      throw err
    }
  }
  const gen = await generateDestination(opts.sam)
  await writeFileAtomic(path, gen.privateKey + '\n', 0o600)
  return gen.privateKey
}
