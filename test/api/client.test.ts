/**
 * The SAM client (src/api/client) against the real bridge on a real testnet of in-process
 * routers: destinations and lookups, streams both ways (listen/connect, accept, forward,
 * half-close), failures as SamErrors, datagrams (repliable and raw), and close().
 * Scripted edge cases are in client-connection.test.ts.
 */
import t, { type Test } from 'tap'
import * as net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { startSamNetwork } from './sam-fixture.ts'
import {
  createSession, generateDestination, lookupName, b32AddressOf, SamError, ClosedError, UmbraError,
  type Session, type SessionOptions, type Datagram, type SamClientOptions
} from '../../src/api/client/index.ts'
import { base32Encode } from '../../src/wire/base32.ts'

type Bridge = Awaited<ReturnType<typeof startSamNetwork>>['bridges'][number]

const SHORT = { inboundLength: 1, outboundLength: 1, inboundQuantity: 1, outboundQuantity: 1 }

function client (b: Bridge): SamClientOptions {
  return { host: b.bind, port: b.port, udpPort: b.udpPort }
}

async function session (t: Test, b: Bridge, opts: SessionOptions = {}): Promise<Session> {
  const s = await createSession({ ...client(b), ...SHORT, ...opts })
  t.teardown(async () => { await s.close() })
  return s
}

