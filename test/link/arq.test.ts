/**
 * Tests of the link ARQ: the ACK codec (golden vector, round trips, fuzzing), the receive-side
 * windows, and two Arq instances driven by a deterministic simulator (virtual time, seeded
 * PRNG, a path with latency, jitter, loss, duplication and a drop-tail bottleneck). Every loop
 * is bounded; nothing depends on wall-clock time.
 */
import t from 'tap'
import fc from 'fast-check'
import { Arq, type ArqMessage, type ArqOptions, type ArqPacket } from '../../src/link/arq.ts'
import { decodeAck, encodeAck, MAX_ACK_RANGES, type AckBlock, type AckRange } from '../../src/link/arq-ack.ts'
import { MAX_TRACKED_RANGES, MSG_ID_WINDOW, MsgIdWindow, ReceivedPns } from '../../src/link/arq-recv.ts'
import { DecodeError, LimitError } from '../../src/util/errors.ts'
import { prng } from '../fixtures/prng.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))


/** Descending ranges covering a set of packet numbers. */
function rangesOf (pns: number[]): AckRange[] {
  const s = [...new Set(pns)].sort((x, y) => y - x)
  const out: AckRange[] = []
  for (const pn of s) {
    const last = out[out.length - 1]
    if (last !== undefined && last.lo === pn + 1) last.lo = pn
    else out.push({ lo: pn, hi: pn })
  }
  return out
}
const ackOf = (pns: number[], ackDelayMs = 0): Uint8Array => {
  const ranges = rangesOf(pns)
  return encodeAck({ largest: ranges[0]!.hi, ackDelayMs, ranges })
}
const expectDecodeError = (fn: () => unknown): boolean => {
  try { fn(); return true } catch (e) { return e instanceof DecodeError && (e as Error).name === 'DecodeError' }
}

// ---------------------------------------------------------------- ACK codec

t.test('ACK codec: golden vectors', async t => {
  const block: AckBlock = { largest: 100, ackDelayMs: 3, ranges: [{ lo: 90, hi: 100 }, { lo: 50, hi: 80 }] }
  t.equal(hex(encodeAck(block)), '406403010a081e')
  t.same(decodeAck(unhex('406403010a081e')), block)
  const big: AckBlock = { largest: 2 ** 40, ackDelayMs: 70000, ranges: [{ lo: 2 ** 40 - 5, hi: 2 ** 40 }] }
  t.equal(hex(encodeAck(big)), 'c000010000000000' + '80011170' + '00' + '05')
  t.same(decodeAck(encodeAck(big)), big)
  t.ok(expectDecodeError(() => decodeAck(unhex('ffffffffffffffff000000'))), 'varint over 2^53-1')
  t.ok(expectDecodeError(() => decodeAck(unhex('406403010a08'))), 'truncated')
  t.ok(expectDecodeError(() => decodeAck(unhex('406403010a081e00'))), 'trailing byte')
  t.ok(expectDecodeError(() => decodeAck(unhex('05000006'))), 'first range below zero')
  t.ok(expectDecodeError(() => decodeAck(unhex('0a0001000900'))), 'second range below zero')
  t.ok(expectDecodeError(() => decodeAck(new Uint8Array([0x0a, 0, 32, 0]))), '33 ranges refused')
  t.ok(expectDecodeError(() => decodeAck(new Uint8Array(0))), 'empty')
})

