/**
 * StreamManager over an in-process message service on the real event loop (test/streaming/net.ts):
 * listening on ports, refused connects, abort and timeout, RSTs for unknown streams and their
 * rate limit, stream limits, and close. Bulk transfer and backpressure are in transfer.test.ts.
 */
import t from 'tap'
import { ConnectionRefusedError, ConnectionResetError } from '../../src/streaming/errors.ts'
import { decodePacket, encodePacket, packet, type StreamPacket } from '../../src/streaming/packet.ts'
import type { StreamSocket } from '../../src/streaming/socket.ts'
import { AbortError, ClosedError, ConfigError, LimitError, TimeoutError } from '../../src/util/errors.ts'
import { readAll, TestNet } from './net.ts'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

t.test('listen on ports and on any; ports and peers as seen from both ends', async t => {
  const net = new TestNet({ maxDelayMs: 1 })
  const a = net.add('A')
  const b = net.add('B')
  const got: Array<{ port: string, s: StreamSocket }> = []
  const serve = (port: string) => (s: StreamSocket): void => {
    got.push({ port, s })
    s.on('error', () => {})
    void readAll(s).then(r => { s.end(`${port}:${r.bytes}`) })
  }
  b.listen(80, serve('80'))
  b.listen('any', serve('any'))
  t.throws(() => b.listen(80, () => {}), ConfigError, 'one listener per port')
  t.throws(() => b.listen(70000, () => {}), ConfigError, 'ports are u16')
  for (const [toPort, want] of [[80, '80:3'], [81, 'any:3']] as const) {
    const s = await a.connect('B', { fromPort: 1234, toPort })
    t.equal(s.remote, 'B')
    t.ok(s.initiator)
    t.same([s.fromPort, s.toPort], [1234, toPort])
    s.end('abc')
    t.equal(new TextDecoder().decode(Buffer.concat(await s.toArray())), want)
  }
  t.same(got.map(g => [g.port, g.s.remote, g.s.fromPort, g.s.toPort, g.s.initiator]), [['80', 'A', 1234, 80, false], ['any', 'A', 1234, 81, false]])
  await net.closeAll()
})

t.test('data given to connect rides on the SYN and reaches the listener', async t => {
  const net = new TestNet({ maxDelayMs: 1 })
  const a = net.add('A')
  const b = net.add('B')
  const first = new Promise<string>(resolve => {
    b.listen(0, s => { s.on('error', () => {}); s.once('data', (d: Buffer) => { resolve(d.toString()); s.end('hi') }) })
  })
  const s = await a.connect('B', { data: text('hello') })
  t.equal(await first, 'hello')
  t.equal(Buffer.concat(await s.toArray()).toString(), 'hi')
  await net.closeAll()
})

t.test('connect to a port nobody listens on is refused', async t => {
  const net = new TestNet({ maxDelayMs: 1 })
  const a = net.add('A')
  const b = net.add('B')
  const err = await a.connect('B', { toPort: 9 }).catch((e: Error) => e)
  t.ok(err instanceof ConnectionRefusedError)
  t.equal((err as Error).name, 'ConnectionRefusedError')
  t.equal(b.stats.refused, 1)
  t.equal(a.stats.streams, 0, 'nothing left behind')
  const stop = b.listen(9, s => { s.destroy() })
  stop()
  await t.rejects(a.connect('B', { toPort: 9 }), ConnectionRefusedError, 'refused again after unlisten')
  await net.closeAll()
})

t.test('abort signal and connect timeout, towards a destination that never answers', async t => {
  const net = new TestNet({ maxDelayMs: 1 })
  const a = net.add('A')
  net.add('B')
  net.blackHoles.add('B')
  await t.rejects(a.connect('B', { signal: AbortSignal.abort() }), AbortError, 'already aborted')
  const ac = new AbortController()
  const p = a.connect('B', { signal: ac.signal })
  setTimeout(() => ac.abort(), 20)
  await t.rejects(p, AbortError, 'aborted while connecting')
  await t.rejects(a.connect('B', { timeoutMs: 50 }), TimeoutError, 'timeoutMs')
  await new Promise(resolve => setImmediate(resolve))
  t.equal(a.stats.streams, 0, 'nothing left behind')
  await net.closeAll()
})

t.test('a packet for an unknown stream gets a RST; RSTs are rate-limited and never answered', async t => {
  const net = new TestNet()
  const a = net.add('A')
  const b = net.add('B', { limits: { rstPerSecond: 10 } })
  const stray = encodePacket(packet({ sendStreamId: 12345, recvStreamId: 777, seq: 3, ack: 1, payload: text('x') }))
  for (let i = 0; i < 100; i++) b.receive('A', 0, 0, stray)
  t.equal(b.stats.rstSent, 20, 'a burst of twice the rate')
  t.equal(b.stats.rstSuppressed, 80)
  await new Promise(resolve => setImmediate(resolve))
  t.equal(a.stats.unroutable, 20, 'A got them and did not answer')
  t.equal(a.stats.rstSent, 0)
  b.receive('A', 0, 0, new Uint8Array([1, 2, 3]))
  t.equal(b.stats.malformed, 1)
  const early = encodePacket(packet({ sendStreamId: 0, recvStreamId: 777, seq: 1, payload: text('x') }))
  b.receive('A', 0, 0, early)
  t.equal(b.stats.unroutable, 1, 'data racing a lost SYN is dropped silently')
  await net.closeAll()
})

