import t, { type Test } from 'tap'
import { createMemoryTransport } from '../../transports/memory/index.ts'
import { createTcpTransport } from '../../transports/tcp/index.ts'
import { UdpTransport } from '../../transports/udp/index.ts'
import { Link } from '../../src/link/link.ts'
import { linkPair, testRouter } from './fixtures.ts'

async function exchange (t: Test, la: Link, lb: Link, count: number, size: number): Promise<void> {
  const got: Uint8Array[] = []
  const done = new Promise<void>((resolve) => {
    lb.onMessage = (m) => { got.push(m); if (got.length === count) resolve() }
  })
  let i = 0
  const pump = (): void => {
    while (i < count) {
      const m = new Uint8Array(size)
      new DataView(m.buffer).setUint32(0, i)
      m.fill(i & 0xff, 4)
      i++
      if (!la.send(m)) { la.onDrain = pump; return }
    }
  }
  pump()
  await done
  let ok = true
  for (let k = 0; k < count; k++) {
    const m = got[k]!
    if (m.length !== size || new DataView(m.buffer, m.byteOffset).getUint32(0) !== k || m[size - 1] !== (k & 0xff)) { ok = false; break }
  }
  t.ok(ok, `${count} messages of ${size} bytes arrive intact and in order`)
}

/** Two linked routers over lossy memory transports (2 ms latency) whose losses follow `seed`; closed at the test's end. */
async function lossyPair (t: Test, seed: number, lossy: { loss: number, duplicate: number, reorder: number }, addr: string): Promise<{ la: Link, lb: Link }> {
  const rng = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
  const opts = { reliable: false, ...lossy, latencyMs: 2, rng }
  const { la, lb, close } = await linkPair(await testRouter(), await testRouter(), createMemoryTransport(opts), createMemoryTransport(opts), addr)
  t.teardown(close)
  return { la, lb }
}

t.test('memory (reliable): handshake, messages both ways', async t => {
  const a = await testRouter()
  const b = await testRouter()
  const { la, lb, close } = await linkPair(a, b, createMemoryTransport(), createMemoryTransport(), 'memory://link-r1')
  t.teardown(close)
  t.equal(la.state, 'open')
  t.same(lb.peer?.staticKey, a.ctx.staticKey.publicKey, 'responder learned the initiator static key')
  await exchange(t, la, lb, 2000, 1024)
  await exchange(t, lb, la, 2000, 1024)
})

t.test('tcp: 10,000 messages each way', async t => {
  const a = await testRouter()
  const b = await testRouter()
  const { la, lb, close } = await linkPair(a, b, createTcpTransport(), createTcpTransport(), 'tcp://127.0.0.1:0')
  t.teardown(close)
  await exchange(t, la, lb, 10000, 1024)
  await exchange(t, lb, la, 10000, 1024)
})

t.test('tcp: a stream link takes messages up to 60 KiB (one frame each), and not one byte more', async t => {
  const { la, lb, close } = await linkPair(await testRouter(), await testRouter(), createTcpTransport(), createTcpTransport(), 'tcp://127.0.0.1:0')
  t.teardown(close)
  t.equal(la.maxMessage, 60 * 1024 - 3, 'frames of 60 KiB plaintext, less a block header')
  const frames = la.stats.framesSent
  await exchange(t, la, lb, 200, la.maxMessage)
  t.ok(la.stats.framesSent - frames >= 200, 'each message took a frame of its own')
  await exchange(t, lb, la, 200, lb.maxMessage)
  t.throws(() => la.send(new Uint8Array(la.maxMessage + 1)), { name: 'LimitError' }, 'one byte more is refused')
})

t.test('tcp: a busy stream link writes once 128 KiB are queued, without waiting for the turn to end', async t => {
  const { la, lb, close } = await linkPair(await testRouter(), await testRouter(), createTcpTransport(), createTcpTransport(), 'tcp://127.0.0.1:0')
  t.teardown(close)
  await new Promise(resolve => setImmediate(resolve))
  const bytes0 = la.stats.bytesSent
  la.send(new Uint8Array(1024))
  t.equal(la.stats.bytesSent, bytes0, 'a small message waits for the end of the turn (batched)')
  for (let i = 0; i < 3; i++) la.send(new Uint8Array(la.maxMessage))
  t.ok(la.stats.bytesSent - bytes0 > 3 * la.maxMessage, 'past 128 KiB, the queue went out within the same turn')
  const got = new Promise<number>(resolve => {
    let n = 0
    lb.onMessage = (m) => { n += m.length; if (n === 1024 + 3 * la.maxMessage) resolve(n) }
  })
  t.equal(await got, 1024 + 3 * la.maxMessage, 'and all of it arrived')
})

