/**
 * Test fixture: StreamManagers joined by an in-process message service on the real event loop.
 * Each message is delivered after a small random delay (setTimeout) or, with no delay, in the
 * next batch (one setImmediate for everything sent in a turn); some are lost. Seeded PRNG.
 * A peer can be made a black hole (everything sent to it vanishes).
 */
import { createHash } from 'node:crypto'
import { finished } from 'node:stream'
import { StreamManager, type StreamManagerOptions } from '../../src/streaming/manager.ts'
import type { StreamSocket } from '../../src/streaming/socket.ts'
import { systemClock } from '../../src/util/clock.ts'
import { prng } from '../fixtures/prng.ts'

/** The message service's behaviour. */
export interface NetOptions {
  seed?: number
  /** Probability a message is lost. */
  loss?: number
  /** Largest random delay (ms); 0 delivers in the next setImmediate batch. */
  maxDelayMs?: number
}

type Msg = [to: string, from: string, fromPort: number, toPort: number, data: Uint8Array]

/** Managers by name, and the service between them (see module doc). */
export class TestNet {
  readonly managers = new Map<string, StreamManager>()
  readonly blackHoles = new Set<string>()
  sent = 0
  /** Sees every message handed to the service (before loss). */
  onSend: (to: string, from: string, fromPort: number, toPort: number, data: Uint8Array) => void = () => {}
  private readonly rand: () => number
  private batch: Msg[] = []
  /** The managers' timers are unref'd (a router has sockets keeping it alive); this stands in for those. */
  private readonly keepAlive = setInterval(() => {}, 60_000)

  constructor (private readonly opts: NetOptions = {}) {
    this.rand = prng(opts.seed ?? 1)
  }

  /** A new manager named `name`. */
  add (name: string, opts: Partial<StreamManagerOptions> = {}): StreamManager {
    const m = new StreamManager({
      clock: systemClock,
      send: (to, _protocol, fromPort, toPort, data) => { this.send([to, name, fromPort, toPort, data]) },
      ...opts
    })
    this.managers.set(name, m)
    return m
  }

  private send (msg: Msg): void {
    this.sent++
    this.onSend(...msg)
    if (this.blackHoles.has(msg[0]) || this.rand() < (this.opts.loss ?? 0)) return
    const max = this.opts.maxDelayMs ?? 0
    if (max > 0) {
      setTimeout(() => this.deliver(msg), this.rand() * max)
      return
    }
    this.batch.push(msg)
    if (this.batch.length === 1) setImmediate(() => this.flush())
  }

  private flush (): void {
    const b = this.batch
    this.batch = []
    for (const m of b) this.deliver(m)
  }

  private deliver ([to, from, fromPort, toPort, data]: Msg): void {
    this.managers.get(to)?.receive(from, fromPort, toPort, data)
  }

  /** Closes every manager and lets the process exit. */
  async closeAll (): Promise<void> {
    for (const m of this.managers.values()) await m.close()
    clearInterval(this.keepAlive)
  }
}

/** A deterministic byte source: `total` bytes in `chunk`-sized buffers, and their SHA-256. */
export function* pattern (total: number, seed: number, chunk = 64 * 1024): Generator<Buffer> {
  const r = prng(seed)
  const block = Buffer.alloc(chunk + 13)
  for (let i = 0; i < block.length; i++) block[i] = Math.floor(r() * 256)
  for (let off = 0; off < total; off += chunk) {
    const n = Math.min(chunk, total - off)
    const start = (off / chunk) % 13
    yield block.subarray(start, start + n)
  }
}

/** SHA-256 of the bytes `pattern(total, seed)` yields. */
export function patternHash (total: number, seed: number): string {
  const h = createHash('sha256')
  for (const b of pattern(total, seed)) h.update(b)
  return h.digest('hex')
}

/** Writes `pattern(total, seed)` to `s` honouring backpressure, then ends it; rejects with the socket's error. */
export async function writeAll (s: StreamSocket, total: number, seed: number): Promise<void> {
  for (const b of pattern(total, seed)) {
    if (s.destroyed) throw s.errored ?? new Error('socket destroyed')
    if (!s.write(b)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => { s.off('close', onClose); resolve() }
        const onClose = (): void => { s.off('drain', onDrain); reject(s.errored ?? new Error('socket closed')) }
        s.once('drain', onDrain)
        s.once('close', onClose)
      })
    }
  }
  s.end()
  await new Promise<void>((resolve, reject) => {
    finished(s, { readable: false }, err => { if (err === undefined || err === null) resolve(); else reject(err) })
  })
}

/** Reads `s` to its end; resolves with the byte count and SHA-256. */
export async function readAll (s: StreamSocket): Promise<{ bytes: number, sha256: string }> {
  const h = createHash('sha256')
  let bytes = 0
  for await (const chunk of s.iterator({ destroyOnReturn: false })) { // ending the read side must not destroy the write side
    h.update(chunk as Buffer)
    bytes += (chunk as Buffer).length
  }
  return { bytes, sha256: h.digest('hex') }
}