t.test('the RST of a refusal and of an unknown stream is well-formed', async t => {
  const out: Uint8Array[] = []
  const net = new TestNet()
  const b = net.add('B', { send: (_to, protocol, _fp, _tp, data) => { t.equal(protocol, 6); out.push(data) } })
  b.receive('A', 5, 80, encodePacket(packet({ sendStreamId: 0, recvStreamId: 99, syn: true, window: 65536 })))
  const rst = decodePacket(out[0]!)
  t.ok(rst.rst)
  t.equal(rst.sendStreamId, 99)
  t.equal(rst.recvStreamId, 0)
  await net.closeAll()
})

t.test('after a stream is gone: a late SYN opens nothing, a late FIN gets its ACK', async t => {
  const net = new TestNet({ maxDelayMs: 1 })
  const a = net.add('A')
  const b = net.add('B')
  let syn: Uint8Array | undefined
  let fin: Uint8Array | undefined
  const fromB: StreamPacket[] = []
  net.onSend = (_to, from, _fp, _tp, data) => {
    const p = decodePacket(data)
    if (from === 'A' && syn === undefined && p.syn) syn = data
    if (from === 'A' && p.fin) fin = data
    if (from === 'B') fromB.push(p)
  }
  b.listen(5, s => { s.on('error', () => {}); s.end('once') })
  const s = await a.connect('B', { toPort: 5, data: text('request') })
  s.end()
  t.equal(Buffer.concat(await s.toArray()).toString(), 'once')
  b.receive('A', 0, 5, syn!)
  t.equal(b.stats.accepted, 1, 'a duplicate while the stream lingers goes to it')
  // Past time-wait (max(1 s, 4 RTO), at most the largest RTO: a slow RTT sample on a loaded
  // machine makes it longer than 1 s), the stream is forgotten.
  const deadline = Date.now() + 10_000
  while (b.stats.streams > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
  t.equal(b.stats.streams, 0)
  b.receive('A', 0, 5, syn!)
  await new Promise(resolve => setImmediate(resolve))
  t.equal(b.stats.accepted, 1, 'a late copy is recognised and dropped')
  t.equal(b.stats.streams, 0)
  fromB.length = 0
  b.receive('A', 0, 5, fin!)
  const finPkt = decodePacket(fin!)
  t.equal(fromB.length, 1, 'a late FIN retransmission is answered')
  t.ok(!fromB[0]!.rst && fromB[0]!.ack === finPkt.seq + 1, 'with the ACK the peer missed, not a RST')
  t.equal(b.stats.rstSent, 0)
  await net.closeAll()
})

t.test('limits: streams per peer, pending accepts, buffer option bounds', async t => {
  const net = new TestNet({ maxDelayMs: 1 })
  const a = net.add('A', { limits: { maxStreamsPerPeer: 2 } })
  const b = net.add('B', { limits: { maxPendingAccepts: 2 } })
  const c = net.add('C')
  b.listen('any', s => { s.on('error', () => {}) })
  const s1 = await a.connect('B')
  const s2 = await a.connect('B')
  await t.rejects(a.connect('B'), LimitError, 'third stream to one peer')
  s1.destroy()
  s2.destroy()
  net.blackHoles.add('C') // C's SYNs reach B, B's answers vanish: handshakes stay pending
  // Handled at once and given a second: under a loaded CI machine the 50 ms wait below can take
  // hundreds of ms, and a handshake timing out unobserved meanwhile was an unhandled rejection.
  const pending = [0, 1, 2].map(async () => await c.connect('B', { timeoutMs: 1000 }).then(() => undefined, (err: unknown) => err))
  await new Promise(resolve => setTimeout(resolve, 50))
  t.equal(b.stats.pendingAccepts, 2)
  t.equal(b.stats.refused, 1, 'the third SYN was refused')
  for (const err of await Promise.all(pending)) t.type(err, Error, 'the pending handshakes end with an error')
  t.throws(() => net.add('D', { limits: { maxBufferedBytes: 1000 } }), ConfigError)
  t.throws(() => net.add('E', { limits: { maxStreams: 0 } }), ConfigError)
  t.throws(() => net.add('F', { mss: 10 }), ConfigError)
  await net.closeAll()
})

t.test('close: open streams fail with ClosedError, nothing opens afterwards', async t => {
  const net = new TestNet({ maxDelayMs: 1 })
  const a = net.add('A')
  const b = net.add('B')
  const accepted = new Promise<StreamSocket>(resolve => b.listen(1, resolve))
  const s = await a.connect('B', { toPort: 1 })
  const peer = await accepted
  const errs = [once(s), once(peer)]
  await a.close()
  t.ok((await errs[0]) instanceof ClosedError, 'local socket: ClosedError')
  t.ok((await errs[1]) instanceof ConnectionResetError, 'remote socket: reset')
  t.equal(a.stats.streams, 0)
  await t.rejects(a.connect('B'), ClosedError)
  await net.closeAll()
})

async function once (s: StreamSocket): Promise<Error> {
  return await new Promise(resolve => s.once('error', resolve))
}