t.test('udp: 10,000 messages each way', async t => {
  const a = await testRouter()
  const b = await testRouter()
  const { la, lb, close } = await linkPair(a, b, new UdpTransport(), new UdpTransport(), 'udp://127.0.0.1:0')
  t.teardown(close)
  t.equal(la.packetMessage >= 1024, true, 'a 1 KiB message fits one datagram')
  await exchange(t, la, lb, 10000, 1024)
  await exchange(t, lb, la, 10000, 1024)
})

t.test('lossy memory (20% loss, duplicates, reordering): every message arrives once', async t => {
  const { la, lb } = await lossyPair(t, 42, { loss: 0.2, duplicate: 0.05, reorder: 0.1 }, 'memory://link-lossy')
  const got = new Map<number, number>()
  const count = 1000
  const done = new Promise<void>((resolve) => {
    lb.onMessage = (m) => {
      const k = new DataView(m.buffer, m.byteOffset).getUint32(0)
      got.set(k, (got.get(k) ?? 0) + 1)
      if (got.size === count) resolve()
    }
  })
  for (let i = 0; i < count; i++) { const m = new Uint8Array(200); new DataView(m.buffer).setUint32(0, i); la.send(m) }
  await done
  t.equal(got.size, count, 'all distinct messages delivered')
  t.ok([...got.values()].every(v => v === 1), 'none delivered twice')
  t.ok(la.stats.retransmits > 0, 'losses were repaired by retransmission')
})

t.test('udp at a 1472-byte path MTU: messages up to 16 KiB are split into datagrams and joined, both ways', async t => {
  const a = await testRouter()
  const b = await testRouter()
  const { la, lb, close } = await linkPair(a, b, new UdpTransport({ loopbackMtu: 1472 }), new UdpTransport({ loopbackMtu: 1472 }), 'udp://127.0.0.1:0')
  t.teardown(close)
  t.ok(la.packetMessage < 1472, `one datagram holds ${la.packetMessage} bytes of message`)
  t.equal(la.maxMessage, 16 * 1024 - 3, 'but the link takes 16 KiB messages, split into FRAG pieces')
  await exchange(t, la, lb, 300, la.maxMessage)
  await exchange(t, lb, la, 300, 5000)
  await exchange(t, la, lb, 500, la.packetMessage + 1)
  t.throws(() => la.send(new Uint8Array(la.maxMessage + 1)), { name: 'LimitError' }, 'one byte more is refused')
})

t.test('udp peers with different loopback MTUs: big datagrams one way, small ones the other, all delivered', async t => {
  const a = await testRouter()
  const b = await testRouter()
  const { la, lb, close } = await linkPair(a, b, new UdpTransport({ loopbackMtu: 65507 }), new UdpTransport({ loopbackMtu: 16384 }), 'udp://127.0.0.1:0')
  t.teardown(close)
  t.ok(la.packetMessage > 60_000 && lb.packetMessage < 16384, `one side sends ${la.packetMessage}-byte messages whole, the other ${lb.packetMessage}`)
  await exchange(t, la, lb, 200, 60_000)
  await exchange(t, lb, la, 200, 16_000)
})

t.test('lossy memory: split messages arrive whole, once each, among small ones', async t => {
  const { la, lb } = await lossyPair(t, 7, { loss: 0.1, duplicate: 0.05, reorder: 0.2 }, 'memory://link-split')
  const got = new Map<number, number>()
  let bad = 0
  const count = 300
  const sizeOf = (i: number): number => i % 3 === 0 ? 200 : 3000 + 37 * i
  const done = new Promise<void>((resolve) => {
    lb.onMessage = (m) => {
      const k = new DataView(m.buffer, m.byteOffset).getUint32(0)
      if (m.length !== sizeOf(k) || m[m.length - 1] !== (k & 0xff)) bad++
      got.set(k, (got.get(k) ?? 0) + 1)
      if (got.size === count) resolve()
    }
  })
  for (let i = 0; i < count; i++) { const m = new Uint8Array(sizeOf(i)).fill(i & 0xff); new DataView(m.buffer).setUint32(0, i); la.send(m) }
  await done
  t.equal(bad, 0, 'every message arrived whole')
  t.ok([...got.values()].every(v => v === 1), 'none delivered twice')
  t.ok(la.stats.retransmits > 0, 'losses were repaired by retransmission')
})
