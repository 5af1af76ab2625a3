/**
 * How a pure stream ends, on virtual time (test/streaming/sim.ts): half-close in each
 * direction while the other keeps flowing, reset by either side, refused connect, idle timeout,
 * connect timeout with nobody answering, and the retransmission limit when the path dies.
 */
import t from 'tap'
import { Connection } from '../../src/streaming/connection.ts'
import { ConnectionRefusedError, ConnectionResetError } from '../../src/streaming/errors.ts'
import { decodePacket, encodePacket, packet } from '../../src/streaming/packet.ts'
import { AbortError, TimeoutError } from '../../src/util/errors.ts'
import { Sim } from './sim.ts'

const KB = 1024

for (const closer of ['a', 'b'] as const) {
  t.test(`half-close by ${closer}: its FIN is acknowledged, the other direction keeps flowing`, async t => {
    const sim = new Sim({ seed: 21, delayMs: 10, jitterMs: 4, loss: 0.02 })
    const first = sim[closer]
    const other = closer === 'a' ? sim.b : sim.a
    first.toWrite = 20 * KB
    first.finishAfter = true
    other.toWrite = 500 * KB
    t.ok(sim.run(() => first.has('finished')), `${closer} finished`)
    t.ok(sim.run(() => other.conn?.readEnded === true), 'the peer saw the end of the data')
    t.equal(other.readBytes, 20 * KB)
    t.notOk(first.closed || other.closed, 'neither side is closed: one direction is still open')
    t.ok(other.readBytes === 20 * KB && first.readBytes < 500 * KB, 'the other direction is still sending')
    other.finishAfter = true
    t.ok(sim.run(() => first.closed && other.closed), 'then both close')
    t.equal(first.closedError, undefined)
    t.equal(other.closedError, undefined)
    t.equal(first.readBytes, 500 * KB, 'all of the other direction arrived after the half-close')
    t.equal(first.readHash.digest('hex'), other.sentHash.digest('hex'))
    t.equal(first.conn!.phase, 'time-wait')
    t.throws(() => first.conn!.write(new Uint8Array(1), sim.now), { name: 'ClosedError' })
  })
}

t.test('reset: the peer gets ConnectionResetError, buffers are dropped', async t => {
  const sim = new Sim({ seed: 4, delayMs: 10 })
  sim.a.toWrite = 10 * 1024 * KB
  sim.b.toWrite = 10 * 1024 * KB
  sim.runFor(300)
  const a = sim.a.conn!
  a.reset(sim.now, new AbortError('user aborted'))
  t.equal(a.phase, 'closed')
  t.notOk(a.done, 'the RST is still to be sent')
  const out = a.pollTransmit(sim.now).map(decodePacket)
  t.equal(out.length, 1)
  t.ok(out[0]!.rst && out[0]!.sendStreamId === 0x2222 && out[0]!.recvStreamId === 0x1111)
  t.ok(a.done)
  sim.inject(sim.b, encodePacket(out[0]!))
  t.ok(sim.run(() => sim.b.closed))
  t.ok(sim.b.closedError instanceof ConnectionResetError)
  t.equal(sim.b.closedError?.name, 'ConnectionResetError')
  t.equal(sim.b.conn!.read(), undefined, 'nothing left to read')
  t.equal(sim.b.conn!.stats.unackedBytes + sim.b.conn!.stats.queuedBytes, 0, 'send buffer dropped')
  t.equal(sim.b.conn!.pollTransmit(sim.now).length, 0, 'no RST answers a RST')
  t.equal(sim.b.conn!.pollTimeout(), undefined, 'no timers left')
})

t.test('a RST answering our SYN is a refusal', async t => {
  const a = Connection.connect({ localId: 77, now: 0 })
  const syn = decodePacket(a.pollTransmit(0)[0]!)
  a.handlePacket(packet({ sendStreamId: syn.recvStreamId, recvStreamId: 0, rst: true }), 5)
  const ev = a.pollEvent()
  t.equal(ev?.type, 'closed')
  t.ok(ev?.type === 'closed' && ev.error instanceof ConnectionRefusedError)
  t.equal(a.pollTransmit(5).length, 0, 'no RST back: the peer has no stream')
  a.handlePacket(packet({ sendStreamId: 77, recvStreamId: 5, rst: true }), 6)
  t.equal(a.pollEvent(), undefined, 'one closed event only')
})

