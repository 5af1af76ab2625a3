/**
 * The transport compliance suite (STYLE.md §4): every transport passes these same tests.
 * A transport's test file hands a {@link ComplianceTarget} to {@link runTransportCompliance}.
 *
 * Where semantics differ the suite branches on `transport.reliable`: streams are checked for
 * exact, ordered bytes and close propagation; datagram transports for whole datagrams, the mtu
 * limit, and tolerance of loss (sends are repeated until they arrive, a bounded number of
 * times). It makes no timing assertions: every wait is bounded only to avoid hangs. It sends
 * traffic to the listener's own (loopback) address only.
 */
import type { Test } from 'tap'
import { randomBytes } from 'node:crypto'
import * as net from 'node:net'
import * as dgram from 'node:dgram'
import type { Listener, Transport } from '../../src/link/transport.ts'
import { BOUND_MS, Peer, Side, connect, deliver, sha256, sleep, type PeerMode } from './compliance-util.ts'

/** What the suite needs to test one transport. */
export interface ComplianceTarget {
  name: string
  /** Fresh transport instance(s); called once per side (dialer and listener get separate instances). */
  create (): Transport | Promise<Transport>
  /** Address to listen on, e.g. 'tcp://127.0.0.1:0' or 'memory://<unique>'. Called per listen. */
  listenAddr (): string
}

/** A listener transport with a listener, and a separate dialer transport, closed at teardown. */
interface Env {
  lt: Transport
  dt: Transport
  listener: Listener
  side: Side
}

async function setup (t: Test, target: ComplianceTarget, mode: PeerMode = {}): Promise<Env> {
  const lt = await target.create()
  const dt = await target.create()
  t.teardown(async () => { await dt.close(); await lt.close() })
  const side = new Side(() => mode)
  const listener = await lt.listen(target.listenAddr(), side.onConn)
  t.teardown(async () => { await listener.close() })
  return { lt, dt, listener, side }
}

/** Errors a dial to a dead address may reject with, by kind of transport. */
async function dialDead (t: Test, tr: Transport, addr: string): Promise<void> {
  try {
    const c = await tr.dial(addr, { signal: AbortSignal.timeout(5000) })
    t.notOk(tr.reliable, 'only unreliable transports may "connect" to a dead address')
    c.close()
  } catch (err) {
    const name = (err as Error).name
    if (tr.reliable) t.equal(name, 'TransportError', 'reliable dial to a dead address rejects with TransportError')
    else t.ok(['TransportError', 'TimeoutError'].includes(name), `rejects with ${name}`)
  }
}