t.test('ACK codec: round trips compare bytes; encoding truncates to 32 ranges and to maxBytes', async t => {
  const arbBlock = fc.record({
    top: fc.nat({ max: 2 ** 53 - 1 }),
    delay: fc.nat({ max: 2 ** 40 }),
    parts: fc.array(fc.tuple(fc.nat({ max: 2 ** 20 }), fc.nat({ max: 2 ** 20 })), { minLength: 1, maxLength: 40 })
  }).map(({ top, delay, parts }) => {
    const ranges: AckRange[] = []
    let hi = top
    for (const [gap, len] of parts) {
      if (hi < 0) break
      const lo = Math.max(0, hi - len)
      ranges.push({ lo, hi })
      hi = lo - gap - 2
    }
    return { largest: top, ackDelayMs: delay, ranges }
  })
  fc.assert(fc.property(arbBlock, block => {
    const bytes = encodeAck(block)
    const back = decodeAck(bytes)
    const expect = block.ranges.slice(0, MAX_ACK_RANGES)
    return JSON.stringify(back.ranges) === JSON.stringify(expect) && back.largest === block.largest &&
      back.ackDelayMs === block.ackDelayMs && hex(encodeAck(back)) === hex(bytes)
  }), { numRuns: 500 })
  fc.assert(fc.property(arbBlock, fc.integer({ min: 40, max: 200 }), (block, max) => {
    const bytes = encodeAck(block, max)
    const back = decodeAck(bytes)
    return bytes.length <= max && JSON.stringify(back.ranges) === JSON.stringify(block.ranges.slice(0, back.ranges.length))
  }), { numRuns: 300 })
  t.throws(() => encodeAck({ largest: 5, ackDelayMs: 0, ranges: [{ lo: 3, hi: 5 }, { lo: 1, hi: 2 }] }), { name: 'ConfigError' }, 'adjacent ranges refused')
  t.throws(() => encodeAck({ largest: 2 ** 50, ackDelayMs: 0, ranges: [{ lo: 0, hi: 2 ** 50 }] }, 5), { name: 'LimitError' })
})

t.test('ACK codec: random and mutated bytes decode or throw DecodeError, nothing else', async t => {
  const check = (b: Uint8Array): boolean => {
    try {
      const a = decodeAck(b)
      return a.ranges.length >= 1 && a.ranges.length <= MAX_ACK_RANGES && a.ranges.every(r => r.lo >= 0 && r.lo <= r.hi)
    } catch (e) { return e instanceof DecodeError }
  }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), check), { numRuns: 3000 })
  const valid = encodeAck({ largest: 5000, ackDelayMs: 2, ranges: rangesOf([5000, 4999, 4000, 3000, 2000, 7, 3]) })
  fc.assert(fc.property(fc.nat({ max: valid.length - 1 }), fc.nat({ max: 255 }), fc.nat({ max: valid.length }), (i, v, cut) => {
    const m = valid.slice()
    m[i] = v
    return check(m) && check(m.subarray(0, cut))
  }), { numRuns: 3000 })
  t.pass('no crash, no other error')
})

// ---------------------------------------------------------------- receive-side windows

t.test('ReceivedPns keeps at most 32 disjoint descending ranges, remembering the newest', async t => {
  fc.assert(fc.property(fc.array(fc.nat({ max: 400 }), { maxLength: 300 }), pns => {
    const r = new ReceivedPns()
    for (const pn of pns) r.add(pn, 0)
    const rs = r.ranges
    if (rs.length > MAX_TRACKED_RANGES) return false
    for (let i = 1; i < rs.length; i++) if (rs[i]!.hi > rs[i - 1]!.lo - 2) return false
    const floor = rs.length === 0 ? Infinity : rs[rs.length - 1]!.lo
    const inR = (pn: number): boolean => rs.some(x => x.lo <= pn && pn <= x.hi)
    return pns.every(pn => pn < floor || inR(pn)) && rs.every(x => pns.includes(x.lo) && pns.includes(x.hi))
  }), { numRuns: 500 })
  const r = new ReceivedPns()
  t.equal(r.add(7, 1), true)
  t.equal(r.add(7, 2), false, 'duplicate noticed')
  r.add(9, 3); r.add(8, 4)
  t.same(r.ranges, [{ lo: 7, hi: 9 }])
  t.equal(r.largestAt, 3)
  r.add(20, 5); r.forgetThrough(9)
  t.same(r.ranges, [{ lo: 20, hi: 20 }])
})

