/**
 * The pure stream state machine against itself on virtual time (test/streaming/sim.ts):
 * handshake with data on the SYN, bulk transfer both ways across loss, duplication and
 * reordering, congestion window growth and halving, flow control against a reader that stops,
 * and packets that must be ignored. Assertions are on state and bytes, never on wall time.
 */
import t from 'tap'
import { Connection } from '../../src/streaming/connection.ts'
import { decodePacket, encodePacket, HEADER_BYTES, packet } from '../../src/streaming/packet.ts'
import { ReceiveBuffer } from '../../src/streaming/recv-buffer.ts'
import { Sim } from './sim.ts'

const MB = 1024 * 1024

t.test('handshake: the SYN carries data, the SYN-ACK answers with the peer stream ID', async t => {
  const sim = new Sim({ delayMs: 10 })
  const a = sim.a.conn!
  t.equal(a.write(new TextEncoder().encode('GET /'), 0), 5)
  const first = a.pollTransmit(0).map(decodePacket)
  t.equal(first.length, 1, 'one packet: the SYN')
  t.ok(first[0]!.syn && first[0]!.ack === undefined && first[0]!.sendStreamId === 0)
  t.equal(first[0]!.mss, 900)
  t.equal(new TextDecoder().decode(first[0]!.payload), 'GET /', 'data rides on the SYN')
  const big = Connection.connect({ localId: 5, now: 0 })
  big.write(new Uint8Array(20_000), 0)
  const burst = big.pollTransmit(0).map(decodePacket)
  t.same(burst.map(p => p.payload.length), [898, ...Array(9).fill(900)], 'and 9 full packets behind it (initial window 10); the SYN leaves room for its MSS option')
  t.ok(burst.slice(1).every(p => p.sendStreamId === 0 && !p.syn && p.ack === undefined), 'before the peer stream ID is known')
  const b = Connection.accept(first[0]!, { localId: 0x2222, now: 10 })
  t.equal(b.phase, 'syn-received')
  t.equal(new TextDecoder().decode(b.read()), 'GET /', 'readable on arrival, before the handshake completes')
  const synAck = b.pollTransmit(10).map(decodePacket)
  t.equal(synAck.length, 1)
  t.ok(synAck[0]!.syn && synAck[0]!.ack === 1 && synAck[0]!.sendStreamId === 0x1111 && synAck[0]!.recvStreamId === 0x2222)
  a.handlePacket(synAck[0]!, 20)
  t.equal(a.phase, 'open')
  t.same(drain(a).map(e => e.type), ['connected'])
  const ack = a.pollTransmit(20).map(decodePacket)
  t.equal(ack.length, 1, 'the SYN-ACK is acknowledged at once')
  b.handlePacket(ack[0]!, 30)
  t.equal(b.phase, 'open')
})

t.test('5 MB both ways under 5% loss, 1% duplication and reordering arrive byte-identical', async t => {
  const sim = new Sim({ seed: 7, delayMs: 10, jitterMs: 8, loss: 0.05, dup: 0.01 })
  for (const ep of [sim.a, sim.b]) { ep.toWrite = 5 * MB; ep.finishAfter = true }
  let longest = 0
  let sacks = 0
  sim.filter = (_from, pkt, bytes) => {
    longest = Math.max(longest, bytes.length)
    if (pkt.sack.length > 0) sacks++
    return true
  }
  t.ok(sim.run(() => sim.a.closed && sim.b.closed), 'both sides closed')
  t.ok(longest <= HEADER_BYTES + 900, `no packet longer than header + MSS (${longest} bytes)`)
  t.ok(sacks > 100, `SACK blocks got through (${sacks} packets), though data packets have no room for them`)
  t.equal(sim.a.closedError, undefined)
  t.equal(sim.b.closedError, undefined)
  t.equal(sim.a.readBytes, 5 * MB)
  t.equal(sim.b.readBytes, 5 * MB)
  t.equal(sim.b.readHash.digest('hex'), sim.a.sentHash.digest('hex'), 'a -> b identical')
  t.equal(sim.a.readHash.digest('hex'), sim.b.sentHash.digest('hex'), 'b -> a identical')
  const s = sim.a.conn!.stats
  t.ok(s.retransmits > 0 && s.fastLosses > 0, `losses were repaired (${s.retransmits} retransmissions)`)
  t.ok(sim.run(() => sim.a.conn!.done && sim.b.conn!.done), 'time-wait ends')
})

