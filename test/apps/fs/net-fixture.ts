/**
 * A small fs network inside the test process: N nodes, each an FsService with its own LMDB
 * block store in a temp dir and its own DHT view, reachable over real TCP sockets on 127.0.0.1
 * instead of SAM streams (the caller's destination, which SAM would give the server, is sent as
 * a 2-byte node index before the protocol starts; 0xffff is an anonymous client). Destinations
 * are random bytes in the I2P layout with an empty certificate.
 */
import * as net from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import { loadCrypto, type CryptoSuite } from '../../../src/crypto/index.ts'
import { openDataStore } from '../../../src/util/datastore.ts'
import type { DataStore } from '../../../src/util/kv.ts'
import { contactFromBytes, type Contact } from '../../../src/apps/fs/contacts.ts'
import { Dht } from '../../../src/apps/fs/dht.ts'
import { FsService } from '../../../src/apps/fs/service.ts'
import { BlockStore } from '../../../src/apps/fs/store.ts'

/** One node of the test network. */
export interface TestNode {
  index: number
  contact: Contact
  service: FsService
  store: BlockStore
  dht: Dht
  db: DataStore
  dir: string
}

/** The network and how to make clients of it. */
export interface TestNet {
  crypto: CryptoSuite
  nodes: TestNode[]
  /** A fresh anonymous client DHT view, bootstrapped from node 0. */
  client: () => Promise<Dht>
  /** How an anonymous client opens a stream to a node (for DHTs made by the test). */
  clientDial: (b64: string) => Promise<Duplex>
  close: () => Promise<void>
}

const CLIENT = 0xffff

function fakeDestination (i: number): Uint8Array {
  const d = new Uint8Array(387)
  for (let j = 0; j < 384; j++) d[j] = (Math.imul(j + 1, 2654435761) ^ Math.imul(i + 7, 40503)) & 0xff
  d[0] = i & 0xff
  d[1] = (i >> 8) & 0xff
  return d
}

/** Starts `n` nodes (quota in bytes each, default 64 MB) and bootstraps them from node 0. */
export async function startTestNet (n: number, opts: { quotaBytes?: number } = {}): Promise<TestNet> {
  const crypto = await loadCrypto()
  const nodes: TestNode[] = []
  const servers: net.Server[] = []
  const sockets = new Set<net.Socket>()
  const ports: number[] = []
  const clients: Dht[] = []
  const dialFrom = (from: number) => async (b64: string): Promise<Duplex> => {
    const target = nodes.find(x => x.contact.b64 === b64)
    if (target === undefined) throw new Error('no such test node')
    const s = net.connect(ports[target.index]!, '127.0.0.1')
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
    await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject) })
    s.write(Buffer.from([from >> 8, from & 0xff]))
    return s
  }
  for (let i = 0; i < n; i++) {
    const dir = await mkdtemp(join(tmpdir(), 'umbra-fs-net-'))
    const db = await openDataStore(dir, { maxValueBytes: 64 * 1024 })
    const store = await BlockStore.open(db, crypto, { quotaBytes: opts.quotaBytes ?? 64_000_000 })
    const contact = contactFromBytes(fakeDestination(i))
    const dht = new Dht({ self: contact, dial: dialFrom(i), requestTimeoutMs: 5000 })
    const node: TestNode = { index: i, contact, service: new FsService(crypto, store, dht), store, dht, db, dir }
    nodes.push(node)
    const server = net.createServer((socket) => {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
      socket.once('readable', () => {
        const head = socket.read(2) as Buffer | null
        if (head === null) { socket.destroy(); return }
        const from = head.readUInt16BE(0)
        const peer = from === CLIENT ? contactFromBytes(fakeDestination(60_000 + ports.length)) : nodes[from]?.contact
        if (peer === undefined) { socket.destroy(); return }
        void node.service.serve(socket, peer)
      })
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    servers.push(server)
    ports.push((server.address() as net.AddressInfo).port)
  }
  for (const node of nodes.slice(1)) await node.dht.bootstrap([nodes[0]!.contact])
  for (const node of nodes) await node.dht.bootstrap([])
  return {
    crypto,
    nodes,
    clientDial: dialFrom(CLIENT),
    client: async () => {
      const d = new Dht({ dial: dialFrom(CLIENT), requestTimeoutMs: 5000 })
      clients.push(d)
      await d.bootstrap([nodes[0]!.contact])
      return d
    },
    close: async () => {
      for (const c of clients) c.close()
      for (const x of nodes) x.dht.close()
      for (const s of sockets) s.destroy()
      await Promise.all(servers.map(async s => await new Promise(resolve => s.close(resolve))))
      for (const x of nodes) {
        await x.store.close()
        await x.db.close()
        await rm(x.dir, { recursive: true, force: true })
      }
    }
  }
}