t.test('MsgIdWindow delivers each id once, refuses ids past the window, and wraps at 2^32', async t => {
  const w = new MsgIdWindow()
  t.equal(w.accept(1), 'new')
  t.equal(w.accept(1), 'dup')
  t.equal(w.accept(0), 'new')
  t.equal(w.base, 2)
  t.equal(w.accept(0), 'dup')
  t.equal(w.accept(2 + MSG_ID_WINDOW), 'outside')
  t.equal(w.accept(1 + MSG_ID_WINDOW), 'new', 'last id of the window')
  t.equal(w.accept(2 ** 32 - 1), 'dup', 'wrapped below base')
  const v = new MsgIdWindow()
  v.base = 2 ** 32 - 2
  t.equal(v.accept(2 ** 32 - 2), 'new')
  t.equal(v.accept(0), 'new', 'id 0 after the wrap')
  t.equal(v.accept(2 ** 32 - 1), 'new')
  t.equal(v.base, 2 ** 32 + 1)
  t.equal(v.accept(0), 'dup')
})

// ---------------------------------------------------------------- simulator

/** Reordering: a `reorder` fraction of packets is held back by up to `reorderMs` more. */
interface PathCfg { latencyMs: number, reorder: number, reorderMs: number, loss: number, dup: number, serviceMs: number, queueCap: number }
interface Ev { t: number, seq: number, to: 0 | 1, pkt: ArqPacket }

/** A binary min-heap of events by (t, seq). */
class Heap {
  private a: Ev[] = []
  get size (): number { return this.a.length }
  peek (): Ev | undefined { return this.a[0] }
  private less (i: number, j: number): boolean { const x = this.a[i]!; const y = this.a[j]!; return x.t < y.t || (x.t === y.t && x.seq < y.seq) }
  private swap (i: number, j: number): void { const x = this.a[i]!; this.a[i] = this.a[j]!; this.a[j] = x }
  push (e: Ev): void {
    this.a.push(e)
    for (let i = this.a.length - 1; i > 0;) { const p = (i - 1) >> 1; if (!this.less(i, p)) break; this.swap(i, p); i = p }
  }

  pop (): Ev | undefined {
    const top = this.a[0]
    const last = this.a.pop()
    if (this.a.length > 0 && last !== undefined) {
      this.a[0] = last
      for (let i = 0; ;) {
        const l = 2 * i + 1; const r = l + 1; let m = i
        if (l < this.a.length && this.less(l, m)) m = l
        if (r < this.a.length && this.less(r, m)) m = r
        if (m === i) break
        this.swap(i, m); i = m
      }
    }
    return top
  }
}

/** One direction of a path: a drop-tail bottleneck queue, then latency, jitter, loss and duplication. */
class Path {
  private busyUntil = 0
  dropped = 0
  constructor (private readonly cfg: PathCfg, private readonly rnd: () => number) {}
  send (now: number, pkt: ArqPacket, arrive: (t: number, p: ArqPacket) => void): void {
    const c = this.cfg
    if (this.busyUntil - now >= c.queueCap * c.serviceMs) { this.dropped++; return } // queue full
    const depart = Math.max(now, this.busyUntil) + c.serviceMs
    this.busyUntil = depart
    if (this.rnd() < c.loss) { this.dropped++; return }
    const copies = this.rnd() < c.dup ? 2 : 1
    for (let i = 0; i < copies; i++) {
      const wire: ArqPacket = { pn: pkt.pn, messages: pkt.messages.map(m => ({ id: m.id, data: m.data.slice() })) }
      if (pkt.ack !== undefined) wire.ack = pkt.ack.slice()
      arrive(depart + c.latencyMs + (this.rnd() < c.reorder ? this.rnd() * c.reorderMs : 0), wire)
    }
  }
}

function makeMsg (i: number, rnd: () => number): Uint8Array {
  const m = new Uint8Array(8 + Math.floor(rnd() * 1000))
  new DataView(m.buffer).setUint32(0, i)
  for (let k = 4; k < m.length; k++) m[k] = (i * 31 + k) & 0xff
  return m
}
function checkMsg (m: Uint8Array): number {
  const i = new DataView(m.buffer, m.byteOffset).getUint32(0)
  for (let k = 4; k < m.length; k++) if (m[k] !== ((i * 31 + k) & 0xff)) return -1
  return i
}