t.test('10% loss with heavy reordering still delivers 1 MB exactly', async t => {
  const sim = new Sim({ seed: 99, delayMs: 20, jitterMs: 40, loss: 0.1, dup: 0.05 })
  sim.a.toWrite = MB
  sim.a.finishAfter = true
  sim.b.finishAfter = true
  t.ok(sim.run(() => sim.a.closed && sim.b.closed))
  t.equal(sim.b.readBytes, MB)
  t.equal(sim.b.readHash.digest('hex'), sim.a.sentHash.digest('hex'))
})

t.test('congestion window: slow start grows it, a loss halves it', async t => {
  const sim = new Sim({ seed: 3, delayMs: 10 })
  sim.a.toWrite = 20 * MB
  const a = sim.a.conn!
  t.equal(a.stats.cwnd, 10, 'initial window 10 packets')
  t.ok(sim.run(() => a.stats.cwnd >= 60), 'grows in slow start without loss')
  t.equal(a.stats.ssthresh, Infinity)
  let dropped = false
  sim.filter = (from, pkt) => {
    if (dropped || from !== sim.a || pkt.payload.length === 0) return true
    dropped = true
    return false
  }
  let before = a.stats.cwnd
  const halved = sim.run(() => {
    if (a.stats.fastLosses > 0) return true
    before = a.stats.cwnd
    return false
  })
  t.ok(halved, 'the loss was detected by later acknowledgements, not by timeout')
  t.equal(a.stats.timeouts, 0)
  t.equal(a.stats.ssthresh, before / 2, `ssthresh = half the window at the loss (${before})`)
  t.equal(a.stats.cwnd, a.stats.ssthresh, 'window halved')
  const cut = a.stats.cwnd
  t.ok(sim.run(() => a.stats.cwnd >= cut + 2), 'then grows again (congestion avoidance)')
  t.ok(a.stats.cwnd < cut + 10, 'linearly, not exponentially')
})

t.test('flow control: a reader that stops holds the sender to its window; reading resumes it', async t => {
  const window = 32 * 1024
  const sim = new Sim({ seed: 5, delayMs: 10, jitterMs: 2 }, {}, { recvWindowBytes: window })
  sim.a.toWrite = MB
  sim.a.finishAfter = true
  sim.b.finishAfter = true
  sim.b.reading = false
  let maxUnread = 0
  sim.run(() => {
    maxUnread = Math.max(maxUnread, sim.b.conn?.stats.unreadBytes ?? 0)
    return sim.now > 20_000
  })
  const a = sim.a.conn!
  const unread = sim.b.conn!.stats.unreadBytes
  t.ok(unread <= window && unread > window - 900, `receiver buffer full (${unread} of ${window} bytes)`)
  t.ok(maxUnread <= window, 'never more than the window held')
  t.ok(a.stats.peerWindow < 900, 'the sender sees a window too small for a packet (no silly small packets)')
  t.equal(a.stats.unackedBytes, 0, 'and has nothing in flight')
  t.equal(sim.b.conn!.stats.rejected, 0, 'the sender never overran the window')
  t.ok(sim.a.written <= window + a.stats.queuedBytes, 'the rest waits in the send buffer')
  t.ok(a.stats.queuedBytes <= 256 * 1024, 'which is bounded')
  t.equal(sim.a.closedError, undefined, 'zero-window probes keep the stream alive')
  sim.b.reading = true
  t.ok(sim.run(() => sim.a.closed && sim.b.closed), 'reading again lets it finish')
  t.equal(sim.b.readBytes, MB)
  t.equal(sim.b.readHash.digest('hex'), sim.a.sentHash.digest('hex'))
})

