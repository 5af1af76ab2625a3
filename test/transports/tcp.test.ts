/**
 * TCP transport: the shared compliance suite, plus TCP-only behaviour (maxConns, the
 * pre-setHandlers buffer bound, address parsing, dialing and listening errors).
 */
import t from 'tap'
import { createTcpTransport, parseTcpAddr } from '../../transports/tcp/index.ts'
import type { Conn } from '../../src/link/transport.ts'
import { runTransportCompliance } from './compliance.ts'
import { Peer, Side, connect, deliver } from './compliance-util.ts'

runTransportCompliance(t, {
  name: 'tcp',
  create: () => createTcpTransport(),
  listenAddr: () => 'tcp://127.0.0.1:0'
})

t.test('tcp: addresses', async t => {
  t.same(parseTcpAddr('tcp://127.0.0.1:7001'), { host: '127.0.0.1', port: 7001 })
  t.same(parseTcpAddr('tcp://[::1]:80'), { host: '::1', port: 80 })
  for (const bad of ['tcp://127.0.0.1', 'udp://127.0.0.1:1', 'tcp://127.0.0.1:99999', 'tcp://h:1/path', 'tcp://:5']) {
    t.equal(parseTcpAddr(bad), undefined, bad)
  }
  const tr = createTcpTransport()
  t.equal(tr.bid('tcp://127.0.0.1:7001'), 20)
  await t.rejects(tr.dial('tcp://127.0.0.1', { signal: AbortSignal.timeout(1000) }), { name: 'TransportError' })
  await t.rejects(tr.listen('tcp://127.0.0.1:99999', () => {}), { name: 'TransportError' })
  await tr.close()
})

t.test('tcp: listening on a port in use rejects with TransportError', async t => {
  const tr = createTcpTransport()
  t.teardown(async () => { await tr.close() })
  const l = await tr.listen('tcp://127.0.0.1:0', c => { c.close() })
  await t.rejects(tr.listen(l.addr, () => {}), { name: 'TransportError' })
})

t.test('tcp: inbound conns report the peer address', async t => {
  const lt = createTcpTransport()
  const dt = createTcpTransport()
  t.teardown(async () => { await dt.close(); await lt.close() })
  const side = new Side(() => ({}))
  const l = await lt.listen('tcp://127.0.0.1:0', side.onConn)
  const { client, server } = await connect(dt, l.addr, side)
  t.equal(client.conn.remote, l.addr)
  t.match(server.conn.remote, /^tcp:\/\/127\.0\.0\.1:\d+$/)
})

t.test('tcp: maxConns bounds inbound conns; extra sockets are closed', async t => {
  const lt = createTcpTransport({ maxConns: 3 })
  const dt = createTcpTransport()
  t.teardown(async () => { await dt.close(); await lt.close() })
  const side = new Side(() => ({ echo: true }))
  const l = await lt.listen('tcp://127.0.0.1:0', side.onConn)
  const ok = [await connect(dt, l.addr, side), await connect(dt, l.addr, side), await connect(dt, l.addr, side)]
  const extra = new Peer(await dt.dial(l.addr, { signal: AbortSignal.timeout(5000) }))
  await extra.waitClosed()
  t.equal(side.peers.length, 3, 'the fourth socket was not handed to onConn')
  for (const p of ok) await deliver(p.client.conn, p.client, new Uint8Array([1, 2, 3]))
  t.pass('the first three still work')
  ok[0]?.client.conn.close()
  await ok[0]?.server.waitClosed()
  const again = await connect(dt, l.addr, side)
  await deliver(again.client.conn, again.client, new Uint8Array([4]))
  t.pass('a slot freed by a close is reused')
})

t.test('tcp: too much data before setHandlers closes the conn with LimitError', async t => {
  const lt = createTcpTransport({ maxPendingBytes: 64 * 1024 })
  const dt = createTcpTransport()
  t.teardown(async () => { await dt.close(); await lt.close() })
  let inbound: Conn | undefined
  const l = await lt.listen('tcp://127.0.0.1:0', c => { inbound = c })
  const client = new Peer(await dt.dial(l.addr, { signal: AbortSignal.timeout(5000) }))
  client.conn.send(new Uint8Array(256 * 1024))
  await client.waitClosed()
  t.ok(inbound !== undefined)
  const server = new Peer(inbound as Conn)
  await server.waitClosed()
  t.equal(server.closes[0]?.name, 'LimitError')
  t.equal(server.bytes, 0, 'the buffered bytes were dropped')
})

t.test('tcp: abort during connect rejects with AbortError (or TimeoutError)', async t => {
  const lt = createTcpTransport()
  const dt = createTcpTransport()
  t.teardown(async () => { await dt.close(); await lt.close() })
  const l = await lt.listen('tcp://127.0.0.1:0', c => { c.close() })
  for (let i = 0; i < 10; i++) {
    const ac = new AbortController()
    const p = dt.dial(l.addr, { signal: ac.signal })
    ac.abort()
    await t.rejects(p, { name: 'AbortError' })
  }
  const ac = new AbortController()
  const p = dt.dial(l.addr, { signal: ac.signal })
  ac.abort(new DOMException('deadline', 'TimeoutError'))
  await t.rejects(p, { name: 'TimeoutError' }, 'a timeout reason gives TimeoutError')
})