interface SimResult { counts: [Uint8Array, Uint8Array], arqs: [Arq, Arq], now: number, steps: number, corrupt: number, pnOrderOk: boolean, maxRanges: number }

/** Sends n[0] messages A→B and n[1] messages B→A; runs until all are acknowledged or a bound. */
function simulate (seed: number, cfg: PathCfg, n: [number, number], opts: Partial<ArqOptions> = {}, maxSteps = 1_000_000): SimResult {
  const rnd = prng(seed)
  const arqs: [Arq, Arq] = [new Arq({ maxPacketPayload: 1400, ...opts }), new Arq({ maxPacketPayload: 1400, ...opts })]
  const paths = [new Path(cfg, rnd), new Path(cfg, rnd)]
  const counts: [Uint8Array, Uint8Array] = [new Uint8Array(n[1]), new Uint8Array(n[0])] // received by A, by B
  const next = [0, 0]
  const pending: Array<Uint8Array | undefined> = [undefined, undefined]
  const lastPn = [-1, -1]
  const heap = new Heap()
  let seq = 0; let now = 0; let steps = 0; let corrupt = 0; let pnOrderOk = true; let maxRanges = 0
  const done = (): boolean => counts[0].every(c => c === 1) && counts[1].every(c => c === 1) &&
    arqs[0].stats.queuedBytes === 0 && arqs[1].stats.queuedBytes === 0
  for (; steps < maxSteps && !done(); steps++) {
    for (const s of [0, 1] as const) {
      const arq = arqs[s]
      for (let k = 0; k < 10_000 && next[s]! < n[s]; k++) { // the application fills the send queue
        const m = pending[s] ?? makeMsg(next[s]!, rnd)
        try { arq.enqueue(m); pending[s] = undefined; next[s]!++ } catch (e) {
          if (!(e instanceof LimitError)) throw e
          pending[s] = m; break
        }
      }
      for (let k = 0; k < 10_000; k++) {
        const p = arq.nextPacket(now)
        if (p === undefined) break
        if (p.pn <= lastPn[s]!) pnOrderOk = false
        lastPn[s] = p.pn
        paths[s]!.send(now, p, (at, w) => heap.push({ t: at, seq: seq++, to: s === 0 ? 1 : 0, pkt: w }))
      }
      maxRanges = Math.max(maxRanges, arq.footprint().ackRanges)
    }
    const cands = [heap.peek()?.t, arqs[0].nextTimeout(), arqs[1].nextTimeout()].filter((x): x is number => x !== undefined)
    if (cands.length === 0) break
    now = Math.max(now, Math.min(...cands))
    for (let e = heap.peek(); e !== undefined && e.t <= now; e = heap.peek()) {
      heap.pop()
      for (const d of arqs[e.to].onPacket(e.pkt.pn, e.pkt.messages, e.pkt.ack, now)) {
        const i = checkMsg(d)
        if (i < 0 || i >= counts[e.to].length) corrupt++
        else counts[e.to][i]!++
      }
    }
    for (const arq of arqs) { const to = arq.nextTimeout(); if (to !== undefined && to <= now) arq.onTimer(now) }
  }
  return { counts, arqs, now, steps, corrupt, pnOrderOk, maxRanges }
}

