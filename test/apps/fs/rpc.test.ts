/**
 * RpcClient and serveStream over real TCP sockets on 127.0.0.1: 50 pipelined requests with
 * maxInFlight 8 all get their own answers; a handler's UmbraError reaches the asker (even with
 * odd text) without hurting the stream, while a handler bug closes it; per-request deadlines
 * (TimeoutError), and requests that time out or are aborted while waiting in line do not
 * strand the ones behind them; the peer closing the stream rejects everything outstanding with
 * ClosedError and calls onClose once; hostile peers (garbage, no hello, oversized frame, too
 * many queued requests, idling) each lose their own stream while a well-behaved client on the
 * same server keeps getting answers; onHello is called once with the client's node flag.
 */
import t from 'tap'
import net, { type AddressInfo, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { RpcClient, serveStream, type RequestHandler, type ServeOptions } from '../../../src/apps/fs/rpc.ts'
import {
  FrameReader, PROTOCOL_VERSION, decodeRequest, encodeFrame, requestRecord, responseRecord,
  type Request, type Response
} from '../../../src/apps/fs/messages.ts'
import { AbortError, ClosedError, NotFoundError, TimeoutError, UmbraError } from '../../../src/util/errors.ts'

/** What a test needs to clean up after itself. */
interface Cleanup { teardown: (fn: () => void | Promise<void>) => void }

const hex = (b: Uint8Array | undefined): string => b === undefined ? 'undefined' : Buffer.from(b).toString('hex')
const q = (v: number): Uint8Array => new Uint8Array(32).fill(v & 0xff)

/** What the test servers answer: something specific to each request. */
function reply (req: Exclude<Request, { op: 'hello' }>): Response {
  switch (req.op) {
    case 'find': return { nodes: [] }
    case 'get': return { block: req.query }
    case 'search': return { kblocks: [req.query] }
    case 'put': return { result: req.kind === 'chk' ? 'stored' : 'exists' }
  }
}

/**
 * The node's handler in these tests: a random small delay, then {@link reply}; `get` of
 * 0xee.. throws NotFoundError, of 0xed.. an UmbraError with a lone surrogate, of 0xbb.. a
 * plain Error (a bug); `search` waits `slowSearchMs`.
 */
function handler (slowSearchMs = 0): RequestHandler {
  return async req => {
    await sleep(Math.floor(Math.random() * 4))
    if (req.op === 'get' && req.query[0] === 0xee) throw new NotFoundError('the block is gone')
    if (req.op === 'get' && req.query[0] === 0xed) throw new UmbraError('bad name \ud83d')
    if (req.op === 'get' && req.query[0] === 0xbb) throw new Error('handler bug')
    if (req.op === 'search' && slowSearchMs > 0) await sleep(slowSearchMs)
    return reply(req)
  }
}

/** A TCP server on 127.0.0.1; every socket and the server are closed in teardown. */
async function listen (t: Cleanup, onConnection: (s: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>()
  const server = net.createServer(s => {
    sockets.add(s)
    s.on('close', () => { sockets.delete(s) })
    s.on('error', () => {})
    onConnection(s)
  })
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  })
  return (server.address() as AddressInfo).port
}

/** A connected client socket, destroyed in teardown. */
async function dial (t: Cleanup, port: number): Promise<Socket> {
  const s = net.connect(port, '127.0.0.1')
  t.teardown(() => { s.destroy() })
  await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject) })
  s.on('error', () => {})
  return s
}

/** Whether `p` settles within `ms`. */
async function within (p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<boolean>(resolve => { timer = setTimeout(() => { resolve(false) }, ms) })
  try {
    return await Promise.race([p.then(() => true, () => true), late])
  } finally {
    clearTimeout(timer)
  }
}

/** Polls `cond` every 10 ms, at most `ms`. */
async function until (cond: () => boolean, ms = 3000): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 10) {
    if (cond()) return true
    await sleep(10)
  }
  return cond()
}

/** The error `p` rejects with (or 'resolved'). */
async function failure (p: Promise<unknown>): Promise<unknown> {
  return await p.then(() => 'resolved', (err: unknown) => err)
}

/** A server running serveStream on each connection; per peer port: when it ended, its hellos. */
async function serve (t: Cleanup, h: RequestHandler, opts: ServeOptions = {}): Promise<{
  port: number
  ended: (peerPort: number) => Promise<void>
  hellos: (peerPort: number) => boolean[]
}> {
  const ends = new Map<number, { promise: Promise<void>, resolve: () => void }>()
  const hellos = new Map<number, boolean[]>()
  const end = (peer: number): { promise: Promise<void>, resolve: () => void } => {
    let e = ends.get(peer)
    if (e === undefined) {
      let resolve!: () => void
      const promise = new Promise<void>(r => { resolve = r })
      e = { promise, resolve }
      ends.set(peer, e)
    }
    return e
  }
  const port = await listen(t, s => {
    const peer = s.remotePort as number
    const onHello = (isNode: boolean): void => { hellos.set(peer, [...(hellos.get(peer) ?? []), isNode]) }
    void serveStream(s, h, onHello, opts).then(() => { end(peer).resolve() })
  })
  return { port, ended: peer => end(peer).promise, hellos: peer => hellos.get(peer) ?? [] }
}

