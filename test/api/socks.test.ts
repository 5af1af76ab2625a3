/**
 * The SOCKS5 proxy over real TCP on 127.0.0.1 in front of a real echo server: CONNECT with and
 * without auth, any split and pipelining, every refusal and connect-error reply, the deadlines
 * and limits, close(); then the pure parser with golden vectors and fuzzing (fast-check).
 */
import t, { type Test } from 'tap'
import fc from 'fast-check'
import * as net from 'node:net'
import { once } from 'node:events'
import { PassThrough, type Duplex } from 'node:stream'
import { setImmediate as tick } from 'node:timers/promises'
import { startSocksServer, type SocksOptions, type SocksServer, type SocksTarget } from '../../src/api/socks/server.ts'
import { encodeReply, formatIPv6, SocksHandshake, SocksProtocolError, SocksReply, SOCKS_MAX_AUTH, type SocksAction } from '../../src/api/socks/protocol.ts'
import { ConfigError, NotFoundError } from '../../src/util/errors.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const GREET = Buffer.from([5, 1, 0])
const OK = '05000001000000000000'
const reply = (code: number): string => `050${code}0001000000000000`
const req = (host: string, port = 80, cmd = 1): Buffer =>
  Buffer.concat([Buffer.from([5, cmd, 0, 3, host.length]), Buffer.from(host, 'latin1'), Buffer.from([port >> 8, port & 255])])
const authMsg = (u: string, p: string): Buffer => Buffer.concat([Buffer.from([1, u.length]), Buffer.from(u), Buffer.from([p.length]), Buffer.from(p)])

/** A client socket that collects what it receives. */
class Peer {
  buf = Buffer.alloc(0)
  done = false
  private wake = (): void => {}
  constructor (readonly sock: net.Socket) {
    sock.setTimeout(20_000, () => { sock.destroy() })
    sock.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.wake() })
    const fin = (): void => { this.done = true; this.wake() }
    sock.on('end', fin); sock.on('close', fin); sock.on('error', () => {})
  }

  private async until (pred: () => boolean): Promise<void> {
    while (!pred() && !this.done) await new Promise<void>((resolve) => { this.wake = resolve })
  }

  /** The next `n` bytes as hex (fewer if the connection ended). */
  async read (n: number): Promise<string> {
    await this.until(() => this.buf.length >= n)
    const out = this.buf.subarray(0, n)
    this.buf = this.buf.subarray(out.length)
    return hex(out)
  }

  /** Everything until the proxy ends the connection, as text. */
  async all (): Promise<string> {
    await this.until(() => false)
    const out = this.buf.toString('latin1')
    this.buf = Buffer.alloc(0)
    return out
  }
}

async function dial (t: Test, port: number): Promise<Peer> {
  const sock = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true })
  t.teardown(() => { sock.destroy() })
  const p = new Peer(sock)
  await once(sock, 'connect')
  return p
}

// One echo server for the whole file: answers every byte and ends when the client ends.
const echo = net.createServer({ allowHalfOpen: true }, (s) => { s.on('error', () => {}); s.pipe(s) })
await new Promise<void>((resolve) => { echo.listen(0, '127.0.0.1', resolve) })
const echoPort = (echo.address() as net.AddressInfo).port
t.teardown(() => { echo.close() })

async function dialTarget (port: number, signal?: AbortSignal): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true })
  s.on('error', () => {})
  await once(s, 'connect', signal === undefined ? {} : { signal })
  return s
}

interface Proxy { srv: SocksServer, calls: SocksTarget[], streams: Duplex[] }
async function proxy (t: Test, opts: Partial<SocksOptions> = {}): Promise<Proxy> {
  const calls: SocksTarget[] = []
  const streams: Duplex[] = []
  const connect = opts.connect ?? (async (_target: SocksTarget, signal: AbortSignal) => await dialTarget(echoPort, signal))
  const srv = await startSocksServer({
    host: '127.0.0.1', port: 0, ...opts,
    connect: async (target, signal) => { calls.push(target); const s = await connect(target, signal); streams.push(s); return s }
  })
  t.teardown(async () => { await srv.close() })
  return { srv, calls, streams }
}

