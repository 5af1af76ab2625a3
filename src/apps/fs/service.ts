/**
 * What an fs node answers, apart from how requests reach it: find (the nodes it knows nearest a
 * target), get (a block from its store, or nearer nodes), search (its keyword blocks under a
 * query, and nearer nodes) and put (a block it checks first: a CHK block must hash to its query,
 * a keyword block must carry a valid signature by the key its query names and not be expired;
 * a remote priority and lifetime are capped). Streams reach it through {@link FsService.serve}.
 */
import type { Duplex } from 'node:stream'
import type { CryptoSuite } from '../../crypto/index.ts'
import type { Contact } from './contacts.ts'
import type { Dht } from './dht.ts'
import type { BlockStore } from './store.ts'
import { serveStream, type ServeOptions } from './rpc.ts'
import { verifyBlock } from './chk.ts'
import { verifyKBlock } from './kblock.ts'
import type { Request, Response } from './messages.ts'

/** Highest priority a remote put may claim (so no one can pin the store with huge values). */
export const MAX_REMOTE_PRIORITY = 100
/** Longest a remote put may ask a block to be kept, seconds (one year). */
export const MAX_LIFETIME_SEC = 365 * 24 * 3600

/** Counters of requests served. */
export interface ServedCounts { find: number, get: number, hits: number, search: number, put: number, invalid: number }

/** The answering side of an fs node. */
export class FsService {
  readonly served: ServedCounts = { find: 0, get: 0, hits: 0, search: 0, put: 0, invalid: 0 }

  constructor (private readonly crypto: CryptoSuite, readonly store: BlockStore, readonly dht: Dht) {}

  /** Serves an accepted stream from `peer` until it ends; a peer that says it is a node joins the table. */
  async serve (socket: Duplex, peer: Contact, opts?: ServeOptions): Promise<void> {
    await serveStream(socket, async (req) => await this.handle(req), (isNode) => { if (isNode) this.dht.add(peer) }, opts)
  }

  /** Answers one request from the store and the routing table. */
  async handle (req: Exclude<Request, { op: 'hello' }>): Promise<Response> {
    switch (req.op) {
      case 'find':
        this.served.find++
        return { nodes: this.nearest(req.target) }
      case 'get': {
        this.served.get++
        const block = this.store.get(req.query)
        if (block !== undefined) { this.served.hits++; return { block } }
        return { nodes: this.nearest(req.query) }
      }
      case 'search':
        this.served.search++
        return { kblocks: this.store.kblocks(req.query, 32), nodes: this.nearest(req.query) }
      case 'put': {
        this.served.put++
        const now = Math.floor(Date.now() / 1000)
        const valid = req.kind === 'chk'
          ? verifyBlock(this.crypto, req.query, req.block)
          : verifyKBlock(this.crypto, req.query, req.block, now)
        if (!valid || req.expires <= now) {
          this.served.invalid++
          return { result: 'invalid', nodes: this.nearest(req.query) }
        }
        const result = await this.store.put(req.kind, req.query, req.block, {
          priority: Math.min(req.priority, MAX_REMOTE_PRIORITY),
          expiresAtSec: Math.min(req.expires, now + MAX_LIFETIME_SEC)
        })
        return { result, nodes: this.nearest(req.query) }
      }
    }
  }

  private nearest (target: Uint8Array): Uint8Array[] {
    return this.dht.nearest(target, 8).map(c => c.dest)
  }
}