for (const loss of [0, 0.05, 0.3]) {
  t.test(`10,000 messages delivered exactly once at ${loss * 100}% loss with duplication and reordering`, async t => {
    const cfg: PathCfg = { latencyMs: 20, reorder: 0.05, reorderMs: 20, loss, dup: 0.05, serviceMs: 0.2, queueCap: 50 }
    const r = simulate(1000 + loss * 100, cfg, [10_000, 2_000])
    t.equal(r.corrupt, 0, 'no corrupt or unknown message')
    t.equal(r.counts[1].filter(c => c === 1).length, 10_000, 'A→B: every message once')
    t.equal(r.counts[1].filter(c => c > 1).length, 0, 'A→B: no duplicate delivery')
    t.equal(r.counts[0].filter(c => c === 1).length, 2_000, 'B→A: every message once')
    t.equal(r.counts[0].filter(c => c > 1).length, 0, 'B→A: no duplicate delivery')
    t.ok(r.pnOrderOk, 'packet numbers strictly increase per sender')
    t.ok(r.maxRanges <= MAX_TRACKED_RANGES, 'ACK state bounded')
    for (const a of r.arqs) {
      t.notOk(a.failed)
      const f = a.footprint()
      t.same([f.inFlight, f.unacked, f.sendQueue, f.retransmitQueue], [0, 0, 0, 0], 'nothing left behind')
      t.ok(f.lostTracked <= 1024)
    }
    const s = r.arqs[0].stats
    t.ok(s.rttMs >= 40 && s.rttMs < 500, `plausible RTT ${s.rttMs.toFixed(1)} ms`)
    if (loss > 0) t.ok(s.retransmits > 0 && s.lostPackets > 0, `losses repaired (${s.retransmits} retransmits)`)
    t.comment(`virtual ${(r.now / 1000).toFixed(1)} s, ${r.steps} steps, A: ${JSON.stringify(s)}`)
  })
}

// ---------------------------------------------------------------- focused behaviour

/** Drains `arq` at `now`, returning the packets. */
function drain (arq: Arq, now: number): ArqPacket[] {
  const out: ArqPacket[] = []
  for (let p = arq.nextPacket(now); p !== undefined && out.length < 5000; p = arq.nextPacket(now)) out.push(p)
  return out
}

t.test('cwnd grows in slow start, halves on loss once per round trip, collapses on timeout', async t => {
  const a = new Arq({ maxPacketPayload: 1400 })
  for (let i = 0; i < 500; i++) a.enqueue(new Uint8Array(1000)) // one message per packet
  let peerPn = 0; let now = 0
  const first = drain(a, now)
  t.equal(first.length, 10, 'initial window of 10 packets')
  now += 50
  a.onPacket(peerPn++, [], ackOf(first.map(p => p.pn)), now)
  t.equal(a.stats.cwnd, 20, 'slow start doubles per round trip')
  const second = drain(a, now)
  now += 50
  a.onPacket(peerPn++, [], ackOf(second.map(p => p.pn)), now)
  t.equal(a.stats.cwnd, 40)
  const flight = drain(a, now)
  t.equal(flight.length, 40)
  now += 50
  a.onPacket(peerPn++, [], ackOf(flight.slice(20, 24).map(p => p.pn)), now) // 0..19 lost
  t.equal(a.stats.cwnd, 22, 'halved after growing by the 4 acked packets')
  t.equal(a.stats.lostPackets, 20)
  a.onPacket(peerPn++, [], ackOf(flight.slice(36, 40).map(p => p.pn)), now + 1) // 24..35 lost, same window
  t.equal(a.stats.cwnd, 22, 'not halved twice for one window')
  t.equal(a.stats.lostPackets, 32)
  const re = drain(a, now + 1)
  t.ok(re.length > 0 && re.every(p => p.pn > flight[39]!.pn), 're-sent in new packet numbers')
  const to = a.nextTimeout()!
  a.onTimer(to)
  t.equal(a.stats.cwnd, 2, 'timeout collapses the window')
  t.ok(a.stats.rtoMs > 50, 'backed off')
})