/**
 * A well-behaved client: asks `get` and checks the echoed block, again every 25 ms until
 * `stop` settles (at most 80 times), then once more. Returns how many answers were right.
 */
async function healthy (t: Cleanup, port: number, stop?: Promise<unknown>): Promise<number> {
  const c = new RpcClient(await dial(t, port), true, { timeoutMs: 10_000 })
  let stopped = stop === undefined
  void stop?.then(() => { stopped = true })
  let good = 0
  try {
    for (let i = 0; i < 80; i++) {
      const r = await c.request({ op: 'get', query: q(i) })
      if (hex(r.block) === hex(q(i))) good++
      if (stopped) break
      await sleep(25)
    }
    const r = await c.request({ op: 'get', query: q(0x42) })
    if (hex(r.block) === hex(q(0x42))) good++
  } finally {
    c.close()
  }
  return good
}

const frames = (...fs: Uint8Array[]): Uint8Array => Buffer.concat(fs)
const hello = (node = true): Uint8Array => encodeFrame(0, requestRecord({ op: 'hello', v: PROTOCOL_VERSION, node }))

t.test('50 pipelined requests, maxInFlight 8: every one gets its own answer', async t => {
  const srv = await serve(t, handler())
  const sock = await dial(t, srv.port)
  const c = new RpcClient(sock, true, { maxInFlight: 8, timeoutMs: 5000 })
  const reqs: Request[] = Array.from({ length: 50 }, (_, i) => {
    switch (i % 4) {
      case 0: return { op: 'find', target: q(i) }
      case 1: return { op: 'get', query: q(i) }
      case 2: return { op: 'search', query: q(i) }
      default: return { op: 'put', kind: i % 8 === 3 ? 'chk' : 'kblock', query: q(i), block: q(i + 1), expires: 1000 + i, priority: i }
    }
  })
  let maxSeen = 0
  const order: number[] = []
  const answers = reqs.map(async (req, i) => {
    const r = await c.request(req)
    maxSeen = Math.max(maxSeen, c.inFlight)
    order.push(i)
    return r
  })
  t.equal(c.inFlight, 8, 'eight sent at once, the rest wait in line')
  const got = await Promise.all(answers)
  t.ok(maxSeen <= 8, `never more than 8 outstanding (saw ${maxSeen})`)
  t.equal(order.length, 50)
  let wrong = 0
  for (const [i, req] of reqs.entries()) {
    if (req.op === 'hello') continue
    if (JSON.stringify(Object.entries(got[i] ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.map(hex) : v instanceof Uint8Array ? hex(v) : v])) !==
      JSON.stringify(Object.entries(reply(req)).map(([k, v]) => [k, Array.isArray(v) ? v.map(hex) : v instanceof Uint8Array ? hex(v) : v]))) wrong++
  }
  t.equal(wrong, 0, 'each answer matches its own request')
  t.equal(c.inFlight, 0)
  t.notOk(c.closed)
  t.same(srv.hellos(sock.localPort as number), [true], 'one hello, node flag set')
  c.close()
})

t.test("the handler's UmbraError reaches the asker; the stream keeps working", async t => {
  const srv = await serve(t, handler())
  const c = new RpcClient(await dial(t, srv.port), false, { maxInFlight: 4 })
  let closes = 0
  c.onClose = () => { closes++ }
  const [bad, good, find, odd, malformed] = await Promise.allSettled([
    c.request({ op: 'get', query: q(0xee) }),
    c.request({ op: 'get', query: q(1) }),
    c.request({ op: 'find', target: q(2) }),
    c.request({ op: 'get', query: q(0xed) }),
    c.request({ op: 'get', query: new Uint8Array(31) })
  ])
  t.equal(bad?.status, 'rejected')
  const err: unknown = bad?.status === 'rejected' ? bad.reason : undefined
  t.ok(err instanceof UmbraError, 'an UmbraError')
  t.match((err as Error).message, /the block is gone/, 'carrying the handler\'s message')
  t.equal(good?.status === 'fulfilled' ? hex(good.value.block) : good?.status, hex(q(1)), 'the next request on the stream is answered')
  t.same(find?.status === 'fulfilled' ? find.value : find?.status, { nodes: [] })
  const oddErr: unknown = odd?.status === 'rejected' ? odd.reason : odd?.status
  t.ok(oddErr instanceof UmbraError && !(oddErr instanceof ClosedError) && /bad name/.test(oddErr.message),
    'error text with a lone surrogate arrives as an error answer, not a broken frame')
  const badField: unknown = malformed?.status === 'rejected' ? malformed.reason : malformed?.status
  t.ok(badField instanceof UmbraError && /query of 31 bytes/.test(badField.message), 'a request the node cannot decode is refused by answer')
  t.notOk(c.closed, 'the stream is still open')
  t.equal(hex((await c.request({ op: 'get', query: q(3) })).block), hex(q(3)), 'and answers afterwards')
  t.equal(closes, 0)

  const bug = await failure(c.request({ op: 'get', query: q(0xbb) }))
  t.ok(bug instanceof ClosedError, 'a handler bug (not an UmbraError) closes the stream')
  t.ok(c.closed)
  t.equal(closes, 1)
  t.equal(await healthy(t, srv.port), 2, 'the server still answers others')
})

