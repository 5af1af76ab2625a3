/**
 * File sharing over a network of 8 fs nodes in this process (real TCP sockets on 127.0.0.1 in
 * place of SAM streams, real LMDB stores): publish places every block at `replication` nodes;
 * keyword search (any word, `+word` required) finds it; download is byte-identical; a node that
 * serves corrupt blocks is detected, avoided, and the download still completes intact; an
 * interrupted download resumes without refetching what it has; an unknown URI ends in
 * NotFoundError; a directory round-trips; the stores hold no plaintext; a full network refuses
 * a publish with a clear error.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { publish } from '../../../src/apps/fs/publish.ts'
import { search } from '../../../src/apps/fs/search.ts'
import { download } from '../../../src/apps/fs/download.ts'
import { parseUri, formatChkUri } from '../../../src/apps/fs/uri.ts'
import { blockCount } from '../../../src/apps/fs/tree.ts'
import { ClosedError, LimitError, NotFoundError, UmbraError } from '../../../src/util/errors.ts'
import { Dht } from '../../../src/apps/fs/dht.ts'
import { startTestNet } from './net-fixture.ts'
import { createKBlock } from '../../../src/apps/fs/kblock.ts'
import { compareDistance } from '../../../src/util/kademlia.ts'
import { encryptBlock, verifyBlock } from '../../../src/apps/fs/chk.ts'

const net = await startTestNet(8)
t.teardown(async () => { await net.close() })
const work = await mkdtemp(join(tmpdir(), 'umbra-fs-test-'))
t.teardown(async () => { await rm(work, { recursive: true, force: true }) })

// 1.25 MB of text with a marker, so that plaintext in a store would be found by a byte search.
const MARKER = 'PLAINTEXT-MARKER-7f3a'
const text = Buffer.from(Array.from({ length: 40_000 }, (_, i) => `${MARKER} line ${i} of the test file\n`).join(''))
const file = join(work, 'report.txt')
await writeFile(file, text)

let uri = ''

t.test('publish stores every block at three nodes and search finds it', async (t) => {
  const client = await net.client()
  const r = await publish(client, net.crypto, file, { keywords: ['Quarterly', 'report'], meta: { description: 'numbers' }, replication: 3 })
  uri = r.uri
  const u = parseUri(uri)
  t.equal(u.kind, 'chk')
  t.equal(r.size, text.length)
  t.equal(r.blocks, blockCount(text.length) + 2, 'data, index and two keyword blocks')
  t.ok(r.minReplicas >= 3, `each block on at least 3 nodes (min ${r.minReplicas})`)
  const held = net.nodes.reduce((n, x) => n + x.store.usage().chk, 0)
  t.ok(held >= 3 * blockCount(text.length), `${held} block copies held across the nodes`)

  const other = await net.client()
  const any = await search(other, net.crypto, ['quarterly', 'nothing-here'])
  t.equal(any.results.length, 1, 'any word matches')
  t.equal(any.results[0]!.uri, uri)
  t.equal(any.results[0]!.meta.name, 'report.txt')
  t.equal(any.results[0]!.meta.size, text.length)
  t.equal(any.results[0]!.meta.description, 'numbers')
  const must = await search(other, net.crypto, ['report', '+nothing-here'])
  t.equal(must.results.length, 0, '+word is required')
  const both = await search(other, net.crypto, ['+report', '+QUARTERLY'])
  t.same(both.results.map(x => x.uri), [uri], 'both required words match (case-folded)')
})

t.test('a download from another client is byte-identical', async (t) => {
  const client = await net.client()
  const out = join(work, 'got.txt')
  let calls = 0
  const r = await download(client, net.crypto, uri, out, { onProgress: () => { calls++ } })
  t.ok((await readFile(out)).equals(text), 'identical')
  t.equal(r.size, text.length)
  t.equal(r.reused, 0)
  t.ok(calls > 0, 'progress was reported')
})

t.test('a node serving corrupt blocks is detected and avoided; the file is still intact', async (t) => {
  // Every node that holds blocks starts lying, except enough honest replicas remain: make two of them corrupt.
  const liars = net.nodes.filter(x => x.store.usage().chk > 0).slice(0, 2)
  const restore: Array<() => void> = []
  for (const liar of liars) {
    const get = liar.store.get.bind(liar.store)
    liar.store.get = (q: Uint8Array) => {
      const b = get(q)
      if (b === undefined || b.length === 0) return b
      const bad = Uint8Array.from(b)
      bad[bad.length >> 1]! ^= 0x55
      return bad
    }
    restore.push(() => { liar.store.get = get })
  }
  t.teardown(() => { for (const r of restore) r() })
  const client = await net.client()
  const out = join(work, 'got-despite-liars.txt')
  await download(client, net.crypto, uri, out)
  t.ok((await readFile(out)).equals(text), 'identical despite corrupt replies')
  t.ok(client.stats.badBlocks >= 1, `corrupt blocks detected (${client.stats.badBlocks})`)
  const caught = client.stats.badBlocks
  await download(client, net.crypto, uri, join(work, 'again.txt'))
  t.equal(client.stats.badBlocks, caught, 'once caught, the liars are not asked again')
})

t.test('an interrupted download resumes without refetching what it has', async (t) => {
  const out = join(work, 'resumed.txt')
  const ac = new AbortController()
  const first = await net.client()
  await t.rejects(download(first, net.crypto, uri, out, {
    concurrency: 2,
    signal: ac.signal,
    onProgress: (done, total) => { if (done > total / 2) ac.abort() }
  }))
  const second = await net.client()
  const r = await download(second, net.crypto, uri, out)
  t.ok((await readFile(out)).equals(text), 'identical after resuming')
  t.ok(r.reused >= text.length / 2, `reused ${r.reused} bytes`)
  t.ok(r.fetched < blockCount(text.length), `fetched ${r.fetched} of ${blockCount(text.length)} blocks`)
  await t.rejects(readFile(`${out}.part`), 'the part file is gone')
})

t.test('an unknown URI ends with NotFoundError', async (t) => {
  const client = await net.client()
  const u = parseUri(uri)
  if (u.kind !== 'chk') throw new Error('unreachable')
  const unknown = formatChkUri({ key: randomBytes(32), query: randomBytes(32) }, u.size)
  await t.rejects(download(client, net.crypto, unknown, join(work, 'nothing')), NotFoundError)
})

t.test('a directory publishes and downloads as a tree', async (t) => {
  const dir = join(work, 'album')
  await mkdir(join(dir, 'disc 2'), { recursive: true })
  const files: Record<string, Buffer> = { 'a.bin': randomBytes(70_000), 'disc 2/b.bin': randomBytes(10), 'disc 2/empty': Buffer.alloc(0) }
  for (const [p, b] of Object.entries(files)) await writeFile(join(dir, p), b)
  const client = await net.client()
  const r = await publish(client, net.crypto, dir, { keywords: ['album'] })
  t.equal(r.files, 3)
  const found = await search(await net.client(), net.crypto, ['album'])
  t.equal(found.results[0]?.meta.type, 'application/x-umbra-directory')
  const out = join(work, 'album-copy')
  const got = await download(await net.client(), net.crypto, r.uri, out)
  t.ok(got.directory)
  t.equal(got.files, 3)
  for (const [p, b] of Object.entries(files)) t.ok((await readFile(join(out, p))).equals(b), `${p} identical`)
  t.same((await readdir(out)).sort(), ['a.bin', 'disc 2'])
})

t.test('the stores hold no plaintext', async (t) => {
  let scanned = 0
  for (const x of net.nodes) {
    for (const e of x.store.entries()) {
      const b = e.kind === 'chk' ? x.store.get(e.query) : undefined
      if (b === undefined) continue
      scanned++
      t.notOk(Buffer.from(b).includes(MARKER), 'no marker in a stored block')
      if (Buffer.from(b).includes(MARKER)) break
    }
    // And in the database files themselves.
    for (const f of await readdir(x.dir)) {
      if (f.endsWith('.mdb')) t.notOk((await readFile(join(x.dir, f))).includes(MARKER), `${f} of node ${x.index} has no plaintext`)
    }
  }
  t.ok(scanned > 0, `${scanned} stored blocks scanned`)
})

t.test('a search asks again when the nodes holding a keyword did not answer the first time', async (t) => {
  const restore: Array<() => void> = []
  for (const x of net.nodes) {
    const handle = x.service.handle.bind(x.service)
    let refused = false
    x.service.handle = async (req) => {
      if (req.op === 'search' && !refused) { refused = true; throw new UmbraError('busy') }
      return await handle(req)
    }
    restore.push(() => { x.service.handle = handle })
  }
  t.teardown(() => { for (const r of restore) r() })
  const found = await search(await net.client(), net.crypto, ['quarterly'])
  t.same(found.results.map(r => r.uri), [uri], 'found on the second try')
})

t.test('a seed that could not be reached is asked again by the next bootstrap', async (t) => {
  let failNext = true
  const dht = new Dht({
    dial: async (b64) => {
      if (failNext) { failNext = false; throw new ClosedError('no tunnels yet') }
      return await net.clientDial(b64)
    },
    requestTimeoutMs: 5000
  })
  t.teardown(() => { dht.close() })
  t.equal(await dht.bootstrap([net.nodes[0]!.contact]), 1, 'the first try reaches nobody')
  t.ok(await dht.bootstrap([net.nodes[0]!.contact]) >= net.nodes.length - 1, 'the second asks the seed again and learns the network')
})

t.test('a bootstrap waits for a seed whose first answer is slower than a lookup waits for it', async (t) => {
  // The first stream to a node goes over tunnels just built: here it takes 2.5 s, longer than
  // the lookup's 1.5 s query timeout. The bootstrap must still learn what the seed names, or
  // the next search starts from the seed alone.
  let first = true
  const dht = new Dht({
    dial: async (b64) => {
      if (first) { first = false; await new Promise(resolve => setTimeout(resolve, 2500)) }
      return await net.clientDial(b64)
    },
    requestTimeoutMs: 1500
  })
  t.teardown(() => { dht.close() })
  t.ok(await dht.bootstrap([net.nodes[0]!.contact]) > 1, `the bootstrap learned the seed's nodes (${dht.table.size} known)`)
})

t.test('a search whose nearest nodes were unreachable at bootstrap asks them again', async (t) => {
  // The command's tunnels were not ready when it bootstrapped: its one seed is marked
  // unreachable. That is not "nobody has it": the search must ask again rather than end empty.
  let failing = true
  const dht = new Dht({
    dial: async (b64) => {
      if (failing) throw new ClosedError('no tunnels yet')
      return await net.clientDial(b64)
    },
    requestTimeoutMs: 5000
  })
  t.teardown(() => { dht.close() })
  t.equal(await dht.bootstrap([net.nodes[0]!.contact]), 1, 'the bootstrap reached nobody')
  failing = false
  const found = await search(dht, net.crypto, ['quarterly'])
  t.same(found.results.map(r => r.uri), [uri], 'found once the seed is asked again')
})

t.test('a network with no room refuses a publish with a clear error', async (t) => {
  const tiny = await startTestNet(3, { quotaBytes: 40_000 })
  t.teardown(async () => { await tiny.close() })
  const big = join(work, 'big.bin')
  await writeFile(big, randomBytes(200_000))
  const client = await tiny.client()
  const err = await publish(client, tiny.crypto, big, { keywords: [], replication: 2 }).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof LimitError || err instanceof NotFoundError, `refused: ${String(err)}`)
  t.ok(err instanceof UmbraError)
  // What the nodes held before stays readable.
  for (const x of tiny.nodes) for (const e of x.store.entries()) if (e.kind === 'chk') t.ok(x.store.get(e.query) !== undefined)
})

t.test('a search whose lookup runs out of time before the holders answer asks again', async (t) => {
  // The keyword block lives only at the two nodes farthest from its query, so the lookup (k 8,
  // alpha 3) reaches them in its third round; every node's first answer takes 700 ms, and the
  // holders' first answer is a failure, which comes after the 2 s lookup deadline, when the
  // lookup no longer counts it. That is not "nobody has it": the word must be asked again.
  const expires = Math.floor(Date.now() / 1000) + 3600
  const kb = createKBlock(net.crypto, 'deadline', { uri, meta: { name: 'late.txt', size: 1 } }, expires)
  const far = [...net.nodes].sort((a, b) => compareDistance(kb.query, b.contact.id, a.contact.id)).slice(0, 2)
  for (const x of far) await x.store.put('kblock', kb.query, kb.block, { priority: 1, expiresAtSec: expires })
  const restore: Array<() => void> = []
  for (const x of net.nodes) {
    const handle = x.service.handle.bind(x.service)
    let slow = true
    const holder = far.includes(x)
    x.service.handle = async (req) => {
      if (req.op === 'search' && slow) {
        slow = false
        await new Promise(resolve => setTimeout(resolve, 700))
        if (holder) throw new UmbraError('busy')
      }
      return await handle(req)
    }
    restore.push(() => { x.service.handle = handle })
  }
  t.teardown(() => { for (const r of restore) r() })
  const client = new Dht({ dial: net.clientDial, requestTimeoutMs: 1000 })
  t.teardown(() => { client.close() })
  await client.bootstrap([net.nodes[0]!.contact])
  const found = await search(client, net.crypto, ['deadline'], AbortSignal.timeout(30_000))
  t.same(found.results.map(r => r.meta.name), ['late.txt'], 'found on a later try')
})

t.test('get asks the home node first; a slow home is skipped for a while, a lying one for good', async (t) => {
  const expires = Math.floor(Date.now() / 1000) + 3600
  /** A new block, its query, and the nodes by distance from it (nearest first). */
  const fresh = (): { query: Uint8Array, block: Uint8Array, byDistance: typeof net.nodes, accept: (b: Uint8Array) => boolean } => {
    const { chk, block } = encryptBlock(net.crypto, randomBytes(3000))
    const byDistance = [...net.nodes].sort((a, b) => compareDistance(chk.query, a.contact.id, b.contact.id))
    return { query: chk.query, block, byDistance, accept: (b) => verifyBlock(net.crypto, chk.query, b) }
  }
  const dial = async (b64: string): Promise<import('node:stream').Duplex> => await net.clientDial(b64)

  // 1. The block is only at the node farthest from its query, the last a lookup would reach;
  // with that node as home, one request fetches it (this client has not even bootstrapped).
  const a = fresh()
  const homeA = a.byDistance[a.byDistance.length - 1]!
  await homeA.store.put('chk', a.query, a.block, { priority: 1, expiresAtSec: expires })
  const d1 = new Dht({ dial, home: homeA.contact, requestTimeoutMs: 5000 })
  t.teardown(() => { d1.close() })
  const got = await d1.get(a.query, a.accept)
  t.ok(got !== undefined && Buffer.from(got.from.id).equals(Buffer.from(homeA.contact.id)), 'served by the home node')
  t.same([d1.stats.requests, d1.stats.fromHome], [1, 1], 'one request, no lookup')

  // 2. A home slower than 2 s: the lookup goes on without it (the block is at the nearest
  // node, the first the lookup asks), and the next get does not ask the home at all.
  const b = fresh()
  const near = b.byDistance[0]!
  const homeB = b.byDistance[b.byDistance.length - 1]!
  await near.store.put('chk', b.query, b.block, { priority: 1, expiresAtSec: expires })
  const handle = homeB.service.handle.bind(homeB.service)
  let homeGets = 0
  homeB.service.handle = async (req) => {
    if (req.op === 'get') { homeGets++; await new Promise(resolve => setTimeout(resolve, 2500)) }
    return await handle(req)
  }
  t.teardown(() => { homeB.service.handle = handle })
  const d2 = new Dht({ dial, home: homeB.contact, requestTimeoutMs: 5000 })
  t.teardown(() => { d2.close() })
  await d2.bootstrap([near.contact])
  const slow = await d2.get(b.query, b.accept)
  t.ok(slow !== undefined && Buffer.from(slow.from.id).equals(Buffer.from(near.contact.id)), 'found elsewhere after the home timed out')
  const asked = homeGets
  t.ok((await d2.get(b.query, b.accept)) !== undefined, 'found again')
  t.equal(homeGets, asked, 'the slow home was not asked the second time')
  t.equal(d2.stats.fromHome, 0)
  homeB.service.handle = handle // case 3 may pick homeB as its nearest node: it must answer in time

  // 3. A home that serves a block failing its hash is never asked for blocks again.
  const c = fresh()
  const nearC = c.byDistance[0]!
  const homeC = c.byDistance[c.byDistance.length - 1]!
  await nearC.store.put('chk', c.query, c.block, { priority: 1, expiresAtSec: expires })
  await homeC.store.put('chk', c.query, randomBytes(c.block.length), { priority: 1, expiresAtSec: expires })
  const d3 = new Dht({ dial, home: homeC.contact, requestTimeoutMs: 5000 })
  t.teardown(() => { d3.close() })
  await d3.bootstrap([nearC.contact])
  const good = await d3.get(c.query, c.accept)
  t.ok(good !== undefined && Buffer.from(good.block).equals(Buffer.from(c.block)), 'the right block, from another node')
  t.equal(d3.stats.badBlocks, 1, 'the home\'s block was counted bad')
  const requests = d3.stats.requests
  await d3.get(c.query, c.accept)
  t.equal(d3.stats.fromHome, 0, 'never served by the lying home')
  t.ok(d3.stats.requests - requests <= 2, 'and not asked first again')
})
