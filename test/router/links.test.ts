import t from 'tap'
import type { Test } from 'tap'
import type { Link } from '../../src/link/link.ts'
import type { Router } from '../../src/router/router.ts'
import { startRouter, tcpBlackHole, udpBlackHole } from './fixtures.ts'

const COUNT = 10_000

/** Sends COUNT numbered 1 KiB messages from `from` to router `to`, checking every one. */
async function flood (t: Test, from: Link, to: Router, fromId: Uint8Array): Promise<void> {
  const got: Uint8Array[] = []
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`only ${got.length} of ${COUNT} arrived`)) }, 60_000)
    to.onMessage = (peer, m) => {
      if (Buffer.compare(peer.id, fromId) !== 0) return
      got.push(m)
      if (got.length === COUNT) { clearTimeout(timer); resolve() }
    }
  })
  let i = 0
  const pump = (): void => {
    while (i < COUNT) {
      const m = new Uint8Array(1024)
      const v = new DataView(m.buffer)
      v.setUint32(0, i)
      v.setUint32(1020, i ^ 0xa5a5a5a5)
      i++
      if (!from.send(m)) { from.onDrain = pump; return }
    }
  }
  pump()
  await done
  let bad = 0
  got.forEach((m, k) => {
    const v = new DataView(m.buffer, m.byteOffset)
    if (m.length !== 1024 || v.getUint32(0) !== k || v.getUint32(1020) !== ((k ^ 0xa5a5a5a5) >>> 0)) bad++
  })
  t.equal(bad, 0, `${COUNT} messages arrived intact and in order over ${from.transport}`)
}

for (const scheme of ['udp', 'tcp', 'http'] as const) {
  t.test(`two routers exchange ${COUNT} messages each way over ${scheme}`, async t => {
    const a = await startRouter(t)
    const b = await startRouter(t)
    const only = { ...b.contact(), addresses: b.addresses.filter(x => x.startsWith(scheme + ':')) }
    const la = await a.links.connect(only)
    t.equal(la.transport, scheme)
    await flood(t, la, b, a.id)
    const lb = b.links.get(a.id)
    t.ok(lb, 'the responder registered the link under the initiator ID')
    await flood(t, lb!, a, b.id)
    t.equal(a.links.stats().links[scheme], 1, 'one link, on the expected transport')
  })
}

t.test('blocked UDP falls back to TCP; blocked UDP and TCP fall back to HTTP', async t => {
  // No netDb exploration: it would link b back to a over UDP between the two dials. Each dial
  // of a real address must finish within the dial timeout, even on a loaded machine.
  const a = await startRouter(t, { dialTimeoutMs: 3000, netdb: { exploreMs: 0 } })
  const b = await startRouter(t, { netdb: { exploreMs: 0 } })
  const udpHole = await udpBlackHole(t)
  const tcpHole = await tcpBlackHole(t)
  const real = (s: string): string => b.addresses.find(x => x.startsWith(s + ':'))!
  const viaTcp = await a.links.connect({ ...b.contact(), addresses: [real('http'), udpHole, real('tcp')] })
  t.equal(viaTcp.transport, 'tcp', 'UDP blocked: linked over TCP')
  viaTcp.close()
  await new Promise(resolve => setTimeout(resolve, 50))
  const viaHttp = await a.links.connect({ ...b.contact(), addresses: [tcpHole, real('http'), udpHole] })
  t.equal(viaHttp.transport, 'http', 'UDP and TCP blocked: linked over HTTP')
  t.ok(a.links.stats().dialFailures >= 3, 'each blocked attempt counted as a dial failure')
  const got = new Promise<Uint8Array>((resolve) => { b.onMessage = (_p, m) => { resolve(m) } })
  viaHttp.send(new TextEncoder().encode('over http'))
  t.equal(new TextDecoder().decode(await got), 'over http')
})

t.test('a wrong responder key gets no link, and the responder keeps serving others', async t => {
  const a = await startRouter(t, { dialTimeoutMs: 1500 })
  const b = await startRouter(t)
  const c = await startRouter(t)
  const good = await c.links.connect(b.contact())
  const wrong = { ...b.contact(), staticKey: a.keys.static.publicKey }
  await t.rejects(a.links.connect(wrong), { name: 'TransportError' }, 'every transport attempt fails')
  t.ok(b.links.stats().inboundRejected >= 1, 'the responder rejected the handshakes')
  t.equal(a.links.get(b.id), undefined, 'no link was registered')
  const got = new Promise<Uint8Array>((resolve) => { b.onMessage = (_p, m) => { resolve(m) } })
  good.send(Uint8Array.of(1, 2, 3))
  t.same(await got, Uint8Array.of(1, 2, 3), 'the other link still carries messages')
})