/** Adds the compliance tests for `target` as subtests of `t`. */
export function runTransportCompliance (t: Test, target: ComplianceTarget): void {
  const test = (name: string, fn: (t: Test) => Promise<void>): void => { t.test(`${target.name}: ${name}`, fn) }

  test('properties; bid() is a number for its own scheme, undefined for others', async t => {
    const tr = await target.create()
    t.teardown(async () => { await tr.close() })
    t.ok(['udp', 'tcp', 'http', 'memory'].includes(tr.name), 'name is a TransportName')
    t.type(tr.reliable, 'boolean')
    t.ok(tr.mtu > 0, 'mtu > 0')
    t.type(tr.bid(target.listenAddr()), 'number')
    for (const s of ['udp', 'tcp', 'http', 'memory', 'ftp']) {
      if (s !== tr.name) t.equal(tr.bid(`${s}://127.0.0.1:7001`), undefined, `no bid for ${s}://`)
    }
    t.equal(tr.bid('not an address'), undefined)
  })

  test('listen (port 0) gives a concrete address; dial + echo works both ways', async t => {
    const { dt, listener, side } = await setup(t, target, { echo: true })
    t.type(dt.bid(listener.addr), 'number', 'the listener address is biddable')
    const port = URL.canParse(listener.addr) ? new URL(listener.addr).port : ''
    t.not(port, '0', 'a real port, not 0')
    const { client, server } = await connect(dt, listener.addr, side)
    for (const c of [client.conn, server.conn]) {
      t.equal(c.transport, dt.name)
      t.equal(c.reliable, dt.reliable)
      t.ok(c.mtu > 0)
      t.type(c.remote, 'string')
      t.ok(c.bufferedAmount >= 0)
    }
    const ping = Buffer.from('ping from the dialer')
    await deliver(client.conn, client, ping) // echoed back by the server
    t.ok(client.received().includes(ping), 'echo arrived')
    const hi = randomBytes(100)
    server.mode.echo = false
    await deliver(server.conn, client, hi)
    t.ok(client.received().includes(hi), 'listener-to-dialer data arrived')
  })

  test('bytes sent before setHandlers are buffered, both sides', async t => {
    const { dt, listener } = await setup(t, target, { echo: true, deferMs: 50 })
    const conn = await dt.dial(listener.addr, { signal: AbortSignal.timeout(BOUND_MS) })
    const msg = randomBytes(Math.min(500, dt.mtu))
    conn.send(msg)
    await sleep(100) // the listener sets handlers after 50 ms; its echo lands here before ours
    const client = new Peer(conn)
    if (conn.reliable) {
      await client.until(() => client.bytes >= msg.length, 'echo')
      t.ok(client.received().equals(msg), 'the echo of pre-handler bytes arrived')
    } else {
      await deliver(conn, client, msg) // datagrams may be lost: resend if needed
      t.ok(client.hasDatagram(msg), 'echo arrived')
    }
  })

  test('send copies its input: reusing the buffer does not change what arrives', async t => {
    const { dt, listener, side } = await setup(t, target)
    const { client, server } = await connect(dt, listener.addr, side)
    const orig = randomBytes(Math.min(1000, dt.mtu))
    if (client.conn.reliable) {
      const buf = Uint8Array.from(orig)
      client.conn.send(buf)
      buf.fill(0)
      await server.until(() => server.bytes >= orig.length, 'bytes')
      t.ok(server.received().equals(orig))
    } else {
      for (let i = 0; i < 40 && !server.hasDatagram(orig); i++) {
        const buf = Uint8Array.from(orig)
        client.conn.send(buf)
        buf.fill(0)
        await server.until(() => server.chunks.length > 0, 'datagram', 250).catch(() => {})
      }
      t.ok(server.hasDatagram(orig), 'original bytes arrived')
      t.notOk(server.chunks.some(c => c.every(b => b === 0)), 'no zeroed datagram')
    }
  })

  test('abort before dial rejects with AbortError; abort during dial is clean', async t => {
    const { dt, listener } = await setup(t, target)
    const ac = new AbortController()
    ac.abort()
    await t.rejects(dt.dial(listener.addr, { signal: ac.signal }), { name: 'AbortError' })
    const ac2 = new AbortController()
    const p = dt.dial(listener.addr, { signal: ac2.signal })
    ac2.abort()
    try {
      (await p).close() // it may have connected first
      t.pass('dial won the race')
    } catch (err) {
      t.equal((err as Error).name, 'AbortError')
    }
  })

  test('Listener.close() closes its conns; a later dial fails', async t => {
    const { dt, listener, side } = await setup(t, target)
    const { client, server } = await connect(dt, listener.addr, side)
    await listener.close()
    await listener.close() // idempotent
    await server.waitClosed()
    t.equal(server.closes.length, 1, 'inbound conn closed once')
    if (dt.reliable) await client.waitClosed()
    await dialDead(t, dt, listener.addr)
  })

  test('dial to an address nobody listens on fails', async t => {
    const tr = await target.create()
    t.teardown(async () => { await tr.close() })
    const l = await tr.listen(target.listenAddr(), c => { c.close() })
    const addr = l.addr
    await l.close()
    await dialDead(t, tr, addr)
  })

  test('20 concurrent conns to one listener work independently', async t => {
    const { dt, listener, side } = await setup(t, target, { echo: true })
    const size = Math.min(4096, dt.mtu)
    const oks = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const conn = await dt.dial(listener.addr, { signal: AbortSignal.timeout(BOUND_MS) })
      const client = new Peer(conn)
      const msg = randomBytes(size)
      msg[0] = i
      await deliver(conn, client, msg)
      return conn.reliable ? client.received().equals(msg) : client.hasDatagram(msg)
    }))
    t.equal(oks.filter(Boolean).length, 20, 'every conn got exactly its own echo')
    t.equal(side.peers.length, 20, '20 inbound conns')
  })

  test('a send loop that respects send() === false and onDrain completes', async t => {
    const { dt, listener, side } = await setup(t, target, { keep: false })
    const { client, server } = await connect(dt, listener.addr, side)
    const chunk = Math.min(dt.mtu, 64 * 1024)
    const data = randomBytes(dt.reliable ? 8 * 1024 * 1024 : chunk * 3000)
    await client.pump(data, () => chunk)
    t.ok(client.conn.bufferedAmount >= 0)
    if (dt.reliable) {
      await server.until(() => server.bytes >= data.length, 'all bytes')
      t.equal(server.hash.digest('hex'), sha256(data), 'every byte arrived in order')
    } else {
      await server.until(() => server.bytes > 0, 'some datagrams')
      t.pass(`${server.bytes} of ${data.length} bytes arrived`)
    }
  })

  test('conn.close() is idempotent, fires onClose once; send after close throws ClosedError', async t => {
    const { dt, listener, side } = await setup(t, target)
    const { client, server } = await connect(dt, listener.addr, side)
    client.conn.close()
    client.conn.close()
    t.throws(() => client.conn.send(new Uint8Array(1)), { name: 'ClosedError' })
    server.conn.close(new Error('test reason'))
    server.conn.close()
    t.throws(() => server.conn.send(new Uint8Array(1)), { name: 'ClosedError' })
    await sleep(50)
    t.equal(client.closes.length, 1, 'dialer onClose fired once')
    t.equal(server.closes.length, 1, 'listener-side onClose fired once')
  })

  test('Transport.close() closes every listener and conn', async t => {
    const { lt, dt, listener, side } = await setup(t, target)
    const pairs = [await connect(dt, listener.addr, side), await connect(dt, listener.addr, side)]
    await lt.close()
    for (const p of pairs) await p.server.waitClosed()
    t.pass('inbound conns closed')
    await dt.close()
    for (const p of pairs) await p.client.waitClosed()
    t.pass('outbound conns closed')
    await t.rejects(dt.dial(listener.addr, { signal: AbortSignal.timeout(5000) }), 'a closed transport does not dial')
    const fresh = await target.create()
    t.teardown(async () => { await fresh.close() })
    await dialDead(t, fresh, listener.addr)
  })

  test('garbage from a raw client does not crash the listener', async t => {
    const { dt, listener, side } = await setup(t, target, { echo: true })
    const url = URL.canParse(listener.addr) ? new URL(listener.addr) : undefined
    const host = url?.hostname.replace(/^\[|\]$/g, '') ?? ''
    if (url === undefined || url.port === '' || !['127.0.0.1', 'localhost', '::1'].includes(host)) {
      t.pass(`no raw client for ${listener.addr}`)
      return
    }
    const port = Number(url.port)
    if (url.protocol === 'udp:') {
      const s = dgram.createSocket(host === '::1' ? 'udp6' : 'udp4')
      for (let i = 0; i < 50; i++) s.send(randomBytes(1 + (i * 37) % 1400), port, host)
      await sleep(200)
      s.close()
    } else {
      const junk = [randomBytes(64 * 1024), Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\nabc'),
        Buffer.from('POST /umbra HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n'), Buffer.from('\r\n\r\n\x00\xff'), Buffer.alloc(0)]
      await Promise.all(junk.map(async j => {
        const s = net.connect({ host, port })
        s.on('error', () => {})
        s.on('data', () => {})
        s.on('connect', () => { s.write(j) })
        await new Promise<void>(resolve => { s.once('close', () => { resolve() }); setTimeout(resolve, 500) })
        s.destroy()
      }))
    }
    const { client } = await connect(dt, listener.addr, side)
    const msg = randomBytes(Math.min(300, dt.mtu))
    await deliver(client.conn, client, msg)
    t.ok(client.received().includes(msg), 'the listener still works')
  })

  test('reliable: 5 MB each way arrive identical and in order; unreliable: datagrams up to mtu arrive whole', async t => {
    const mode: PeerMode = {}
    const { dt, listener, side } = await setup(t, target, mode)
    mode.keep = !dt.reliable
    const { client, server } = await connect(dt, listener.addr, side, mode)
    if (!dt.reliable) {
      const mtu = client.conn.mtu // the Conn's (path) MTU may exceed the transport's default
      t.ok(mtu >= dt.mtu, 'a Conn allows at least the transport default')
      const sizes = [...new Set([1, 17, 512, mtu - 1, mtu].filter(n => n >= 1))]
      const sent = sizes.map(n => randomBytes(n))
      for (const d of sent) await deliver(client.conn, server, d)
      t.ok(server.chunks.every(c => sent.some(d => d.equals(c))), 'each onData is one whole datagram')
      t.throws(() => client.conn.send(new Uint8Array(mtu + 1)), { name: 'LimitError' })
      return
    }
    const up = randomBytes(5 * 1024 * 1024)
    const down = randomBytes(5 * 1024 * 1024)
    const sizes = (i: number): number => 1 + (i * 7919) % 40000
    await Promise.all([client.pump(up, sizes), server.pump(down, sizes)])
    await server.until(() => server.bytes >= up.length, '5 MB up')
    await client.until(() => client.bytes >= down.length, '5 MB down')
    t.equal(server.bytes, up.length)
    t.equal(server.hash.digest('hex'), sha256(up), 'dialer -> listener bytes identical')
    t.equal(client.bytes, down.length)
    t.equal(client.hash.digest('hex'), sha256(down), 'listener -> dialer bytes identical')
  })

  test('reliable: close on one side fires onClose on the other', async t => {
    const { dt, listener, side } = await setup(t, target)
    if (!dt.reliable) {
      t.pass('unreliable transports do not signal close')
      return
    }
    const a = await connect(dt, listener.addr, side)
    a.client.conn.close()
    await a.server.waitClosed()
    t.equal(a.server.closes.length, 1, 'listener side saw the dialer close')
    const b = await connect(dt, listener.addr, side)
    b.server.conn.close()
    await b.client.waitClosed()
    t.equal(b.client.closes.length, 1, 'dialer side saw the listener close')
  })
}
