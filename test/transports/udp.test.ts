/**
 * UDP transport: the shared compliance suite plus UDP-specific behaviour — demultiplexing by
 * source address, the Conn bound, dialing from the listening socket, the MTU, idle expiry and
 * garbage datagrams. Traffic stays on 127.0.0.1; every wait is bounded.
 */
import t from 'tap'
import type { Test } from 'tap'
import dgram from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { UdpTransport, type UdpTransportOptions } from '../../transports/udp/index.ts'
import { autoLoopbackMtu } from '../../transports/udp/endpoint.ts'
import type { Conn, Listener } from '../../src/link/transport.ts'
import { AbortError, ClosedError, LimitError } from '../../src/util/errors.ts'
import { runTransportCompliance } from './compliance.ts'

/** Polls `cond` every 5 ms until it holds or `ms` passes; returns whether it held. */
async function waitFor (cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) return false
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  return true
}

const signal = (): AbortSignal => AbortSignal.timeout(5000)
const portOf = (addr: string): number => Number(new URL(addr).port)

/** A transport that the test closes at teardown. */
function transport (t: Test, opts?: UdpTransportOptions): UdpTransport {
  const tr = new UdpTransport(opts)
  t.teardown(async () => { await tr.close() })
  return tr
}

/** Listens on 127.0.0.1:0, collecting inbound conns and the datagrams each receives. */
async function collector (tr: UdpTransport): Promise<{ l: Listener, conns: Conn[], data: Map<Conn, Buffer[]> }> {
  const conns: Conn[] = []
  const data = new Map<Conn, Buffer[]>()
  const l = await tr.listen('udp://127.0.0.1:0', c => {
    conns.push(c)
    const got: Buffer[] = []
    data.set(c, got)
    c.setHandlers({ onData: d => { got.push(Buffer.from(d)) } })
  })
  return { l, conns, data }
}

runTransportCompliance(t, {
  name: 'udp',
  create: () => new UdpTransport(),
  listenAddr: () => 'udp://127.0.0.1:0'
})

t.test('bid: udp:// only', async t => {
  const tr = transport(t)
  t.equal(tr.bid('udp://127.0.0.1:7000'), 10)
  t.equal(tr.bid('tcp://127.0.0.1:7000'), undefined)
  t.equal(tr.bid('http://127.0.0.1:7000/umbra'), undefined)
  t.equal(tr.bid('udp://nope'), undefined)
})

t.test('datagrams from several sources demultiplex to separate Conns, replies go back', async t => {
  const server = transport(t)
  const { l, conns, data } = await collector(server)
  const clients = [transport(t), transport(t), transport(t)]
  const dialed = await Promise.all(clients.map(async c => await c.dial(l.addr, { signal: signal() })))
  const echoes = dialed.map(() => [] as Buffer[])
  dialed.forEach((c, i) => { c.setHandlers({ onData: d => { echoes[i]?.push(Buffer.from(d)) } }) })
  const N = 50
  for (let k = 0; k < N; k++) dialed.forEach((c, i) => c.send(Buffer.from(`client${i}:${k}`)))
  t.ok(await waitFor(() => conns.length === 3 && conns.every(c => data.get(c)?.length === N)), 'all datagrams arrive')
  t.equal(conns.length, 3, 'one Conn per source')
  const ports = new Set(conns.map(c => portOf(c.remote)))
  t.equal(ports.size, 3, 'distinct source ports')
  for (const c of conns) {
    const got = data.get(c) ?? []
    const tag = got[0]?.toString().split(':')[0]
    t.ok(got.every(d => d.toString().startsWith(`${tag ?? '?'}:`)), `${c.remote} got only its own source's datagrams`)
    c.send(Buffer.from(`reply to ${tag ?? '?'}`))
  }
  t.ok(await waitFor(() => echoes.every(e => e.length === 1)), 'every client gets its reply')
  echoes.forEach((e, i) => { t.equal(e[0]?.toString(), `reply to client${i}`) })
  t.equal(dialed[0]?.reliable, false)
  t.equal(dialed[0]?.transport, 'udp')
})

