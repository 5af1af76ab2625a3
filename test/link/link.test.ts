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

t.test('udp: 10,000 messages each way', async t => {
  const a = await testRouter()
  const b = await testRouter()
  const { la, lb, close } = await linkPair(a, b, new UdpTransport(), new UdpTransport(), 'udp://127.0.0.1:0')
  t.teardown(close)
  t.equal(la.maxMessage >= 1024, true, 'a 1 KiB message fits one datagram')
  await exchange(t, la, lb, 10000, 1024)
  await exchange(t, lb, la, 10000, 1024)
})

t.test('lossy memory (20% loss, duplicates, reordering): every message arrives once', async t => {
  let seed = 42
  const rng = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
  const opts = { reliable: false, loss: 0.2, duplicate: 0.05, reorder: 0.1, latencyMs: 2, rng }
  const a = await testRouter()
  const b = await testRouter()
  const { la, lb, close } = await linkPair(a, b, createMemoryTransport(opts), createMemoryTransport(opts), 'memory://link-lossy')
  t.teardown(close)
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