t.test('a loss proven spurious by a late ACK undoes the cut and raises the reordering threshold', async t => {
  const a = new Arq({ maxPacketPayload: 1400 })
  for (let i = 0; i < 100; i++) a.enqueue(new Uint8Array(1000))
  const flight = drain(a, 0)
  t.equal(flight.length, 10)
  a.onPacket(0, [], ackOf(flight.slice(4).map(p => p.pn)), 50) // 0..3 declared lost (reordered)
  t.equal(a.stats.lostPackets, 4)
  t.equal(a.stats.cwnd, 8, '10 + 6 acked, halved')
  a.onPacket(1, [], ackOf(flight.slice(0, 4).map(p => p.pn)), 55)
  t.equal(a.stats.cwnd, 16, 'restored once every loss of the epoch proved spurious')
  t.equal(a.stats.queuedBytes, 90_000, 'their messages count as delivered')
  const next = drain(a, 55)
  t.ok(next.every(p => p.messages.every(m => m.id >= 10)), 'nothing re-sent needlessly')
  a.onPacket(2, [], ackOf(next.slice(5, 9).map(p => p.pn)), 100) // up to 8 behind: within the threshold
  t.equal(a.stats.lostPackets, 4, 'reordering by 8 tolerated after seeing 9')
})

t.test('a dead peer (100% loss) sets failed within a bounded number of timer calls', async t => {
  const a = new Arq({ maxPacketPayload: 1400, maxRetransmits: 12 })
  for (let i = 0; i < 5; i++) a.enqueue(new Uint8Array(100).fill(i))
  let now = 0; let timerCalls = 0; let lastPn = -1
  const ids = new Set<number>()
  for (let i = 0; i < 1000 && !a.failed; i++) {
    for (const p of drain(a, now)) { t.ok(p.pn > lastPn); lastPn = p.pn; for (const m of p.messages) ids.add(m.id) }
    const to = a.nextTimeout()
    if (to === undefined) break
    now = Math.max(now, to)
    a.onTimer(now); timerCalls++
  }
  t.ok(a.failed, 'failed')
  t.ok(timerCalls <= 13, `${timerCalls} timer calls`)
  t.ok(now < 60_000, `gave up after ${now} virtual ms`)
  t.same([...ids].sort(), [0, 1, 2, 3, 4], 're-sent messages keep their ids')
  t.equal(a.nextPacket(now), undefined)
  t.equal(a.nextTimeout(), undefined)
  t.equal(a.stats.queuedBytes, 0, 'memory released')
  t.throws(() => a.enqueue(new Uint8Array(1)), { name: 'ClosedError' })
})

t.test('ACKs: delayed by ackDelayMs, immediate after two packets, piggybacked, never for ack-only packets', async t => {
  const a = new Arq({ maxPacketPayload: 1400, ackDelayMs: 5 })
  const b = new Arq({ maxPacketPayload: 1400, ackDelayMs: 5 })
  a.enqueue(new Uint8Array([1, 2, 3]))
  const [p] = drain(a, 0)
  t.same(b.onPacket(p!.pn, p!.messages, p!.ack, 0), [new Uint8Array([1, 2, 3])])
  t.equal(b.nextPacket(0), undefined, 'ACK not yet due')
  t.equal(b.nextTimeout(), 5)
  t.equal(b.nextPacket(4), undefined)
  t.same(b.onPacket(p!.pn, p!.messages, p!.ack, 4), [], 'duplicate packet delivers nothing')
  const ackOnly = b.nextPacket(5)!
  t.same(ackOnly.messages, [])
  t.ok(ackOnly.ack !== undefined, 'ack-only packet when due')
  t.same(decodeAck(ackOnly.ack!), { largest: p!.pn, ackDelayMs: 5, ranges: [{ lo: p!.pn, hi: p!.pn }] })
  t.equal(b.nextTimeout(), undefined, 'nothing owed after the ACK')
  a.onPacket(ackOnly.pn, ackOnly.messages, ackOnly.ack, 12)
  t.equal(a.stats.inFlight, 0)
  t.ok(a.stats.rttMs > 0)
  t.equal(a.nextPacket(12), undefined, 'an ack-only packet is not acknowledged')
  t.equal(a.nextTimeout(), undefined)
  a.enqueue(new Uint8Array(1000)); a.enqueue(new Uint8Array(1000))
  const two = drain(a, 20)
  t.equal(two.length, 2)
  for (const q of two) b.onPacket(q.pn, q.messages, q.ack, 30)
  const now = b.nextPacket(30)!
  t.ok(now.ack !== undefined && now.messages.length === 0, 'second packet: ACK at once')
  a.enqueue(new Uint8Array(10))
  const [q] = drain(a, 40)
  b.onPacket(q!.pn, q!.messages, q!.ack, 40)
  b.enqueue(new Uint8Array([9]))
  const piggy = b.nextPacket(40)!
  t.ok(piggy.ack !== undefined && piggy.messages.length === 1, 'ACK rides along with data')
})

