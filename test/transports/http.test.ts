/**
 * HTTP transport: the shared compliance suite in both client modes, plus what only HTTP has —
 * 5 MB each way through reverse proxies (poll mode through a buffering proxy and through a
 * real nginx when installed, stream mode through a streaming one), looking like a plain web
 * server to strangers, surviving malformed HTTP, the poll protocol's idempotence, and the
 * session and buffer limits. Traffic stays on 127.0.0.1; every wait is bounded.
 */
import t from 'tap'
import type { Test } from 'tap'
import http from 'node:http'
import net from 'node:net'
import { randomBytes, createHash } from 'node:crypto'
import { HttpTransport, type HttpTransportOptions } from '../../transports/http/index.ts'
import type { Conn, Listener } from '../../src/link/transport.ts'
import { runTransportCompliance } from './compliance.ts'
import { startReverseProxy } from './fixtures/reverse-proxy.ts'
import { findNginx, startNginx } from './fixtures/nginx.ts'

for (const mode of ['stream', 'poll'] as const) {
  runTransportCompliance(t, {
    name: `http-${mode}`,
    create: () => new HttpTransport({ mode }),
    listenAddr: () => 'http://127.0.0.1:0/umbra'
  })
}

/** Polls `cond` every 5 ms until it holds or `ms` passes; returns whether it held. */
async function waitFor (cond: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) return false
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  return true
}

const signal = (ms = 10_000): AbortSignal => AbortSignal.timeout(ms)
const portOf = (addr: string): number => Number(new URL(addr).port)
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** A transport closed at teardown. */
function transport (t: Test, opts?: HttpTransportOptions): HttpTransport {
  const tr = new HttpTransport(opts)
  t.teardown(async () => { await tr.close() })
  return tr
}

/** Received bytes of one Conn: count, running hash, closes. */
class Sink {
  bytes = 0
  readonly closes: Array<Error | undefined> = []
  drains = 0
  private readonly h = createHash('sha256')
  private readonly chunks: Buffer[] = []
  constructor (readonly conn: Conn, keep = false) {
    conn.setHandlers({
      onData: d => { this.bytes += d.length; this.h.update(d); if (keep) this.chunks.push(Buffer.from(d)) },
      onDrain: () => { this.drains++ },
      onClose: err => { this.closes.push(err) }
    })
  }

  digest (): string { return this.h.digest('hex') }
  text (): string { return Buffer.concat(this.chunks).toString() }

  /** Sends `data` in 64 KiB pieces, waiting for onDrain (bounded) when send says so. */
  async pump (data: Uint8Array): Promise<void> {
    for (let off = 0; off < data.length; off += 65536) {
      const n = this.drains
      if (!this.conn.send(data.subarray(off, off + 65536))) {
        if (!await waitFor(() => this.drains > n || this.closes.length > 0)) throw new Error('no onDrain')
      }
    }
  }
}

/** Listens and collects Sinks of inbound conns. */
async function serve (tr: HttpTransport, keep = false): Promise<{ l: Listener, sinks: Sink[] }> {
  const sinks: Sink[] = []
  const l = await tr.listen('http://127.0.0.1:0/umbra', c => { sinks.push(new Sink(c, keep)) })
  return { l, sinks }
}

/** Moves 5 MB each way over a fresh Conn to `addr` and checks both hashes. */
async function fiveMegabytesEachWay (t: Test, client: HttpTransport, addr: string, sinks: Sink[]): Promise<void> {
  const n = sinks.length
  const c = new Sink(await client.dial(addr, { signal: signal() }))
  t.ok(await waitFor(() => sinks.length > n), 'server has the conn')
  const s = sinks[n] as Sink
  const up = randomBytes(5 * 1024 * 1024)
  const down = randomBytes(5 * 1024 * 1024)
  await Promise.all([c.pump(up), s.pump(down)])
  t.ok(await waitFor(() => s.bytes >= up.length && c.bytes >= down.length, 60_000), 'all bytes arrived')
  t.equal(s.digest(), sha(up), '5 MB up intact')
  t.equal(c.digest(), sha(down), '5 MB down intact')
  c.conn.close()
  t.ok(await waitFor(() => s.closes.length === 1), 'the server side saw the close')
}