t.test('a request without an answer rejects with TimeoutError', async t => {
  const port = await listen(t, s => { s.resume() })
  const c = new RpcClient(await dial(t, port), true, { timeoutMs: 200 })
  const err = await failure(c.request({ op: 'find', target: q(1) }))
  t.ok(err instanceof TimeoutError, 'default deadline')
  t.match((err as Error).message, /find/)
  const err2 = await failure(c.request({ op: 'get', query: q(1) }, { timeoutMs: 50 }))
  t.ok(err2 instanceof TimeoutError, 'per-request deadline')
  const ac = new AbortController()
  const p = failure(c.request({ op: 'get', query: q(2) }, { signal: ac.signal }))
  ac.abort()
  t.ok(await p instanceof AbortError, "the caller's signal")
  t.equal(c.inFlight, 0, 'nothing left outstanding')
  t.notOk(c.closed, 'a timeout does not close the stream')
  c.close()
})

t.test('requests that give up while waiting in line do not strand the ones behind', async t => {
  // Answers `get` only when released; everything else at once.
  const held: Array<() => void> = []
  const port = await listen(t, s => {
    const r = new FrameReader()
    s.on('data', (chunk: Buffer) => {
      for (const f of r.push(chunk)) {
        const req = decodeRequest(f.record)
        if (req.op === 'hello') continue
        const answer = (): void => { if (!s.destroyed) s.write(encodeFrame(f.id, responseRecord(reply(req)))) }
        if (req.op === 'get') held.push(answer)
        else answer()
      }
    })
  })
  const c = new RpcClient(await dial(t, port), true, { maxInFlight: 1, timeoutMs: 3000 })
  const first = c.request({ op: 'get', query: q(1) })
  const timedOut = failure(c.request({ op: 'find', target: q(2) }, { timeoutMs: 50 }))
  const aborted = failure(c.request({ op: 'find', target: q(3) }, { signal: AbortSignal.abort() }))
  t.ok(await timedOut instanceof TimeoutError, 'timed out in line')
  t.ok(await aborted instanceof AbortError, 'aborted in line')
  const behind = c.request({ op: 'search', query: q(4) }, { timeoutMs: 10_000 }).then(r => r, (err: unknown) => err)
  t.ok(await until(() => held.length === 1), 'the first request reached the server')
  held.shift()?.()
  t.equal(hex((await first).block), hex(q(1)))
  const r = await behind
  t.ok(!(r instanceof Error), `the request behind them is sent and answered (${String(r)})`)
  t.equal(hex((r as Response).kblocks?.[0]), hex(q(4)))
  c.close()
})

t.test('the peer closing the stream rejects everything outstanding with ClosedError', async t => {
  let serverSide: Socket | undefined
  let seen = 0
  const port = await listen(t, s => {
    serverSide = s
    const r = new FrameReader()
    s.on('data', (chunk: Buffer) => { seen += r.push(chunk).length })
  })
  const c = new RpcClient(await dial(t, port), true, { maxInFlight: 2 })
  let closes = 0
  let closeErr: Error | undefined
  c.onClose = err => { closes++; closeErr = err }
  const outstanding = Array.from({ length: 5 }, async (_, i) => await c.request({ op: 'get', query: q(i) }))
  t.ok(await until(() => seen >= 3), 'hello and two requests reached the server')
  serverSide?.destroy()
  const results = await Promise.allSettled(outstanding)
  t.ok(results.every(r => r.status === 'rejected' && r.reason instanceof ClosedError), 'sent and waiting requests: all ClosedError')
  t.ok(c.closed)
  t.ok(closeErr instanceof ClosedError)
  await sleep(50)
  t.equal(closes, 1, 'onClose called once')
  t.ok(await failure(c.request({ op: 'find', target: q(1) })) instanceof ClosedError, 'a request after the close')
  c.close()
  t.equal(closes, 1, 'closing again does nothing')

  const srv = await serve(t, handler())
  const mine = new RpcClient(await dial(t, srv.port), true, { maxInFlight: 1 })
  let mineCloses = 0
  mine.onClose = () => { mineCloses++ }
  const slow = [mine.request({ op: 'search', query: q(1) }), mine.request({ op: 'get', query: q(2) })]
  mine.close(new ClosedError('shutting down'))
  for (const p of slow) {
    const err = await failure(p)
    t.ok(err instanceof ClosedError && err.message === 'shutting down', 'a local close rejects with its error')
  }
  t.equal(mineCloses, 1)
})