t.test('a lost window update is recovered by the persist probe', async t => {
  const sim = new Sim({ seed: 6, delayMs: 10 }, {}, { recvWindowBytes: 16 * 1024 })
  sim.a.toWrite = 200 * 1024
  sim.a.finishAfter = true
  sim.b.finishAfter = true
  sim.b.reading = false
  sim.runFor(2000)
  sim.filter = (from, pkt) => !(from === sim.b && pkt.payload.length === 0 && !pkt.fin) // drop b's ACK-only packets
  sim.b.reading = true
  sim.b.readAll() // the window opens; its update is lost
  sim.runFor(500)
  sim.filter = () => true
  t.ok(sim.run(() => sim.a.closed && sim.b.closed))
  t.equal(sim.b.readBytes, 200 * 1024)
})

t.test('malformed and misaddressed packets are ignored', async t => {
  const sim = new Sim({ seed: 11, delayMs: 5, jitterMs: 2 })
  sim.a.toWrite = 256 * 1024
  sim.a.finishAfter = true
  sim.b.finishAfter = true
  sim.runFor(50)
  const b = sim.b.conn!
  const bogus = [
    new Uint8Array([1, 2, 3]),
    new Uint8Array(100).fill(0xff),
    encodePacket(packet({ sendStreamId: 0x2222, recvStreamId: 0x9999, seq: 5, ack: 0, payload: new Uint8Array(10) })), // wrong peer ID
    encodePacket(packet({ sendStreamId: 0x7777, recvStreamId: 0x1111, seq: 5, ack: 0 })), // wrong own ID
    encodePacket(packet({ sendStreamId: 0x2222, recvStreamId: 0x1111, seq: 3, ack: 1_000_000 })), // acks the unsent
    encodePacket(packet({ sendStreamId: 0x2222, recvStreamId: 0x1111, seq: 4_000_000, ack: 0, payload: new Uint8Array(10) })) // far outside the window
  ]
  for (const bytes of bogus) sim.inject(sim.b, bytes)
  t.ok(sim.run(() => sim.a.closed && sim.b.closed))
  t.equal(sim.b.malformed, 2, 'two did not decode')
  t.ok(b.stats.rejected >= 4, 'four were rejected')
  t.equal(sim.b.closedError, undefined)
  t.equal(sim.b.readBytes, 256 * 1024)
  t.equal(sim.b.readHash.digest('hex'), sim.a.sentHash.digest('hex'))
})

t.test('receive buffer: reassembly, SACK runs, FIN rules and bounds', async t => {
  const rb = new ReceiveBuffer(1000, 16)
  const p = (n: number): Uint8Array => new Uint8Array(n)
  t.equal(rb.offer(1, p(10), false), 'out-of-order')
  t.equal(rb.offer(3, p(10), false), 'out-of-order')
  t.equal(rb.offer(4, p(10), false), 'out-of-order')
  t.same(rb.sackRanges(8), [{ start: 1, end: 2 }, { start: 3, end: 5 }])
  t.equal(rb.offer(3, p(10), false), 'duplicate')
  t.equal(rb.offer(16, p(1), false), 'rejected', 'beyond the span')
  t.equal(rb.offer(0, p(10), false), 'in-order')
  t.equal(rb.next, 2)
  t.equal(rb.unread, 20)
  t.equal(rb.offer(2, p(10), true), 'rejected', 'FIN below data already received')
  t.equal(rb.offer(5, p(0), true), 'out-of-order')
  t.equal(rb.offer(6, p(1), false), 'rejected', 'data after the FIN')
  t.equal(rb.offer(2, p(10), false), 'in-order')
  t.ok(rb.finReceived)
  t.notOk(rb.ended, 'not ended until read')
  t.equal(rb.window(), 1000 - 50)
  let total = 0
  for (let c = rb.read(); c !== undefined; c = rb.read()) total += c.length
  t.equal(total, 50)
  t.ok(rb.ended)
  const full = new ReceiveBuffer(100, 16)
  t.equal(full.offer(0, p(60), false), 'in-order')
  t.equal(full.offer(2, p(30), false), 'out-of-order')
  t.equal(full.offer(1, p(20), false), 'rejected', 'over capacity')
  t.equal(full.window(), 40)
})

function drain (c: Connection): Array<{ type: string }> {
  const out = []
  for (let e = c.pollEvent(); e !== undefined; e = c.pollEvent()) out.push(e)
  return out
}