/** Connects through the proxy with no auth; returns the peer after the success reply. */
async function connected (t: Test, port: number, host = 'abc.b32.umbra'): Promise<Peer> {
  const c = await dial(t, port)
  c.sock.write(Buffer.concat([GREET, req(host)]))
  t.equal(await c.read(12), `0500${OK}`)
  return c
}

t.test('no-auth CONNECT relays both ways and half-closes', async t => {
  const { srv, calls } = await proxy(t)
  t.not(srv.port, 0)
  const c = await dial(t, srv.port)
  c.sock.write(GREET)
  t.equal(await c.read(2), '0500', 'method: no auth')
  c.sock.write(req('Abc.B32.umbra', 8080))
  t.equal(await c.read(10), OK, 'succeeded, bound 0.0.0.0:0')
  c.sock.write('hello')
  t.equal(await c.read(5), hex(Buffer.from('hello')))
  c.sock.end('world')
  t.equal(await c.all(), 'world', 'client end reaches the target; its end comes back')
  t.same(calls, [{ host: 'Abc.B32.umbra', port: 8080 }])
  t.match(srv.stats, { accepted: 1, connected: 1, failed: 0, rejected: 0 })
})

t.test('the target ends first; the client can still send', async t => {
  const got: Buffer[] = []
  let done!: () => void
  const finished = new Promise<void>((resolve) => { done = resolve })
  const banner = net.createServer({ allowHalfOpen: true }, (s) => { s.end('banner'); s.on('data', (d: Buffer) => got.push(d)); s.on('end', done) })
  await new Promise<void>((resolve) => { banner.listen(0, '127.0.0.1', resolve) })
  t.teardown(() => { banner.close() })
  const { srv } = await proxy(t, { connect: async () => await dialTarget((banner.address() as net.AddressInfo).port) })
  const c = await connected(t, srv.port)
  t.equal(await c.all(), 'banner')
  c.sock.end('late')
  await finished
  t.equal(Buffer.concat(got).toString(), 'late')
})

t.test('a handshake sent one byte at a time, and one pipelined with data', async t => {
  const { srv } = await proxy(t)
  const c = await dial(t, srv.port)
  for (const b of Buffer.concat([GREET, req('x.b32.i2p', 1)])) { c.sock.write(Buffer.from([b])); await tick() }
  t.equal(await c.read(12), `0500${OK}`)
  c.sock.write('ping')
  t.equal(await c.read(4), hex(Buffer.from('ping')))

  const d = await dial(t, srv.port)
  d.sock.write(Buffer.concat([GREET, req('y.b32.umbra'), Buffer.from('early data')]))
  t.equal(await d.read(22), `0500${OK}${hex(Buffer.from('early data'))}`, 'pipelined data reaches the target first')
})

t.test('username/password (RFC 1929)', async t => {
  const { srv, calls } = await proxy(t, { users: new Map([['alice', 'secret']]) })
  const ok = await dial(t, srv.port)
  ok.sock.write(Buffer.concat([Buffer.from([5, 2, 0, 2]), authMsg('alice', 'secret'), req('a.b32.umbra'), Buffer.from('x')]))
  t.equal(await ok.read(15), `0502 0100 ${OK} 78`.replace(/ /g, ''))

  const bad = await dial(t, srv.port)
  bad.sock.write(Buffer.concat([Buffer.from([5, 1, 2]), authMsg('alice', 'wrong'), req('a.b32.umbra')]))
  t.equal(await bad.read(4), '05020101', 'status 1')
  t.equal(await bad.all(), '', 'then closed')

  const noauth = await dial(t, srv.port)
  noauth.sock.write(GREET)
  t.equal(await noauth.read(2), '05ff', 'no-auth is not offered when users are set')
  t.equal(await noauth.all(), '')
  t.equal(calls.length, 1)
})