async function network (t: Test): Promise<[Bridge, Bridge]> {
  const { bridges } = await startSamNetwork(t)
  return [bridges[0]!, bridges[1]!]
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** Everything read from `s` until 'end' (rejects after `ms`). */
async function readAll (s: net.Socket, ms = 60_000): Promise<Buffer> {
  const chunks: Buffer[] = []
  s.on('data', (d: Buffer) => chunks.push(d))
  await once(s, 'end', { signal: AbortSignal.timeout(ms) })
  return Buffer.concat(chunks)
}

/** Sends `payload` every 500 ms (at most 40 times) until `received` resolves. */
async function sendUntil<T> (send: () => Promise<void>, received: Promise<T>): Promise<T> {
  let done = false
  const result = received.finally(() => { done = true })
  for (let i = 0; i < 40 && !done; i++) {
    await send()
    await Promise.race([result, new Promise(resolve => setTimeout(resolve, 500))])
  }
  return await result
}

const nextDatagram = async (s: Session): Promise<Datagram> => (await once(s, 'datagram', { signal: AbortSignal.timeout(30_000) }))[0] as Datagram

t.test('generateDestination, lookupName of a b32, NAMING ME, ping', async t => {
  const [b0, b1] = await network(t)
  const gen = await generateDestination(client(b0))
  t.match(gen.address, /^[a-z2-7]{52}\.b32\.umbra$/)
  t.equal(gen.address, b32AddressOf(gen.publicKey))
  t.ok(gen.privateKey.length > gen.publicKey.length)

  const s = await session(t, b0, { privateKey: gen.privateKey })
  t.equal(s.destination, gen.publicKey, 'the session uses the given key')
  t.equal(s.address, gen.address)
  t.equal(s.style, 'STREAM')
  t.match(s.id, /^[A-Za-z0-9_-]{12}$/)
  t.equal(await s.lookup('ME'), s.destination, 'NAMING LOOKUP NAME=ME')
  t.equal(await lookupName(s.address, client(b0)), s.destination, 'b32 of a local destination')
  t.equal(await lookupName(s.address, client(b1)), s.destination, 'b32 looked up from another router')
  t.equal(await lookupName(s.address.replace(/\.umbra$/, '.i2p'), client(b0)), s.destination, '.b32.i2p works too')
  await s.ping()

  const unknown = base32Encode(randomBytes(32)) + '.b32.umbra'
  const err = await lookupName(unknown, { ...client(b1), timeoutMs: 60_000 }).catch((e: unknown) => e)
  t.ok(err instanceof SamError, 'an unknown b32 is a SamError')
  t.match((err as SamError).result, /^(KEY_NOT_FOUND|LEASESET_NOT_FOUND|INVALID_KEY)$/)

  const dup = await createSession({ ...client(b0), ...SHORT, id: s.id }).catch((e: unknown) => e)
  t.ok(dup instanceof SamError)
  t.equal((dup as SamError).result, 'DUPLICATED_ID')
})

t.test('STREAM: listen/connect across routers, 1 MB each way, half-close', async t => {
  const [b0, b1] = await network(t)
  const [a, b] = await Promise.all([session(t, b0), session(t, b1)])
  const fromA = randomBytes(1024 * 1024)
  const fromB = randomBytes(1024 * 1024)
  let served: Promise<{ remote: string, got: Buffer }> | undefined
  const listener = b.listen((sock, remote) => {
    // Read all of A's bytes (until A's half-close), then answer and end.
    served = readAll(sock).then((got) => { sock.end(fromB); return { remote, got } })
  })
  t.teardown(async () => { await listener.close() })

  const sock = await a.connect(b.address)
  const reply = readAll(sock)
  sock.end(fromA)
  const got = await reply
  t.equal(got.length, fromB.length)
  t.equal(sha(got), sha(fromB), 'B → A after A half-closed')
  t.ok(served)
  const s = await served!
  t.equal(s.remote, a.destination, 'B sees A\'s destination')
  t.equal(sha(s.got), sha(fromA), 'A → B')
})

t.test('accept() and connect() by base64 destination with ports', async t => {
  const [b0, b1] = await network(t)
  const [a, b] = await Promise.all([session(t, b0), session(t, b1)])
  const accepted = b.accept()
  const sock = await a.connect(b.destination, { fromPort: 1234, toPort: 80 })
  const acc = await accepted
  t.equal(acc.remote, a.destination)
  t.equal(acc.fromPort, 1234)
  t.equal(acc.toPort, 80)
  sock.write('ping')
  t.equal(((await once(acc.socket, 'data')) as [Buffer])[0].toString(), 'ping')
  acc.socket.write('pong')
  t.equal(((await once(sock, 'data')) as [Buffer])[0].toString(), 'pong')
  const aborted = new AbortController()
  const pending = b.accept({ signal: aborted.signal })
  aborted.abort()
  t.equal((await pending.catch((e: unknown) => e) as Error).name, 'AbortError', 'accept() honours its signal')
})

t.test('forward() to a local server', async t => {
  const [b0, b1] = await network(t)
  const [a, b] = await Promise.all([session(t, b0), session(t, b1)])
  const conns: net.Socket[] = []
  const server = net.createServer((c) => {
    conns.push(c)
    let buf = ''
    c.setEncoding('latin1')
    c.on('data', (d: string) => {
      buf += d
      const nl = buf.indexOf('\n')
      if (nl >= 0 && buf.endsWith('hello')) c.end(`you are ${buf.slice(0, nl).split(' ')[0]!.slice(0, 16)}`)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const c of conns) c.destroy(); server.close() })
  const fwd = await b.forward((server.address() as net.AddressInfo).port, { host: '127.0.0.1' })
  const sock = await a.connect(b.address)
  const answer = readAll(sock)
  sock.write('hello')
  t.equal((await answer).toString(), `you are ${a.destination.slice(0, 16)}`, 'the forwarded connection starts with the peer line')
  await fwd.close()
})

t.test('failures are SamErrors with a RESULT, not hangs', async t => {
  const [b0] = await network(t)
  const a = await session(t, b0)
  const unknown = base32Encode(randomBytes(32)) + '.b32.umbra'
  const err = await a.connect(unknown, { timeoutMs: 90_000 }).catch((e: unknown) => e)
  t.ok(err instanceof SamError, `connect to an unknown b32: ${String(err)}`)
  t.match((err as SamError).result, /^(CANT_REACH_PEER|PEER_NOT_FOUND|TIMEOUT)$/)
  const sendErr = await a.send(a.destination, Buffer.from('x')).catch((e: unknown) => e)
  t.ok(sendErr instanceof UmbraError, 'send() on a STREAM session')
})

t.test('DATAGRAM A → B, B replies to from', async t => {
  const [b0, b1] = await network(t)
  const [a, b] = await Promise.all([session(t, b0, { style: 'DATAGRAM' }), session(t, b1, { style: 'DATAGRAM' })])
  const atB: Datagram[] = []
  b.on('datagram', (d) => {
    atB.push(d)
    void b.send(d.from!, Buffer.concat([Buffer.from('re:'), d.payload]), { toPort: d.fromPort })
  })
  const reply = await sendUntil(async () => { await a.send(b.address, Buffer.from('hi B'), { fromPort: 11, toPort: 22 }) }, nextDatagram(a))
  t.equal(reply.payload.toString(), 're:hi B')
  t.equal(reply.from, b.destination)
  t.equal(reply.toPort, 11)
  t.equal(atB[0]!.from, a.destination, 'repliable: B learns A\'s destination')
  t.equal(atB[0]!.payload.toString(), 'hi B')
  t.equal(atB[0]!.fromPort, 11)
  t.equal(atB[0]!.toPort, 22)
})

t.test('RAW A → B', async t => {
  const [b0, b1] = await network(t)
  const [a, b] = await Promise.all([session(t, b0, { style: 'RAW' }), session(t, b1, { style: 'RAW' })])
  const payload = randomBytes(2000)
  const got = await sendUntil(async () => { await a.send(b.destination, payload) }, nextDatagram(b))
  t.equal(sha(got.payload), sha(payload))
  t.equal(got.from, undefined, 'raw datagrams carry no sender')
})

t.test('close() ends the session and its sockets; a lost bridge closes the session', async t => {
  const { bridges } = await startSamNetwork(t)
  const [b0, b1] = [bridges[0]!, bridges[1]!]
  const [a, b] = await Promise.all([session(t, b0), session(t, b1)])
  const accepted = b.accept()
  const sock = await a.connect(b.destination)
  const acc = await accepted
  let closes = 0
  a.on('close', () => { closes++ })
  const sockClosed = once(sock, 'close')
  const peerEnded = new Promise<void>((resolve) => { acc.socket.on('end', resolve).on('close', resolve).on('error', () => { resolve() }).resume() })
  await a.close()
  await a.close()
  await sockClosed
  t.equal(closes, 1, "'close' once")
  await peerEnded
  t.pass('the peer sees the stream end')
  t.ok((await a.lookup('ME').catch((e: unknown) => e)) instanceof ClosedError)

  const errors: Error[] = []
  b.on('error', (e) => errors.push(e))
  const before = b1.stats().connections
  const pending = b.accept()
  for (let i = 0; i < 200 && b1.stats().connections <= before; i++) await new Promise(resolve => setTimeout(resolve, 10))
  const bClosed = new Promise<void>((resolve) => { b.once('close', resolve) })
  await b1.close()
  await bClosed
  t.ok((await pending.catch((e: unknown) => e)) instanceof ClosedError, 'a pending accept() rejects with ClosedError')
  t.ok(errors[0] instanceof ClosedError, "'error' with a listener attached")
})
