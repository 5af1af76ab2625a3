/**
 * Test fixture: two pure Connections on virtual time, joined by a simulated link with latency,
 * jitter (so reordering), loss, duplication and a per-packet filter, all from a seeded PRNG.
 * Endpoint `a` connects; `b` is made from the first SYN that reaches it, and a closed endpoint
 * answers packets with its farewell ACK or a RST (all as a manager would).
 * Each endpoint can write a deterministic byte pattern, read (or not) and hash what it read.
 * Nothing here reads the wall clock; every loop is bounded by a step budget.
 */
import { createHash, type Hash } from 'node:crypto'
import { Connection, type ConnectionEvent } from '../../src/streaming/connection.ts'
import type { StreamOptions } from '../../src/streaming/options.ts'
import { decodePacket, encodePacket, packet, type StreamPacket } from '../../src/streaming/packet.ts'
import { prng } from '../fixtures/prng.ts'

/** The simulated path, the same both ways. */
export interface LinkOptions {
  seed?: number
  /** One-way delay and its random extra (ms). */
  delayMs?: number
  jitterMs?: number
  /** Probability each packet is dropped / delivered twice. */
  loss?: number
  dup?: number
}

/** A payload pattern whose bytes depend on their position (period 1 MiB + 7). */
const PATTERN = (() => {
  const r = prng(12345)
  const b = new Uint8Array(1024 * 1024 + 7)
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256)
  return b
})()

/** One side: its connection, what it wrote and read, the events it saw. */
export class Endpoint {
  conn: Connection | undefined
  readonly events: ConnectionEvent[] = []
  /** Total bytes to write; `finishAfter` ends the stream once all are written. */
  toWrite = 0
  written = 0
  finishAfter = false
  finished = false
  reading = true
  readBytes = 0
  readonly sentHash: Hash = createHash('sha256')
  readonly readHash: Hash = createHash('sha256')
  closedError: Error | undefined
  closed = false
  malformed = 0

  constructor (readonly name: 'a' | 'b', readonly opts: StreamOptions) {}

  /** Writes, reads and finishes as far as the connection lets it now. */
  pump (now: number): void {
    const c = this.conn
    if (c === undefined) return
    this.pollEvents()
    if (this.closed) { if (this.reading) this.readAll(); return } // data received before the close stays readable
    for (let i = 0; i < 64 && this.written < this.toWrite; i++) {
      const off = this.written % PATTERN.length
      const chunk = PATTERN.subarray(off, Math.min(PATTERN.length, off + this.toWrite - this.written, off + 65536))
      const n = c.write(chunk, now)
      this.sentHash.update(chunk.subarray(0, n))
      this.written += n
      if (n < chunk.length) break
    }
    if (this.finishAfter && !this.finished && this.written >= this.toWrite) { this.finished = true; c.finish(now) }
    if (this.reading) this.readAll()
    this.pollEvents()
  }

  private pollEvents (): void {
    const c = this.conn!
    for (let ev = c.pollEvent(); ev !== undefined; ev = c.pollEvent()) {
      this.events.push(ev)
      if (ev.type === 'closed') { this.closed = true; this.closedError = ev.error }
    }
  }

  /** Reads everything held. */
  readAll (): void {
    const c = this.conn!
    for (let chunk = c.read(); chunk !== undefined; chunk = c.read()) {
      this.readHash.update(chunk)
      this.readBytes += chunk.length
    }
  }

  has (type: ConnectionEvent['type']): boolean { return this.events.some(e => e.type === type) }
}

interface Delivery { at: number, n: number, to: Endpoint, bytes: Uint8Array }

/** Two endpoints and the link between them (see module doc). */
export class Sim {
  now = 0
  readonly a: Endpoint
  readonly b: Endpoint
  /** Return false to drop a packet (after the random loss). */
  filter: (from: Endpoint, pkt: StreamPacket, bytes: Uint8Array) => boolean = () => true
  /** Packets handed to the link, by sender. */
  readonly sent = { a: 0, b: 0 }
  private readonly rand: () => number
  private readonly heap: Delivery[] = []
  private n = 0