t.test('refusals: no acceptable method, other protocols, BIND/UDP, ATYP, hosts not allowed', async t => {
  const { srv, calls } = await proxy(t)
  const cases: Array<[string, Buffer, string]> = [
    ['only user/pass offered', Buffer.from([5, 1, 2]), '05ff'],
    ['no methods', Buffer.from([5, 0]), '05ff'],
    ['SOCKS4', Buffer.from([4, 1, 0, 80, 1, 2, 3, 4, 0]), ''],
    ['HTTP', Buffer.from('CONNECT a.b32.umbra:80 HTTP/1.1\r\n\r\n'), ''],
    ['BIND', Buffer.concat([GREET, req('a.b32.umbra', 80, 2)]), `0500${reply(7)}`],
    ['UDP ASSOCIATE', Buffer.concat([GREET, req('a.b32.umbra', 80, 3)]), `0500${reply(7)}`],
    ['unknown ATYP', Buffer.concat([GREET, Buffer.from([5, 1, 0, 9, 1, 2, 3])]), `0500${reply(8)}`],
    ['IPv4', Buffer.concat([GREET, Buffer.from([5, 1, 0, 1, 93, 184, 216, 34, 0, 80])]), `0500${reply(2)}`],
    ['IPv6', Buffer.concat([GREET, Buffer.from([5, 1, 0, 4, ...new Array<number>(15).fill(0), 1, 0, 80])]), `0500${reply(2)}`],
    ['clearnet name', Buffer.concat([GREET, req('example.com')]), `0500${reply(2)}`],
    ['lookalike name', Buffer.concat([GREET, req('a.b32.umbra.example.com')]), `0500${reply(2)}`]
  ]
  for (const [what, bytes, want] of cases) {
    const c = await dial(t, srv.port)
    c.sock.write(bytes)
    t.equal(hex(Buffer.from(await c.all(), 'latin1')), want, what)
  }
  t.equal(calls.length, 0, 'connect never called')
  t.equal(srv.stats.rejected, cases.length)
})

t.test('connect errors map to reply codes', async t => {
  const named = (name: string): Error => Object.assign(new Error('x'), { name })
  const errors: Array<[unknown, number]> = [
    [named('NotFoundError'), 4], [new NotFoundError('no LeaseSet'), 4], [named('DecodeError'), 4],
    [named('ConnectionRefusedError'), 5], [named('TimeoutError'), 6], [{ name: 'TimeoutError' }, 6],
    [named('AbortError'), 1], [new Error('boom'), 1], ['a string', 1]
  ]
  const { srv } = await proxy(t, { connect: async (target) => { throw errors[target.port]![0] } })
  for (const [i, [err, code]] of errors.entries()) {
    const c = await dial(t, srv.port)
    c.sock.write(Buffer.concat([GREET, req('a.b32.umbra', i)]))
    t.equal(await c.read(12), `0500${reply(code)}`, String((err as Error).name ?? err))
  }
  const { srv: sync } = await proxy(t, { connect: () => { throw new Error('sync') } })
  const c = await dial(t, sync.port)
  c.sock.write(Buffer.concat([GREET, req('a.b32.umbra')]))
  t.equal(await c.read(12), `0500${reply(1)}`, 'a synchronous throw')
  t.equal(srv.stats.failed, errors.length)
})

t.test('connect timeout → TTL expired; aborted and late streams destroyed', async t => {
  const signals: AbortSignal[] = []
  const late = new PassThrough()
  let resolveLate!: (s: Duplex) => void
  const { srv } = await proxy(t, {
    connectTimeoutMs: 50,
    connect: async (_target, signal) => { signals.push(signal); return await new Promise<Duplex>((resolve) => { resolveLate = resolve }) }
  })
  const c = await dial(t, srv.port)
  c.sock.write(Buffer.concat([GREET, req('a.b32.umbra')]))
  t.equal(await c.read(12), `0500${reply(6)}`)
  t.equal(signals[0]?.aborted, true)
  t.equal((signals[0]?.reason as Error).name, 'TimeoutError')
  resolveLate(late)
  await once(late, 'close')
  t.ok(late.destroyed, 'a stream resolved after the deadline is destroyed')
})

t.test('a client leaving during connect aborts it', async t => {
  let signal!: AbortSignal
  const { srv } = await proxy(t, { connect: async (_t, s) => { signal = s; return await new Promise<Duplex>(() => {}) } })
  const c = await dial(t, srv.port)
  c.sock.write(Buffer.concat([GREET, req('a.b32.umbra')]))
  t.equal(await c.read(2), '0500')
  for (let i = 0; i < 10_000 && signal === undefined; i++) await tick()
  c.sock.destroy()
  await once(signal, 'abort')
  t.equal((signal.reason as Error).name, 'AbortError')
})