t.test('hostile ACKs: unsent packet numbers, huge and random ranges neither crash nor grow memory', async t => {
  const a = new Arq({ maxPacketPayload: 1400 })
  for (let i = 0; i < 3; i++) a.enqueue(new Uint8Array(1000))
  const sent = drain(a, 0)
  a.onPacket(0, [], encodeAck({ largest: 2 ** 52, ackDelayMs: 0, ranges: [{ lo: 1000, hi: 2 ** 52 }] }), 10)
  t.equal(a.stats.inFlight, 3, 'acking only unsent packets changes nothing')
  a.onPacket(1, [], encodeAck({ largest: 2 ** 52, ackDelayMs: 2 ** 40, ranges: [{ lo: 0, hi: 2 ** 52 }] }), 20)
  t.equal(a.stats.inFlight, 0, 'the packets really sent are acknowledged')
  t.ok(a.stats.rttMs >= 0 && a.stats.rttMs <= 20, 'a huge ack delay cannot make RTT negative')
  a.enqueue(new Uint8Array(5))
  t.ok(drain(a, 30)[0]!.pn > sent[2]!.pn, 'packet numbering unaffected')
  const arbRanges = fc.array(fc.tuple(fc.nat({ max: 2 ** 45 }), fc.nat({ max: 2 ** 45 })), { minLength: 1, maxLength: 32 })
  let pn = 10
  fc.assert(fc.property(arbRanges, fc.nat({ max: 2 ** 40 }), (parts, delay) => {
    const ranges: AckRange[] = []
    let hi = 2 ** 52
    for (const [gap, len] of parts) { if (hi < 0) break; const lo = Math.max(0, hi - len); ranges.push({ lo, hi }); hi = lo - gap - 2 }
    a.enqueue(new Uint8Array(100))
    drain(a, pn)
    a.onPacket(pn++, [], encodeAck({ largest: ranges[0]!.hi, ackDelayMs: delay, ranges }), pn)
    a.onTimer(pn)
    const f = a.footprint()
    return f.inFlight <= 1024 && f.lostTracked <= 1024 && f.ackRanges <= MAX_TRACKED_RANGES && !a.failed
  }), { numRuns: 300 })
  t.ok(a.stats.rtoMs <= 4000)
  t.ok(expectDecodeError(() => a.onPacket(pn, [], new Uint8Array([0x0a, 0, 32, 0]), pn)), 'malformed ACK is a DecodeError')
})

t.test('hostile packets: garbage packet numbers and ids far ahead are bounded or refused', async t => {
  const b = new Arq({ maxPacketPayload: 1400 })
  const rnd = prng(7)
  let delivered = 0
  for (let i = 0; i < 20_000; i++) {
    const pn = Math.floor(rnd() * 2 ** 53)
    const msgs: ArqMessage[] = [{ id: Math.floor(rnd() * 2 ** 32), data: new Uint8Array(1) }]
    delivered += b.onPacket(pn, msgs, undefined, i).length
    if (i % 100 === 0) drain(b, i)
  }
  const f = b.footprint()
  t.ok(f.ackRanges <= MAX_TRACKED_RANGES, `${f.ackRanges} ranges tracked`)
  t.ok(delivered < 200 && b.stats.rejectedMessages > 19_000, `ids outside the window refused (${delivered} in window)`)
  t.same(b.onPacket(1, [{ id: MSG_ID_WINDOW, data: new Uint8Array(1) }], undefined, 0), [], 'one past the window')
  t.ok(expectDecodeError(() => b.onPacket(2, [{ id: -1, data: new Uint8Array(1) }], undefined, 0)), 'negative id')
  t.ok(expectDecodeError(() => b.onPacket(2, [{ id: 2 ** 32, data: new Uint8Array(1) }], undefined, 0)), 'id over u32')
  t.ok(expectDecodeError(() => b.onPacket(2.5, [], undefined, 0)), 'fractional pn')
  t.ok(expectDecodeError(() => b.onPacket(2 ** 53, [], undefined, 0)), 'unsafe pn')
})

