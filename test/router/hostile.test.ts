/**
 * Hostile input at the listening ports of a real router: random bytes and replayed handshakes
 * get no answer, crash nothing, leave no handshake state behind, and other links keep working.
 */
import t from 'tap'
import * as dgram from 'node:dgram'
import * as net from 'node:net'
import { randomBytes } from 'node:crypto'
import { InitiatorHandshake } from '../../src/link/handshake.ts'
import { startRouter } from './fixtures.ts'

const port = (addr: string): number => Number(new URL(addr).port)

async function waitFor (cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms
  while (Date.now() < until) { if (cond()) return true; await new Promise(resolve => setTimeout(resolve, 50)) }
  return cond()
}

/** Sends `payloads` on fresh TCP connections; returns the bytes answered before each closed (bounded wait). */
async function tcpAnswers (p: number, payloads: Uint8Array[], waitMs: number, enough = Infinity): Promise<number[]> {
  return await Promise.all(payloads.map(async (data) => await new Promise<number>((resolve) => {
    let got = 0
    const s = net.connect(p, '127.0.0.1', () => { s.write(data) })
    const timer = setTimeout(() => { s.destroy(); resolve(got) }, waitMs)
    s.on('data', (d) => { got += d.length; if (got >= enough) s.destroy() })
    s.on('error', () => {})
    s.on('close', () => { clearTimeout(timer); resolve(got) })
  })))
}

t.test('random bytes to the UDP and TCP ports get no answer and break nothing', async t => {
  const a = await startRouter(t)
  const b = await startRouter(t)
  const link = await a.links.connect({ ...b.contact(), addresses: b.addresses.filter(x => x.startsWith('tcp:')) })
  const udp = b.addresses.find(x => x.startsWith('udp:'))!
  const tcp = b.addresses.find(x => x.startsWith('tcp:'))!

  const sock = dgram.createSocket('udp4')
  let udpAnswers = 0
  sock.on('message', () => { udpAnswers++ })
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve))
  t.teardown(() => { sock.close() })
  for (let i = 0; i < 300; i++) sock.send(randomBytes(1 + (i * 97) % 1400), port(udp), '127.0.0.1')
  const tcpGot = await tcpAnswers(port(tcp), Array.from({ length: 20 }, (_, i) => randomBytes(1 + i * 250)), 4000)
  await new Promise(resolve => setTimeout(resolve, 300))
  t.equal(udpAnswers, 0, 'no datagram came back')
  t.same(tcpGot, tcpGot.map(() => 0), 'no TCP connection got a byte back')
  t.ok(b.links.stats().inboundRejected >= 20, 'every probe was counted as rejected')
  t.ok(await waitFor(() => b.links.stats().handshakes === 0, 5000), 'no handshake state left behind')

  const echoed = new Promise<Uint8Array>((resolve) => { b.onMessage = (_p, m) => { resolve(m) } })
  link.send(Uint8Array.of(42))
  t.same(await echoed, Uint8Array.of(42), 'the existing link still carries messages')
  const fresh = await b.links.connect({ ...a.contact(), addresses: a.addresses.filter(x => x.startsWith('udp:')) })
  t.equal(fresh.state, 'open', 'and new links still open')
})

t.test('a replayed handshake message 1 gets no answer', async t => {
  const a = await startRouter(t)
  const b = await startRouter(t)
  const tcp = b.addresses.find(x => x.startsWith('tcp:'))!
  const hs = new InitiatorHandshake({ crypto: a.crypto, prologue: new TextEncoder().encode('umbra/link/1 test') }, a.keys.static, b.keys.static.publicKey, a.info.raw)
  const msg1 = hs.write1(Date.now())
  const [first] = await tcpAnswers(port(tcp), [msg1], 10_000, 64)
  t.ok(first! >= 64, 'the genuine message 1 is answered with message 2')
  const [replay] = await tcpAnswers(port(tcp), [msg1], 4000)
  t.equal(replay, 0, 'the same message 1 again gets nothing')
})

t.test('a handshake from another network gets no answer', async t => {
  const a = await startRouter(t, { network: 'other' })
  const b = await startRouter(t, { dialTimeoutMs: 1000 })
  await t.rejects(a.links.connect(b.contact()), { name: 'TransportError' })
  t.ok(b.links.stats().inboundRejected >= 1)
})

t.test('UDP: a valid message 1 from an unproven address is answered once, not on a timer', async t => {
  const a = await startRouter(t)
  const b = await startRouter(t)
  const udp = b.addresses.find(x => x.startsWith('udp:'))!
  const hs = new InitiatorHandshake({ crypto: a.crypto, prologue: new TextEncoder().encode('umbra/link/1 test'), maxMessageBytes: 1472 }, a.keys.static, b.keys.static.publicKey, a.info.raw)
  const sock = dgram.createSocket('udp4')
  let answers = 0
  sock.on('message', () => { answers++ })
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve))
  t.teardown(() => { sock.close() })
  sock.send(hs.write1(Date.now()), port(udp), '127.0.0.1')
  t.ok(await waitFor(() => answers > 0, 10_000), 'message 2 comes')
  await new Promise(resolve => setTimeout(resolve, 2500))
  t.equal(answers, 1, 'one message 2, no timed resends to a spoofable source')
})
