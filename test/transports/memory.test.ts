/**
 * Memory transport: the shared compliance suite in reliable mode and in unreliable mode with
 * no loss, plus the link model (seeded loss, duplication, reordering, latency, jitter) and
 * registry behaviour.
 */
import t, { type Test } from 'tap'
import { createMemoryTransport, type MemoryTransportOptions } from '../../transports/memory/index.ts'
import type { Conn, Transport } from '../../src/link/transport.ts'
import { runTransportCompliance } from './compliance.ts'
import { Peer, Side, connect, sleep } from './compliance-util.ts'

let n = 0
const unique = (): string => `memory://test-${process.pid}-${n++}`

runTransportCompliance(t, { name: 'memory (reliable)', create: () => createMemoryTransport(), listenAddr: unique })
runTransportCompliance(t, { name: 'memory (unreliable, no loss)', create: () => createMemoryTransport({ reliable: false }), listenAddr: unique })

/** A small seeded PRNG (mulberry32) for deterministic link models. */
function seeded (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** A dialer with `opts` connected to a plain listener; the listener side collects. */
async function link (t: Test, opts: MemoryTransportOptions): Promise<{ dt: Transport, client: Peer, server: Peer }> {
  const lt = createMemoryTransport({ reliable: opts.reliable })
  const dt = createMemoryTransport(opts)
  t.teardown(async () => { await dt.close(); await lt.close() })
  const side = new Side(() => ({}))
  const l = await lt.listen(unique(), side.onConn)
  const { client, server } = await connect(dt, l.addr, side)
  return { dt, client, server }
}

/** Sends datagrams numbered 0..count-1 (4-byte big-endian) and returns the numbers received. */
async function numbered (t: Test, opts: MemoryTransportOptions, count: number): Promise<number[]> {
  const { client, server } = await link(t, { reliable: false, ...opts })
  for (let i = 0; i < count; i++) {
    const d = new Uint8Array(4)
    new DataView(d.buffer).setUint32(0, i)
    client.conn.send(d)
  }
  // Everything has left the sender once nothing is in flight (bounded: at most 10 s).
  for (let i = 0; i < 2000 && client.conn.bufferedAmount > 0; i++) await sleep(5)
  t.equal(client.conn.bufferedAmount, 0, 'nothing left in flight')
  return server.chunks.map(c => new DataView(c.buffer, c.byteOffset).getUint32(0))
}

t.test('memory: loss 0.3 with a seeded rng drops about 30% of 1000 datagrams', async t => {
  const got = await numbered(t, { loss: 0.3, rng: seeded(42) }, 1000)
  t.ok(got.length > 600 && got.length < 800, `${got.length} of 1000 arrived`)
  t.equal(new Set(got).size, got.length, 'no duplicates')
  const again = await numbered(t, { loss: 0.3, rng: seeded(42) }, 1000)
  t.same(again, got, 'the same seed gives the same losses')
})

t.test('memory: duplicate delivers some datagrams twice', async t => {
  const got = await numbered(t, { duplicate: 0.2, rng: seeded(7) }, 1000)
  t.equal(new Set(got).size, 1000, 'every datagram arrived')
  t.ok(got.length > 1100 && got.length < 1300, `${got.length - 1000} duplicates`)
})

t.test('memory: reorder delivers some datagrams late', async t => {
  const got = await numbered(t, { reorder: 0.1, rng: seeded(9) }, 1000)
  t.equal(got.length, 1000)
  t.equal(new Set(got).size, 1000, 'every datagram arrived once')
  const inversions = got.filter((v, i) => i > 0 && v < (got[i - 1] as number)).length
  t.ok(inversions > 0, `${inversions} datagrams arrived after a later one`)
})

t.test('memory: latency delays delivery; jitter never reorders a reliable stream', async t => {
  const { client, server } = await link(t, { latencyMs: 40, jitterMs: 30, rng: seeded(1) })
  const start = performance.now()
  const data = new Uint8Array(1000).map((_, i) => i & 0xff)
  for (let i = 0; i < 10; i++) client.conn.send(data.subarray(i * 100, i * 100 + 100))
  await server.until(() => server.bytes >= 1000, 'bytes')
  t.ok(performance.now() - start >= 38, 'not delivered before the latency passed')
  t.same(server.received(), Buffer.from(data), 'in order despite jitter')
})

t.test('memory: registry, options and mismatches', async t => {
  const a = createMemoryTransport()
  const u = createMemoryTransport({ reliable: false })
  t.teardown(async () => { await a.close(); await u.close() })
  const name = unique()
  const l = await a.listen(name, c => { c.close() })
  t.equal(l.addr, name)
  await t.rejects(a.listen(name, () => {}), { name: 'TransportError' }, 'a name is taken once')
  const auto = await a.listen('memory://', () => {})
  t.not(auto.addr, 'memory://', 'an empty name gets a unique one')
  await t.rejects(u.dial(name, { signal: AbortSignal.timeout(1000) }), { name: 'TransportError' }, 'reliable and unreliable do not mix')
  t.equal(a.bid('memory://x'), 5)
  t.equal(a.bid('tcp://127.0.0.1:1'), undefined)
  t.throws(() => createMemoryTransport({ loss: 0.1 }), { name: 'ConfigError' }, 'loss needs reliable: false')
  t.throws(() => createMemoryTransport({ reliable: false, loss: 2 }), { name: 'ConfigError' })
})

t.test('memory: a reliable sender that ignores send() === false hits LimitError', async t => {
  const { client } = await link(t, { highWaterMark: 1024 })
  const chunk = new Uint8Array(1024)
  let err: Error | undefined
  for (let i = 0; i < 1000 && err === undefined; i++) {
    try { client.conn.send(chunk) } catch (e) { err = e as Error }
  }
  t.equal(err?.name, 'LimitError')
  await client.waitClosed()
  t.equal(client.closes[0]?.name, 'LimitError')
})

t.test('memory: an abortive close resets the peer; a graceful one delivers in-flight bytes first', async t => {
  const { client, server } = await link(t, { latencyMs: 10 })
  client.conn.send(new Uint8Array(10))
  client.conn.close()
  await server.waitClosed()
  t.equal(server.bytes, 10, 'bytes sent before close arrived')
  t.equal(server.closes[0], undefined, 'graceful close carries no error')
  const b = await link(t, {})
  b.client.conn.close(new Error('boom'))
  await b.server.waitClosed()
  t.equal(b.server.closes[0]?.name, 'ClosedError', 'reset')
  const conn: Conn = b.client.conn
  t.equal(conn.bufferedAmount, 0)
})

t.test('memory: maxConns refuses extra conns; idle unreliable inbound conns expire', async t => {
  const lt = createMemoryTransport({ maxConns: 2 })
  const ut = createMemoryTransport({ reliable: false, idleMs: 50 })
  const dt = createMemoryTransport()
  const udt = createMemoryTransport({ reliable: false })
  t.teardown(async () => { await Promise.all([lt.close(), ut.close(), dt.close(), udt.close()]) })
  const side = new Side(() => ({}))
  const l = await lt.listen(unique(), side.onConn)
  await connect(dt, l.addr, side)
  await connect(dt, l.addr, side)
  await t.rejects(dt.dial(l.addr, { signal: AbortSignal.timeout(1000) }), { name: 'TransportError' })
  const uside = new Side(() => ({}))
  const ul = await ut.listen(unique(), uside.onConn)
  const { server } = await connect(udt, ul.addr, uside)
  await server.waitClosed()
  t.equal(server.closes[0]?.name, 'TimeoutError', 'idle conn expired')
})