t.test('maxConns bounds the inbound Conns; datagrams from further sources are dropped', async t => {
  const server = transport(t, { maxConns: 2 })
  const { l, conns, data } = await collector(server)
  const cs = await Promise.all([0, 1, 2].map(async () => await transport(t).dial(l.addr, { signal: signal() })))
  const [c0, c1, c2] = cs as [Conn, Conn, Conn]
  for (const c of cs) c.setHandlers({ onData: () => {} })
  c0.send(Buffer.from('a'))
  c1.send(Buffer.from('b'))
  t.ok(await waitFor(() => conns.length === 2), 'two Conns')
  for (let i = 0; i < 10; i++) c2.send(Buffer.from('dropped'))
  c0.send(Buffer.from('marker'))
  t.ok(await waitFor(() => data.get(conns[0] as Conn)?.length === 2), 'marker after the third source arrived')
  t.equal(conns.length, 2, 'no third Conn')
  // Freeing a slot lets the next new source in.
  const first = conns[0] as Conn
  first.close()
  c2.send(Buffer.from('now admitted'))
  t.ok(await waitFor(() => conns.length === 3), 'third source admitted after a close')
  t.equal(data.get(conns[2] as Conn)?.[0]?.toString(), 'now admitted')
})

t.test('dial from a transport that listens uses the listening port; replies reach the dialed Conn', async t => {
  const a = transport(t)
  const b = transport(t)
  let aInbound = 0
  const la = await a.listen('udp://127.0.0.1:0', () => { aInbound++ })
  const { l: lb, conns, data } = await collector(b)
  const conn = await a.dial(lb.addr, { signal: signal() })
  const got: string[] = []
  conn.setHandlers({ onData: d => { got.push(Buffer.from(d).toString()) } })
  conn.send(Buffer.from('hi'))
  t.ok(await waitFor(() => conns.length === 1 && data.get(conns[0] as Conn)?.length === 1), 'b got the datagram')
  t.equal(conns[0]?.remote, la.addr, 'source address is a\'s listening address')
  conns[0]?.send(Buffer.from('back'))
  t.ok(await waitFor(() => got.length === 1), 'reply reached the dialed Conn')
  t.equal(got[0], 'back')
  t.equal(aInbound, 0, 'the reply made no inbound Conn on a')
  // A second Conn to the same remote needs another source port, and still works.
  const conn2 = await a.dial(lb.addr, { signal: signal() })
  conn2.setHandlers({ onData: () => {} })
  conn2.send(Buffer.from('second'))
  t.ok(await waitFor(() => conns.length === 2), 'second Conn arrives as a new source')
  t.not(conns[1]?.remote, la.addr)
})

t.test('sends over the mtu throw LimitError; exactly mtu is fine', async t => {
  const server = transport(t, { mtu: 100, loopbackMtu: 100 })
  const { l, conns, data } = await collector(server)
  const client = transport(t, { mtu: 100, loopbackMtu: 100 })
  t.equal(client.mtu, 100)
  const c = await client.dial(l.addr, { signal: signal() })
  t.equal(c.mtu, 100)
  c.setHandlers({ onData: () => {} })
  t.throws(() => c.send(new Uint8Array(101)), LimitError)
  t.equal(c.send(new Uint8Array(100)), true)
  t.ok(await waitFor(() => conns.length === 1 && data.get(conns[0] as Conn)?.length === 1))
  t.equal(data.get(conns[0] as Conn)?.[0]?.length, 100)
  t.equal(new UdpTransport().mtu, 1472, 'default mtu')
})

t.test('a loopback peer gets the loopback path MTU; a bad setting is a ConfigError', async t => {
  const server = transport(t)
  const { l } = await collector(server)
  const client = transport(t, { loopbackMtu: 9000 })
  const c = await client.dial(l.addr, { signal: signal() })
  t.equal(c.mtu, 9000, 'dialled loopback Conn uses loopbackMtu')
  c.setHandlers({ onData: () => {} })
  t.equal(c.send(new Uint8Array(9000)), true, 'a 9000-byte datagram goes out whole on lo')
  t.throws(() => c.send(new Uint8Array(9001)), LimitError)
  t.throws(() => new UdpTransport({ loopbackMtu: 70000 }), { name: 'ConfigError' })
})

