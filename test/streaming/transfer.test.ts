/**
 * Streams as Node sockets over an in-process message service on the real event loop
 * (test/streaming/net.ts): 20 MB both ways across loss and random delay (SHA-256 compared),
 * concurrent echo streams, backpressure from a paused reader, a reset in mid-transfer, and
 * the throughput of one stream on a lossless loopback (reported, not asserted).
 */
import t from 'tap'
import { ConnectionResetError } from '../../src/streaming/errors.ts'
import type { StreamSocket } from '../../src/streaming/socket.ts'
import { patternHash, readAll, TestNet, writeAll } from './net.ts'

const MB = 1024 * 1024
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

t.test('20 MB both ways over a lossy loop with random delay arrive identical', async t => {
  const net = new TestNet({ seed: 2, loss: 0.01, maxDelayMs: 2 })
  const a = net.add('A')
  const b = net.add('B')
  const N = 20 * MB
  const server = new Promise<Array<{ bytes: number, sha256: string } | void>>(resolve => {
    b.listen(443, s => { s.on('error', () => {}); resolve(Promise.all([readAll(s), writeAll(s, N, 2)])) })
  })
  const s = await a.connect('B', { toPort: 443 })
  const [, atA] = await Promise.all([writeAll(s, N, 1), readAll(s)])
  const [atB] = await server
  t.same(atB, { bytes: N, sha256: patternHash(N, 1) }, 'A -> B')
  t.same(atA, { bytes: N, sha256: patternHash(N, 2) }, 'B -> A')
  t.ok(s.stats.retransmits > 0, `losses repaired (${s.stats.retransmits} retransmissions)`)
  await net.closeAll()
})

t.test('several concurrent echo streams on several ports', async t => {
  const net = new TestNet({ seed: 3, loss: 0.005, maxDelayMs: 1 })
  const a = net.add('A')
  const b = net.add('B')
  const echo = (s: StreamSocket): void => { s.on('error', () => {}); s.pipe(s) } // pipe ends the echo when the input ends
  b.listen(7, echo)
  b.listen('any', echo)
  const one = async (i: number): Promise<void> => {
    const s = await a.connect('B', { fromPort: 1000 + i, toPort: i % 2 === 0 ? 7 : 8 + i })
    const size = (i + 1) * 256 * 1024
    const [, back] = await Promise.all([writeAll(s, size, 10 + i), readAll(s)])
    t.same(back, { bytes: size, sha256: patternHash(size, 10 + i) }, `stream ${i} echoed intact`)
  }
  await Promise.all(Array.from({ length: 8 }, async (_, i) => { await one(i) }))
  t.equal(b.stats.accepted, 8)
  await net.closeAll()
})

t.test('backpressure: a paused reader makes the writer wait, memory stays bounded', async t => {
  const net = new TestNet({ seed: 4, maxDelayMs: 1 })
  const a = net.add('A', { limits: { maxBufferedBytes: 64 * 1024 } })
  const b = net.add('B', { limits: { maxBufferedBytes: 64 * 1024 } })
  const accepted = new Promise<StreamSocket>(resolve => b.listen(1, resolve))
  const s = await a.connect('B', { toPort: 1 })
  const peer = await accepted
  peer.on('error', () => {})
  const N = 16 * MB
  let done = false
  const writing = writeAll(s, N, 5).then(() => { done = true })
  await sleep(300)
  const stalled = s.stats.queuedBytes + s.stats.unackedBytes + s.writableLength
  t.notOk(done, 'the writer is waiting')
  t.ok(peer.stats.unreadBytes <= 64 * 1024, `receiver holds at most its window (${peer.stats.unreadBytes})`)
  t.ok(s.stats.queuedBytes + s.stats.unackedBytes <= 64 * 1024, 'sender holds at most its buffer')
  t.ok(stalled <= 64 * 1024 + 128 * 1024, `bytes waiting on the writer side are bounded (${stalled})`)
  t.ok(s.stats.peerWindow < 900, 'the writer sees a closed window')
  await sleep(200)
  t.equal(s.stats.queuedBytes + s.stats.unackedBytes + s.writableLength, stalled, 'and stays stalled')
  const got = await readAll(peer)
  await writing
  peer.end()
  t.same(got, { bytes: N, sha256: patternHash(N, 5) }, 'everything arrives once the reader reads')
  await net.closeAll()
})

t.test('a reset in mid-transfer reaches the writer as ConnectionResetError', async t => {
  const net = new TestNet({ seed: 5, maxDelayMs: 1 })
  const a = net.add('A')
  const b = net.add('B')
  b.listen(1, s => { s.once('data', () => { s.reset() }) })
  const s = await a.connect('B', { toPort: 1 })
  const emitted = new Promise<Error>(resolve => s.once('error', resolve))
  const err = await writeAll(s, 8 * MB, 6).then(() => undefined, (e: Error) => e)
  t.ok(err instanceof ConnectionResetError, 'writer fails')
  t.equal(err?.name, 'ConnectionResetError')
  t.equal(await emitted, err, "and the socket's 'error' event carries it")
  await sleep(10)
  t.equal(a.stats.streams, 0, 'the stream is forgotten')
  await net.closeAll()
})

t.test('throughput of one stream on a lossless in-process loopback (reported)', async t => {
  const net = new TestNet({ seed: 6 })
  const a = net.add('A')
  const b = net.add('B')
  const N = 64 * MB
  const received = new Promise<{ bytes: number, sha256: string }>(resolve => b.listen(1, s => { s.on('error', () => {}); resolve(readAll(s)) }))
  const s = await a.connect('B', { toPort: 1 })
  const start = performance.now()
  await writeAll(s, N, 7)
  const got = await received
  const ms = performance.now() - start
  t.same(got, { bytes: N, sha256: patternHash(N, 7) })
  t.comment(`one stream, 64 MiB, MSS 900, no loss: ${(N / 1e6 / (ms / 1000)).toFixed(1)} MB/s ` +
    `(${Math.round(ms)} ms, ${a.stats.packetsOut} packets out, ${b.stats.packetsOut} ACKs back)`)
  await net.closeAll()
})