t.test('handshake and idle timeouts close the client', async t => {
  const { srv } = await proxy(t, { handshakeTimeoutMs: 50 })
  const slow = await dial(t, srv.port)
  slow.sock.write(Buffer.from([5]))
  t.equal(await slow.all(), '', 'closed without a reply')
  t.equal(srv.stats.rejected, 1)
  const { srv: idler, streams } = await proxy(t, { idleTimeoutMs: 50 })
  const idle = await connected(t, idler.port)
  t.equal(await idle.all(), '', 'an idle relay is closed')
  if (!streams[0]!.destroyed) await once(streams[0]!, 'close')
  t.ok(streams[0]!.destroyed, 'and its target')
})

t.test('maxClients: connections over the limit are closed at once', async t => {
  const { srv } = await proxy(t, { maxClients: 2 })
  const a = await dial(t, srv.port)
  const b = await dial(t, srv.port)
  for (const p of [a, b]) { p.sock.write(GREET); t.equal(await p.read(2), '0500') }
  const over = await dial(t, srv.port)
  t.equal(await over.all(), '')
  t.equal(srv.stats.rejected, 1)
  a.sock.destroy()
  for (let i = 0; i < 10_000 && srv.stats.active > 1; i++) await tick()
  const c = await connected(t, srv.port)
  c.sock.write('ok')
  t.equal(await c.read(2), hex(Buffer.from('ok')))
})

t.test('bad options are ConfigErrors; non-loopback needs allowRemote', async t => {
  const connect = async (): Promise<Duplex> => new PassThrough()
  for (const host of ['0.0.0.0', '192.0.2.1', '::', 'example.com']) {
    await t.rejects(startSocksServer({ host, port: 0, connect }), ConfigError, host)
  }
  for (const bad of [{ port: 70000 }, { users: {} }, { users: { a: '' } }, { users: { ['x'.repeat(256)]: 'p' } }, { maxClients: 0 }, { handshakeTimeoutMs: 1.5 }]) {
    await t.rejects(startSocksServer({ port: 0, connect, ...bad }), ConfigError, JSON.stringify(bad).slice(0, 40))
  }
  const any = await startSocksServer({ host: '0.0.0.0', port: 0, allowRemote: true, connect })
  t.equal(any.host, '0.0.0.0')
  await any.close()
})

t.test('close() ends clients, targets and pending connects; idempotent', async t => {
  let signal: AbortSignal | undefined
  const { srv, streams } = await proxy(t, {
    connect: async (target, s) => {
      if (target.port === 1) { signal = s; return await new Promise<Duplex>(() => {}) }
      return await dialTarget(echoPort)
    }
  })
  const relay = await connected(t, srv.port)
  const shaking = await dial(t, srv.port)
  shaking.sock.write(Buffer.from([5, 1]))
  const pending = await dial(t, srv.port)
  pending.sock.write(Buffer.concat([GREET, req('p.b32.umbra', 1)]))
  t.equal(await pending.read(2), '0500')
  for (let i = 0; i < 10_000 && signal === undefined; i++) await tick()
  await Promise.all([srv.close(), srv.close()])
  for (const p of [relay, shaking, pending]) await p.all()
  t.ok(streams[0]?.destroyed, 'target stream destroyed')
  t.equal(signal?.aborted, true, 'pending connect aborted')
  t.equal(srv.stats.active, 0)
  const refused = net.connect({ host: '127.0.0.1', port: srv.port })
  const [err] = await once(refused, 'error') as [NodeJS.ErrnoException]
  t.equal(err.code, 'ECONNREFUSED')
  await srv.close()
})

// ---- the pure parser ----------------------------------------------------------------------

/**
 * Feeds `bytes` in pieces of the given sizes; answers auth with `check`. Throws if an invariant
 * breaks. Bytes pushed after the request are added to its `rest`, as the driver forwards them.
 */