t.test('by default the loopback MTU follows the granted receive buffer (64 datagrams), within 16384..65507', async t => {
  t.equal(autoLoopbackMtu(425_984), 16384, "Linux's default cap (208 KiB, reported doubled): as before")
  t.equal(autoLoopbackMtu(8 * 1024 * 1024), 65507, 'the 4 MiB granted (reported 8 MiB): the largest UDP payload')
  t.equal(autoLoopbackMtu(2 * 1024 * 1024), 32768)
  t.equal(autoLoopbackMtu(0), 16384, 'unknown: the floor')
  t.equal(autoLoopbackMtu(8 * 1024 * 1024, true), 65488, 'IPv6: unfragmented on lo (65488 + 40 + 8 = 65536)')
  const server = transport(t)
  const { l } = await collector(server)
  const client = transport(t)
  const c = await client.dial(l.addr, { signal: signal() })
  const granted = await new Promise<number>((resolve, reject) => {
    const s = dgram.createSocket('udp4')
    s.bind(0, '127.0.0.1', () => {
      try { s.setRecvBufferSize(8 * 1024 * 1024) } catch {}
      const n = s.getRecvBufferSize()
      s.close(() => { resolve(n) })
    })
    s.once('error', reject)
  })
  t.equal(c.mtu, autoLoopbackMtu(granted), `this machine grants ${granted} bytes: datagrams of ${c.mtu}`)
})

t.test('garbage datagrams do not crash anything; a well-behaved client is still served', async t => {
  const server = transport(t)
  const { l, conns } = await collector(server)
  const raw = dgram.createSocket('udp4')
  t.teardown(() => { raw.close() })
  await new Promise<void>(resolve => raw.bind(0, '127.0.0.1', resolve))
  const sizes = [0, 1, 3, 100, 1472, 1473, 9000, 65507]
  for (const n of sizes) raw.send(randomBytes(n), portOf(l.addr), '127.0.0.1')
  // Garbage to a dial-only socket from an unknown source is dropped.
  const client = transport(t)
  const c = await client.dial(l.addr, { signal: signal() })
  const echo: Buffer[] = []
  c.setHandlers({ onData: d => { echo.push(Buffer.from(d)) } })
  c.send(Buffer.from('hello'))
  t.ok(await waitFor(() => conns.length === 2), 'both sources have Conns')
  const good = conns.find(x => x.remote !== `udp://127.0.0.1:${raw.address().port}`)
  good?.send(Buffer.from('world'))
  t.ok(await waitFor(() => echo.length === 1), 'the well-behaved client got its reply')
  t.equal(echo[0]?.toString(), 'world')
})

t.test('idle Conns expire; close is local, once, and send after close throws', async t => {
  const server = transport(t, { idleTimeoutMs: 200 })
  const closes: Array<Error | undefined> = []
  const l = await server.listen('udp://127.0.0.1:0', c => {
    c.setHandlers({ onData: () => {}, onClose: err => { closes.push(err) } })
  })
  const client = transport(t)
  const c = await client.dial(l.addr, { signal: signal() })
  let clientCloses = 0
  c.setHandlers({ onData: () => {}, onClose: () => { clientCloses++ } })
  c.send(Buffer.from('x'))
  t.ok(await waitFor(() => closes.length === 1), 'the idle inbound Conn closed')
  t.equal(closes[0], undefined, 'idle close carries no error')
  c.close()
  c.close()
  t.equal(clientCloses, 1, 'onClose fired once')
  t.throws(() => c.send(Buffer.from('late')), ClosedError)
  t.equal(c.bufferedAmount, 0)
})

t.test('listener close closes its Conns; abort before dial rejects', async t => {
  const server = transport(t)
  let opened = 0
  let closed = 0
  const l = await server.listen('udp://127.0.0.1:0', c => { opened++; c.setHandlers({ onData: () => {}, onClose: () => { closed++ } }) })
  const client = transport(t)
  const c = await client.dial(l.addr, { signal: signal() })
  c.send(Buffer.from('x'))
  t.ok(await waitFor(() => opened === 1), 'inbound Conn opened')
  const ac = new AbortController()
  ac.abort()
  await t.rejects(client.dial(l.addr, { signal: ac.signal }), AbortError)
  await l.close()
  t.equal(closed, 1, 'the inbound Conn closed with its listener')
  await l.close()
  t.equal(closed, 1, 'listener close is idempotent')
})