  constructor (readonly link: LinkOptions = {}, aOpts: StreamOptions = {}, bOpts: StreamOptions = {}, aId = 0x1111, readonly bId = 0x2222) {
    this.rand = prng(link.seed ?? 1)
    this.a = new Endpoint('a', aOpts)
    this.b = new Endpoint('b', bOpts)
    this.a.conn = Connection.connect({ ...aOpts, localId: aId, now: 0 })
  }

  /** Puts raw bytes on the link to `to` (they arrive after the usual delay). */
  inject (to: Endpoint, bytes: Uint8Array): void {
    this.heap.push({ at: this.now + (this.link.delayMs ?? 10), n: this.n++, to, bytes })
  }

  /** One step: both sides act and transmit, then time advances to the next delivery or timer. */
  step (): boolean {
    for (const ep of [this.a, this.b]) this.transmit(ep)
    let t = Infinity
    for (const d of this.heap) if (d.at < t) t = d.at
    for (const ep of [this.a, this.b]) {
      const pt = ep.closed && ep.conn?.done === true ? undefined : ep.conn?.pollTimeout()
      if (pt !== undefined && pt < t) t = pt
    }
    if (t === Infinity) return false
    this.now = Math.max(this.now, t)
    this.heap.sort((x, y) => x.at - y.at || x.n - y.n)
    while (this.heap.length > 0 && this.heap[0]!.at <= this.now) this.deliver(this.heap.shift()!)
    for (const ep of [this.a, this.b]) {
      const pt = ep.conn?.pollTimeout()
      if (pt !== undefined && pt <= this.now) ep.conn!.handleTimeout(this.now)
    }
    for (const ep of [this.a, this.b]) ep.pump(this.now)
    return true
  }

  /** Steps until `done()` holds or `maxSteps` pass; returns whether `done()` held. */
  run (done: () => boolean, maxSteps = 2_000_000): boolean {
    for (let i = 0; i < maxSteps; i++) {
      if (done()) return true
      if (!this.step()) return done()
    }
    return done()
  }

  /** Runs for `ms` of virtual time (or until nothing is scheduled). */
  runFor (ms: number, maxSteps = 2_000_000): void {
    const end = this.now + ms
    this.run(() => this.now >= end, maxSteps)
  }

  private transmit (ep: Endpoint): void {
    ep.pump(this.now)
    const c = ep.conn
    if (c === undefined) return
    const other = ep === this.a ? this.b : this.a
    for (const bytes of c.pollTransmit(this.now)) {
      this.sent[ep.name]++
      if (this.rand() < (this.link.loss ?? 0)) continue
      if (!this.filter(ep, decodePacket(bytes), bytes)) continue
      const copies = this.rand() < (this.link.dup ?? 0) ? 2 : 1
      for (let i = 0; i < copies; i++) {
        const at = this.now + (this.link.delayMs ?? 10) + this.rand() * (this.link.jitterMs ?? 0)
        this.heap.push({ at, n: this.n++, to: other, bytes })
      }
    }
    ep.pump(this.now)
  }

  private deliver (d: Delivery): void {
    let pkt: StreamPacket
    try { pkt = decodePacket(d.bytes) } catch { d.to.malformed++; return }
    const ep = d.to
    if (ep.conn === undefined) {
      if (ep === this.b && pkt.syn && pkt.ack === undefined) ep.conn = Connection.accept(pkt, { ...ep.opts, localId: this.bId, now: this.now })
      return
    }
    if (ep.conn.phase === 'closed' && !pkt.rst && pkt.sendStreamId !== 0) { // forgotten: answer as a manager would
      const f = ep.conn.farewell
      const answer = f !== undefined
        ? packet({ sendStreamId: f.remoteId, recvStreamId: pkt.sendStreamId, seq: f.seq, ack: f.ack })
        : packet({ sendStreamId: pkt.recvStreamId, recvStreamId: pkt.sendStreamId, rst: true })
      this.heap.push({ at: this.now + (this.link.delayMs ?? 10), n: this.n++, to: ep === this.a ? this.b : this.a, bytes: encodePacket(answer) })
      return
    }
    ep.conn.handlePacket(pkt, this.now)
  }
}