t.test('a message lost forever stalls new ids at the window edge instead of growing state', async t => {
  const a = new Arq({ maxPacketPayload: 1400, maxQueuedBytes: 1 << 20 })
  const b = new Arq({ maxPacketPayload: 1400 })
  const total = MSG_ID_WINDOW + 2000
  for (let i = 0; i < total; i++) a.enqueue(new Uint8Array(1))
  let maxId = -1; let now = 0; let peerPn = 0; let delivered = 0
  let stalledUnacked = -1
  for (let round = 0; round < 5000 && !a.failed; round++) {
    const acked: number[] = []
    for (const p of drain(a, now)) {
      for (const m of p.messages) maxId = Math.max(maxId, m.id)
      if (p.messages.some(m => m.id === 0)) continue // every packet carrying message 0 is lost
      delivered += b.onPacket(p.pn, p.messages, undefined, now).length
      acked.push(p.pn)
    }
    now += 20
    if (acked.length > 0) a.onPacket(peerPn++, [], ackOf(acked), now)
    if (maxId === MSG_ID_WINDOW - 1 && stalledUnacked < 0) stalledUnacked = a.footprint().unacked
    if ((a.nextTimeout() ?? Infinity) <= now) a.onTimer(now)
  }
  t.equal(maxId, MSG_ID_WINDOW - 1, 'no id at or past lowest-unacked + window')
  t.ok(delivered > MSG_ID_WINDOW - 1000 && delivered < MSG_ID_WINDOW, `${delivered} delivered, the rest stuck behind message 0`)
  t.ok(stalledUnacked > 0 && stalledUnacked <= total - delivered, 'unacked state bounded by the queue')
  t.ok(a.failed, 'a message that never gets through fails the link after the timeouts')
})

t.test('enqueue: LimitError past maxQueuedBytes or an oversized message; options are checked', async t => {
  const a = new Arq({ maxPacketPayload: 1400, maxQueuedBytes: 10_000 })
  for (let i = 0; i < 10; i++) a.enqueue(new Uint8Array(1000))
  t.equal(a.stats.queuedBytes, 10_000)
  t.throws(() => a.enqueue(new Uint8Array(1)), LimitError)
  t.throws(() => new Arq({ maxPacketPayload: 1400 }).enqueue(new Uint8Array(1394)), { name: 'LimitError' })
  t.doesNotThrow(() => new Arq({ maxPacketPayload: 1400 }).enqueue(new Uint8Array(1393)))
  const [p] = drain(a, 0)
  a.onPacket(0, [], ackOf([p!.pn]), 10)
  t.equal(a.stats.queuedBytes, 9_000, 'acknowledged bytes free the queue')
  t.doesNotThrow(() => a.enqueue(new Uint8Array(1000)))
  t.throws(() => new Arq({ maxPacketPayload: 10 }), { name: 'ConfigError' })
  t.throws(() => new Arq({ maxPacketPayload: 1400, minRtoMs: 0 }), { name: 'ConfigError' })
  t.throws(() => new Arq({ maxPacketPayload: 1400, ackDelayMs: Number.NaN }), { name: 'ConfigError' })
  t.equal(new Arq({ maxPacketPayload: 1400, initialRtoMs: undefined }).stats.rtoMs, 250, 'undefined means default')
})