t.test('hostile peers lose their own stream; a well-behaved client keeps its answers', async t => {
  const srv = await serve(t, handler(100), { idleMs: 300, maxQueued: 8 })
  const search = (i: number): Uint8Array => encodeFrame(i, requestRecord({ op: 'search', query: q(i) }))
  const cases: Array<[string, Uint8Array, { pause?: boolean, idle?: boolean, answers?: false }]> = [
    ['garbage body', frames(Uint8Array.of(0, 0, 0, 8), new Uint8Array(8).fill(0xc1)), {}],
    ['text instead of frames', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), {}],
    ['hello, then a frame without an id', frames(hello(), Uint8Array.of(0, 0, 0, 4, 0x81, 0xa1, 0x78, 0x01)), {}],
    ['a request before hello', encodeFrame(1, requestRecord({ op: 'find', target: q(1) })), { answers: false }],
    ['an oversized length prefix', Uint8Array.of(0x00, 0x01, 0x00, 0x00), {}],
    ['more than maxQueued requests, answers unread', frames(hello(), ...Array.from({ length: 20 }, (_, i) => search(i + 1))), { pause: true }],
    ['idle after hello', hello(), { idle: true }]
  ]
  for (const [what, bytes, how] of cases) {
    const s = await dial(t, srv.port)
    let received = 0
    s.on('data', (c: Buffer) => { received += c.length })
    if (how.pause === true) s.pause()
    const closed = new Promise<void>(resolve => { s.once('close', () => { resolve() }) })
    const ended = srv.ended(s.localPort as number)
    const meanwhile = healthy(t, srv.port, ended)
    s.write(bytes)
    if (how.idle === true) t.notOk(await within(ended, 100), `${what}: not closed before idleMs`)
    t.ok(await within(ended, 3000), `${what}: serveStream resolved`)
    s.resume()
    t.ok(await within(closed, 3000), `${what}: the server closed the stream`)
    if (how.answers === false) {
      t.equal(received, 0, `${what}: no answer was sent`)
      t.same(srv.hellos(s.localPort as number), [], `${what}: no hello seen`)
    }
    t.ok(await meanwhile >= 1, `${what}: a well-behaved client on the same server was answered meanwhile`)
    t.equal(await healthy(t, srv.port), 2, `${what}: and afterwards`)
  }

  const s = await dial(t, srv.port)
  const r = new FrameReader()
  const ids: number[] = []
  s.on('data', (c: Buffer) => { ids.push(...r.push(c).map(f => f.id)) })
  s.write(frames(hello(), ...Array.from({ length: 7 }, (_, i) => encodeFrame(i + 1, requestRecord({ op: 'find', target: q(i) })))))
  t.ok(await until(() => ids.length === 7), 'hello and 7 requests in one go (8 queued, the limit) are all answered')
  t.same(ids, [1, 2, 3, 4, 5, 6, 7], 'in order')
  s.destroy()
})

t.test('onHello is called once with the node flag the client sent', async t => {
  const srv = await serve(t, handler())
  for (const node of [true, false]) {
    const sock = await dial(t, srv.port)
    const c = new RpcClient(sock, node)
    await c.request({ op: 'find', target: q(1) })
    t.same(srv.hellos(sock.localPort as number), [node], `node = ${String(node)}`)
    c.close()
  }
  const s = await dial(t, srv.port)
  const r = new FrameReader()
  const ids: number[] = []
  s.on('data', (c: Buffer) => { ids.push(...r.push(c).map(f => f.id)) })
  s.write(frames(hello(false), hello(true), encodeFrame(5, requestRecord({ op: 'find', target: q(1) }))))
  t.ok(await until(() => ids.length === 1), 'the request after two hellos is answered')
  t.same(ids, [5], 'hellos themselves get no answer')
  t.same(srv.hellos(s.localPort as number), [false], 'a second hello is ignored')
  s.destroy()
})