function feed (bytes: Uint8Array, sizes: number[], requireAuth: boolean, check: (u: Uint8Array, p: Uint8Array) => boolean): SocksAction[] {
  const hs = new SocksHandshake({ requireAuth })
  const out: SocksAction[] = []
  const take = (actions: SocksAction[]): void => {
    for (const a of actions) {
      if (out.some((x) => x.type === 'fail' || x.type === 'request')) throw new Error('action after the end')
      out.push(a)
      if (a.type === 'auth') take(hs.answerAuth(check(a.username, a.password)))
    }
  }
  let at = 0
  for (let i = 0; at < bytes.length && !hs.finished; i++) {
    const n = Math.max(1, sizes[i % Math.max(1, sizes.length)] ?? bytes.length)
    take(hs.push(bytes.subarray(at, at + n)))
    at += n
    if (hs.buffered > SOCKS_MAX_AUTH) throw new Error(`buffered ${hs.buffered}`)
  }
  const last = out[out.length - 1]
  if (last?.type === 'request' && at < bytes.length) out[out.length - 1] = { ...last, rest: Buffer.concat([last.rest, bytes.subarray(at)]) }
  return out
}
const summary = (as: SocksAction[]): string[] => as.map((a) =>
  a.type === 'write' ? `write ${hex(a.bytes)}` : a.type === 'auth' ? 'auth' : a.type === 'request' ? `request ${a.request.host}:${a.request.port} +${hex(a.rest)}` : `fail ${a.error.reply ?? '-'} ${hex(a.bytes ?? new Uint8Array(0))}`)

t.test('parser: golden vectors', async t => {
  const all = (b: Uint8Array, auth = false): string[] => summary(feed(b, [], auth, () => true))
  t.same(all(Buffer.concat([Buffer.from([5, 2, 2, 0]), Buffer.from([5, 1, 0, 1, 10, 0, 0, 1, 0x1f, 0x90, 0xaa])])), ['write 0500', 'request 10.0.0.1:8080 +aa'])
  t.same(all(Buffer.from(`05010005010004${'00'.repeat(10)}ffff7f0000010050`, 'hex')), ['write 0500', 'request ::ffff:7f00:1:80 +'], 'IPv6')
  t.same(all(Buffer.concat([Buffer.from([5, 1, 2]), authMsg('u', 'p'), req('h.b32.umbra', 443)]), true), ['write 0502', 'auth', 'write 0100', 'request h.b32.umbra:443 +'])
  t.same(all(Buffer.from([5, 1, 0, 5, 1, 0, 3, 0, 0, 80])), ['write 0500', `fail 4 ${reply(4)}`], 'empty name')
  t.same(all(Buffer.from([5, 1, 0, 6, 1, 0, 1])), ['write 0500', `fail 1 ${reply(1)}`], 'bad request version')
  t.same(all(Buffer.from([5, 1, 2, 2, 1, 0x61]), true), ['write 0502', 'fail - '], 'bad sub-negotiation version')
  t.same(all(Buffer.from('GET / HTTP/1.1\r\n')), ['fail - '], 'HTTP: closed at the first byte')
  const err = feed(Buffer.from([5, 1, 0, 5, 2, 0, 1]), [], false, () => true)[1]
  t.ok(err?.type === 'fail' && err.error instanceof SocksProtocolError && err.error.name === 'SocksProtocolError' && err.error.reply === 7)
  t.throws(() => new SocksHandshake({ requireAuth: true }).answerAuth(true), 'answerAuth with nothing pending')
})