/** One raw HTTP exchange, without the transport. */
async function raw (port: number, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number, headers: http.IncomingHttpHeaders, body: Buffer }> {
  return await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false, headers }, res => {
      const chunks: Buffer[] = []
      res.on('data', (d: Buffer) => chunks.push(d))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

t.test('bid: http:// only, the most expensive', async t => {
  const tr = transport(t)
  t.equal(tr.bid('http://127.0.0.1:8080/umbra'), 60)
  t.equal(tr.bid('http://example.org'), 60)
  t.equal(tr.bid('https://example.org/umbra'), undefined)
  t.equal(tr.bid('udp://127.0.0.1:1'), undefined)
})

t.test('poll mode carries 5 MB each way through a buffering reverse proxy', async t => {
  const { l, sinks } = await serve(transport(t))
  const proxy = await startReverseProxy({ target: { host: '127.0.0.1', port: portOf(l.addr) }, buffering: true })
  t.teardown(async () => { await proxy.close() })
  await fiveMegabytesEachWay(t, transport(t, { mode: 'poll' }), `http://127.0.0.1:${proxy.port}/umbra`, sinks)
  t.ok(proxy.forwarded > 10, `${proxy.forwarded} requests went through the proxy`)
})

t.test('stream mode carries 5 MB each way through a streaming reverse proxy', async t => {
  const { l, sinks } = await serve(transport(t))
  const proxy = await startReverseProxy({ target: { host: '127.0.0.1', port: portOf(l.addr) } })
  t.teardown(async () => { await proxy.close() })
  await fiveMegabytesEachWay(t, transport(t, { mode: 'stream' }), `http://127.0.0.1:${proxy.port}/umbra`, sinks)
  t.equal(proxy.forwarded, 2, 'two long requests')
})

t.test('stream mode cannot pass a buffering proxy (the reason poll mode exists)', async t => {
  const { l } = await serve(transport(t))
  const proxy = await startReverseProxy({ target: { host: '127.0.0.1', port: portOf(l.addr) }, buffering: true })
  t.teardown(async () => { await proxy.close() })
  const client = transport(t, { mode: 'stream' })
  await t.rejects(client.dial(`http://127.0.0.1:${proxy.port}/umbra`, { signal: AbortSignal.timeout(500) }), { name: 'TimeoutError' })
})

const nginxBin = findNginx()
t.test('poll mode through a real nginx with its default proxy settings',
  { skip: nginxBin === undefined ? 'nginx is not installed (/usr/sbin/nginx)' : false }, async t => {
  const bin = nginxBin as string
  const { l, sinks } = await serve(transport(t))
  const nginx = await startNginx(bin, portOf(l.addr))
  t.teardown(async () => { await nginx.close() })
  await fiveMegabytesEachWay(t, transport(t, { mode: 'poll' }), `http://127.0.0.1:${nginx.port}/umbra`, sinks)
})

t.test('to strangers the server looks like a plain web server', async t => {
  const { l } = await serve(transport(t))
  const port = portOf(l.addr)
  const sid = 'ab'.repeat(16)
  t.equal((await raw(port, 'GET', '/')).status, 404, 'GET /')
  t.equal((await raw(port, 'GET', '/umbra')).status, 404, 'the bare prefix')
  t.equal((await raw(port, 'GET', '/umbra/xyz/down')).status, 404, 'a malformed session id')
  t.equal((await raw(port, 'GET', `/umbra/${sid}/sideways`)).status, 404, 'an unknown half')
  const put = await raw(port, 'PUT', `/umbra/${sid}/up`, Buffer.from('x'))
  t.equal(put.status, 405, 'wrong method')
  t.equal(put.headers.allow, 'POST')
  t.equal((await raw(port, 'DELETE', `/umbra/${sid}/down`)).status, 405)
  t.equal((await raw(port, 'GET', `/umbra/${sid}/down?ack=0`)).status, 404, 'a poll for no session')
  t.equal((await raw(port, 'POST', `/umbra/${sid}/up?seq=3`, Buffer.from('x'))).status, 404, 'a late upload for no session')
  t.equal((await raw(port, 'POST', `/umbra/${sid}/up?seq=-1`, Buffer.from('x'))).status, 400, 'a malformed seq')
})

t.test('malformed HTTP gets a 4xx or a closed socket; a second, well-behaved client is served', async t => {
  const server = transport(t)
  const { l, sinks } = await serve(server, true)
  const port = portOf(l.addr)
  /** Writes `bytes` on a raw socket and returns what came back before it closed (bounded). */
  const rawSocket = async (bytes: Buffer): Promise<string> => await new Promise(resolve => {
    const s = net.connect({ host: '127.0.0.1', port })
    let got = ''
    const timer = setTimeout(() => { s.destroy(); resolve(got) }, 3000)
    s.on('error', () => {})
    s.on('data', d => { got += d.toString('latin1') })
    s.on('close', () => { clearTimeout(timer); resolve(got) })
    s.on('connect', () => { s.write(bytes) })
  })
  const junk = await rawSocket(randomBytes(2000))
  t.ok(junk === '' || /^HTTP\/1\.1 4\d\d/.test(junk), `random bytes: ${junk.slice(0, 12) || 'closed'}`)
  t.match(await rawSocket(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nX-Big: ' + 'a'.repeat(64 * 1024) + '\r\n\r\n')), /^HTTP\/1\.1 431/, 'huge headers: 431')
  t.match(await rawSocket(Buffer.from('GET /umbra HTTP/9.9\r\n\r\n')), /^HTTP\/1\.1 (400|505)/, 'bad version')
  // A live stream-mode upload whose chunk encoding turns to garbage: that session dies, nothing else.
  const sid = 'cd'.repeat(16)
  const down = http.request({ host: '127.0.0.1', port, path: `/umbra/${sid}/down`, agent: false })
  down.on('error', () => {})
  down.end()
  const bad = rawSocket(Buffer.from(`POST /umbra/${sid}/up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz-not-a-size\r\n`))
  t.ok(await waitFor(() => sinks.length === 1), 'the session came up')
  await bad
  t.ok(await waitFor(() => sinks[0]?.closes.length === 1), 'the bad session closed')
  t.equal(sinks[0]?.text(), 'hello', 'bytes before the garbage were delivered')
  t.equal(sinks[0]?.closes[0]?.name, 'TransportError', 'with a TransportError')
  down.destroy()
  for (const mode of ['stream', 'poll'] as const) {
    const n = sinks.length
    const c = new Sink(await transport(t, { mode }).dial(l.addr, { signal: signal() }))
    c.conn.send(Buffer.from(`still serving ${mode}`))
    t.ok(await waitFor(() => sinks.length === n + 1 && sinks[n]?.text() === `still serving ${mode}`), `a ${mode} client is served`)
  }
})

t.test('poll protocol: repeated seq is ignored, a repeated ack gets the same bytes, gaps are refused', async t => {
  const { l, sinks } = await serve(transport(t, { pollWaitMs: 100 }), true)
  const port = portOf(l.addr)
  const base = `/umbra/${'ef'.repeat(16)}`
  t.equal((await raw(port, 'POST', `${base}/up?seq=0`, Buffer.alloc(0))).status, 200, 'open')
  t.equal((await raw(port, 'POST', `${base}/up?seq=0`, Buffer.alloc(0))).status, 200, 'open again: ignored')
  t.equal(sinks.length, 1, 'one session')
  const s = sinks[0] as Sink
  t.equal((await raw(port, 'POST', `${base}/up?seq=1`, Buffer.from('one'))).status, 200)
  t.equal((await raw(port, 'POST', `${base}/up?seq=1`, Buffer.from('one'))).status, 200, 'a repeat is answered')
  t.equal((await raw(port, 'POST', `${base}/up?seq=3`, Buffer.from('three'))).status, 409, 'a gap is refused')
  t.equal((await raw(port, 'POST', `${base}/up?seq=2`, Buffer.from('two'))).status, 200)
  t.equal(s.text(), 'onetwo', 'each seq applied once, in order')
  s.conn.send(Buffer.from('hello'))
  const a = await raw(port, 'GET', `${base}/down?ack=0`)
  const b = await raw(port, 'GET', `${base}/down?ack=0`)
  t.equal(a.body.toString(), 'hello')
  t.equal(a.headers['x-umbra-offset'], '0')
  t.same(b.body, a.body, 'the same ack gets the same bytes (a lost answer is recovered)')
  const c = await raw(port, 'GET', `${base}/down?ack=5`)
  t.equal(c.body.length, 0, 'nothing new: an empty answer after the poll wait')
  t.equal(c.headers['x-umbra-offset'], '5')
  t.equal((await raw(port, 'GET', `${base}/down?ack=0`)).status, 409, 'acked bytes are gone')
  t.equal((await raw(port, 'GET', `${base}/down?ack=99`)).status, 409, 'an ack past the end is refused')
  s.conn.close()
  const fin = await raw(port, 'GET', `${base}/down?ack=5`)
  t.equal(fin.headers['x-umbra-fin'], '1', 'the close reaches the client as a fin')
})

t.test('limits: sessions per server, bytes queued per session, poll body size', async t => {
  const server = transport(t, { maxSessions: 2, maxBufferedBytes: 64 * 1024, maxPostBytes: 1024 })
  const { l, sinks } = await serve(server)
  const client = transport(t)
  const a = await client.dial(l.addr, { signal: signal() })
  await client.dial(l.addr, { signal: signal() })
  await t.rejects(client.dial(l.addr, { signal: signal() }), { name: 'TransportError' }, 'a third session is refused')
  t.equal((await raw(portOf(l.addr), 'POST', `/umbra/${'12'.repeat(16)}/up?seq=0`, Buffer.alloc(0))).status, 503, 'with 503')
  a.close()
  t.ok(await waitFor(() => sinks[0]?.closes.length === 1), 'the server forgot the closed session')
  const c = await client.dial(l.addr, { signal: signal() })
  t.ok(c, 'a slot freed by a close is usable')
  c.close()
  t.ok(await waitFor(() => sinks[2]?.closes.length === 1))
  // A poll client that never polls: the server's queue for it is bounded.
  const port = portOf(l.addr)
  const base = `/umbra/${'34'.repeat(16)}`
  t.equal((await raw(port, 'POST', `${base}/up?seq=0`, Buffer.alloc(0))).status, 200)
  const s = sinks[3] as Sink
  t.equal(s.conn.send(new Uint8Array(32 * 1024)), true)
  t.throws(() => s.conn.send(new Uint8Array(40 * 1024)), { name: 'LimitError' }, 'past maxBufferedBytes')
  t.equal(s.closes[0]?.name, 'LimitError', 'the session closed with it')
  const base2 = `/umbra/${'56'.repeat(16)}`
  t.equal((await raw(port, 'POST', `${base2}/up?seq=0`, Buffer.alloc(0))).status, 200)
  const big = await raw(port, 'POST', `${base2}/up?seq=1`, Buffer.alloc(2048)).catch(() => ({ status: 0 }))
  t.ok(big.status === 413 || big.status === 0, `an oversized POST gets 413 or a closed socket (${big.status})`)
})

t.test('idle sessions expire on both sides', async t => {
  const { l, sinks } = await serve(transport(t, { idleTimeoutMs: 1000 }))
  const c = new Sink(await transport(t).dial(l.addr, { signal: signal() }))
  t.ok(await waitFor(() => sinks.length === 1))
  t.ok(await waitFor(() => sinks[0]?.closes.length === 1 && c.closes.length === 1), 'both sides closed')
  t.equal(sinks[0]?.closes[0]?.name, 'TimeoutError', 'the server side says why')
})