t.test('a RST for another stream ID does nothing', async t => {
  const sim = new Sim({ seed: 8, delayMs: 10 })
  sim.a.toWrite = 50 * KB
  sim.runFor(100)
  sim.a.conn!.handlePacket(packet({ sendStreamId: 0x1111, recvStreamId: 0x3333, rst: true }), sim.now)
  sim.a.conn!.handlePacket(packet({ sendStreamId: 0x4444, recvStreamId: 0x2222, rst: true }), sim.now)
  t.equal(sim.a.conn!.phase, 'open')
})

t.test('idle timeout: no data either way closes the stream with TimeoutError and resets the peer', async t => {
  const sim = new Sim({ seed: 9, delayMs: 10 }, { idleTimeoutMs: 60_000 })
  sim.a.toWrite = 1000
  t.ok(sim.run(() => sim.b.readBytes === 1000))
  const quietSince = sim.now
  t.ok(sim.run(() => sim.a.closed && sim.b.closed))
  t.ok(sim.a.closedError instanceof TimeoutError, 'the side with the shorter idle timeout times out')
  t.match(sim.a.closedError?.message, /idle for 60000 ms/)
  t.ok(sim.b.closedError instanceof ConnectionResetError, 'its RST ends the other side')
  t.ok(sim.now - quietSince >= 59_000 && sim.now - quietSince < 61_000, 'after its idle timeout (virtual)')
})

t.test('idle timeout default is 5 minutes', async t => {
  const sim = new Sim({ seed: 9, delayMs: 10 })
  sim.a.toWrite = 1000
  t.ok(sim.run(() => sim.b.readBytes === 1000))
  const quietSince = sim.now
  t.ok(sim.run(() => sim.a.closed))
  t.match(sim.a.closedError?.message, /idle for 300000 ms/)
  t.ok(sim.now - quietSince >= 299_000 && sim.now - quietSince < 301_000)
})

t.test('connect timeout: nobody answers the SYN', async t => {
  const sim = new Sim({ seed: 10, delayMs: 10 }, { connectTimeoutMs: 7000 })
  sim.filter = () => false // a black hole
  let syns = 0
  const orig = sim.filter
  sim.filter = (from, pkt, bytes) => { if (pkt.syn) syns++; return orig(from, pkt, bytes) }
  t.ok(sim.run(() => sim.a.closed))
  t.ok(sim.a.closedError instanceof TimeoutError)
  t.match(sim.a.closedError?.message, /handshake/)
  t.equal(sim.now, 7000, 'at the connect deadline (virtual time)')
  t.equal(syns, 3, 'SYN at 0, then retransmitted at 1 s and 3 s (RTO doubling), none at 7 s')
  t.equal(sim.b.conn, undefined)
})

t.test('retransmission limit: the path dies, the stream fails with TimeoutError', async t => {
  const sim = new Sim({ seed: 12, delayMs: 10 }, { maxRetransmits: 4 }, { maxRetransmits: 4 })
  sim.a.toWrite = 1024 * KB
  t.ok(sim.run(() => sim.b.readBytes > 100 * KB))
  sim.filter = () => false
  t.ok(sim.run(() => sim.a.closed))
  t.ok(sim.a.closedError instanceof TimeoutError)
  t.match(sim.a.closedError?.message, /4 retransmission timeouts/)
  t.equal(sim.a.conn!.stats.timeouts, 4, 'four timeouts, the fifth fails')
  t.ok(sim.now < 60_000, 'long before the idle timeout')
})

t.test('a peer that stops reading forever: probes are answered, the idle timeout ends it', async t => {
  const sim = new Sim({ seed: 13, delayMs: 10 }, {}, { recvWindowBytes: 16 * KB })
  sim.a.toWrite = 100 * KB
  sim.b.reading = false
  t.ok(sim.run(() => sim.a.closed && sim.b.closed))
  t.ok(sim.b.closedError instanceof TimeoutError, 'the reader, idle the longest, times out')
  t.match(sim.b.closedError?.message, /idle/)
  t.ok(sim.a.closedError instanceof ConnectionResetError, 'and resets the writer')
  t.equal(sim.a.conn!.stats.timeouts, 0, 'the writer never timed out: its probes were answered')
})