t.test('parser: encodeReply and IPv6 text', async t => {
  t.equal(hex(encodeReply(SocksReply.SUCCEEDED)), OK)
  t.equal(hex(encodeReply(SocksReply.NOT_ALLOWED, '1.2.3.4', 0x1234)), '05020001010203041234')
  t.equal(hex(encodeReply(SocksReply.SUCCEEDED, '::1', 1)), `05000004${'00'.repeat(15)}010001`)
  t.equal(hex(encodeReply(SocksReply.SUCCEEDED, '::ffff:1.2.3.4', 1)), `05000004${'00'.repeat(10)}ffff010203040001`)
  t.equal(hex(encodeReply(SocksReply.TTL_EXPIRED, 'ab.b32.umbra', 2)), `050600030c${hex(Buffer.from('ab.b32.umbra'))}0002`)
  for (const bad of ['', 'a b', 'x'.repeat(256)]) t.throws(() => encodeReply(0, bad), ConfigError)
  t.throws(() => encodeReply(0, undefined, 65536), ConfigError)
  fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), (a, mask) => {
    const b = a.map((x, i) => (mask[i]! & 1) === 0 ? 0 : x) // many zero runs
    const long = Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16)).join(':')
    const text = formatIPv6(b)
    return text === new URL(`http://[${long}]/`).hostname.slice(1, -1) && hex(encodeReply(0, text, 0)).slice(8, 40) === hex(b)
  }), { numRuns: 300, seed: 5 })
})

/** A valid handshake (with trailing data) and what it must parse to. */
const valid = fc.record({
  auth: fc.boolean(),
  user: fc.string({ minLength: 1, maxLength: 40 }),
  pass: fc.string({ minLength: 1, maxLength: 40 }),
  extra: fc.uint8Array({ maxLength: 5 }),
  host: fc.oneof(fc.stringMatching(/^[a-z0-9]{1,60}\.b32\.umbra$/), fc.constant('a'.repeat(255))),
  port: fc.integer({ min: 0, max: 65535 }),
  data: fc.uint8Array({ maxLength: 64 })
}).map(({ auth, user, pass, extra, host, port, data }) => {
  const methods = [...extra, auth ? 2 : 0]
  const bytes = Buffer.concat([Buffer.from([5, methods.length, ...methods]), auth ? authMsg(user, pass) : Buffer.alloc(0), req(host, port), data])
  return { auth, bytes, want: `request ${host}:${port} +${hex(data)}` }
})
const sizes = fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 12 })

t.test('parser fuzz: any split of a valid handshake gives the same request', async t => {
  fc.assert(fc.property(valid, sizes, ({ auth, bytes, want }, cuts) => {
    const out = summary(feed(bytes, cuts, auth, () => true))
    return out[out.length - 1] === want
  }), { numRuns: 500, seed: 1 })
})

t.test('parser fuzz: mutated and random input never throws and stays bounded', async t => {
  const mutated = fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.option(fc.nat()))
    .map(([v, edits, cut]) => {
      const b = Buffer.from(v.bytes)
      for (const [pos, val] of edits) b[pos % b.length] = val
      return { auth: v.auth, bytes: cut === null ? b : b.subarray(0, cut % (b.length + 1)) }
    })
  const random = fc.record({ auth: fc.boolean(), bytes: fc.uint8Array({ maxLength: 700 }) })
  fc.assert(fc.property(fc.oneof(mutated, random, random.map(({ auth, bytes }) => ({ auth, bytes: Buffer.concat([Buffer.from([5]), bytes]) }))), sizes, fc.boolean(), ({ auth, bytes }, cuts, ok) => {
    try {
      feed(bytes, cuts, auth, () => ok)
      return true
    } catch (err) {
      return err instanceof SocksProtocolError
    }
  }), { numRuns: 2000, seed: 2 })
})

t.test('socket fuzz: 100 hostile handshakes while a good client relays', async t => {
  const { srv } = await proxy(t, { handshakeTimeoutMs: 2000 })
  const inputs = fc.sample(fc.oneof(valid.map((v) => v.bytes), fc.uint8Array({ maxLength: 600 }),
    fc.tuple(valid, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([v, pos, val]) => { const b = Buffer.from(v.bytes); b[pos % b.length] = val; return b })), { numRuns: 100, seed: 3 })
  const good = (async () => {
    const c = await connected(t, srv.port)
    c.sock.write('still here')
    return await c.read(10)
  })()
  for (let i = 0; i < inputs.length; i += 25) {
    await Promise.all(inputs.slice(i, i + 25).map(async (bytes) => {
      const c = await dial(t, srv.port)
      c.sock.end(bytes)
      await c.all()
      c.sock.destroy()
    }))
  }
  t.equal(await good, hex(Buffer.from('still here')))
  t.equal(srv.stats.accepted, 101)
})
