/**
 * The stream driver: owns the Connections of one destination, routes received packets to them
 * by stream ID, hands their packets to `send` (all that `pollTransmit` returns, in one go) and
 * runs one unref'd timer per connection, re-armed from `pollTimeout`. Opens streams (`connect`),
 * accepts them on ports (`listen`), refuses SYNs nobody listens for and answers packets for
 * unknown streams with a RST (both rate-limited), and enforces the stream and buffer limits.
 * It knows nothing of tunnels: the router passes protocol-6 messages to `receive`.
 */
import { randomInt } from 'node:crypto'
import { raceSignal, throwIfAborted } from '../util/abort.ts'
import type { Clock } from '../util/clock.ts'
import { ClosedError, ConfigError, LimitError } from '../util/errors.ts'
import { Connection } from './connection.ts'
import { Driver, type DriverHost } from './driver.ts'
import { decodePacket, encodePacket, packet, type StreamPacket } from './packet.ts'
import { resolveOptions, STREAM_DEFAULTS, type StreamOptions } from './options.ts'
import { Protocol } from './protocol.ts'
import { TokenBucket } from '../util/token-bucket.ts'
import type { SocketInfo, StreamSocket } from './socket.ts'
import { resolveLimits, type ConnectOptions, type PeerKey, type SendFn, type StreamLimits, type StreamManagerOptions, type StreamManagerStats } from './manager-options.ts'
import { ExpiringMap } from './expiring-map.ts'

export type { ConnectOptions, PeerKey, SendFn, StreamLimits, StreamManagerOptions, StreamManagerStats } from './manager-options.ts'

/** How long the manager remembers a forgotten stream (stale SYNs ignored, FINs re-acknowledged). */
const FORGOTTEN_TTL_MS = 120_000

/** What is left of a cleanly closed stream: enough to acknowledge its peer's FIN again. */
interface Farewell { remote: PeerKey, remoteId: number, seq: number, ack: number, ourPort: number, peerPort: number }

/** Streams of one destination over an unreliable message service (see module doc). */
export class StreamManager {
  private readonly clock: Clock
  private readonly sendFn: SendFn
  private readonly limits: Required<StreamLimits>
  private readonly streamOpts: StreamOptions
  private readonly randomId: () => number
  private readonly byLocal = new Map<number, Driver>()
  private readonly byRemote = new Map<string, Driver>()
  private readonly perPeer = new Map<PeerKey, number>()
  private readonly listeners = new Map<number | 'any', (s: StreamSocket) => void>()
  private readonly rstBucket: TokenBucket | undefined
  private readonly dirty = new Set<Driver>()
  /** Accepted streams recently forgotten, by remote key: their SYNs, if they come again, are stale. */
  private readonly forgotten: ExpiringMap<string, true>
  /** Streams that closed cleanly, by local ID: a retransmitted FIN still gets its ACK (time-wait records). */
  private readonly farewells: ExpiringMap<number, Farewell>
  private flushQueued = false
  private closed = false
  private pending = 0
  /** What the drivers see of the manager. */
  private readonly host: DriverHost
  private readonly counters = { packetsIn: 0, packetsOut: 0, malformed: 0, unroutable: 0, refused: 0, rstSent: 0, rstSuppressed: 0, accepted: 0 }

  /** Throws ConfigError on bad options or limits. */
  constructor (opts: StreamManagerOptions) {
    this.clock = opts.clock
    this.sendFn = opts.send
    this.host = {
      clock: opts.clock,
      transmit: (d, pkts) => { this.transmit(d, pkts) },
      schedule: (d) => { this.schedule(d) },
      serviced: (d) => { this.serviced(d) }
    }
    this.limits = resolveLimits(opts.limits)
    const buf = this.limits.maxBufferedBytes
    this.streamOpts = { ...opts.stream, mss: opts.mss ?? STREAM_DEFAULTS.mss, sendBufferBytes: buf, recvWindowBytes: buf }
    resolveOptions(this.streamOpts) // throws ConfigError now rather than on the first stream
    this.randomId = opts.randomId ?? (() => randomInt(1, 0x1_0000_0000))
    this.forgotten = new ExpiringMap(this.limits.maxStreams, FORGOTTEN_TTL_MS)
    this.farewells = new ExpiringMap(this.limits.maxStreams, FORGOTTEN_TTL_MS)
    // rstPerSecond 0: no RSTs at all.
    this.rstBucket = this.limits.rstPerSecond > 0 ? new TokenBucket(this.limits.rstPerSecond, 2 * this.limits.rstPerSecond, opts.clock.now()) : undefined
  }

  /** Counters and current sizes. */
  get stats (): StreamManagerStats {
    return { streams: this.byLocal.size, pendingAccepts: this.pending, listeners: this.listeners.size, ...this.counters }
  }

  /**
   * Opens a stream to `to`. Resolves once the peer acknowledged our SYN; rejects with
   * ConnectionRefusedError (no listener there, or it is full), TimeoutError (no answer within
   * `timeoutMs`), AbortError, LimitError (our own stream limits) or ClosedError.
   */
  async connect (to: PeerKey, opts: ConnectOptions = {}): Promise<StreamSocket> {
    throwIfAborted(opts.signal)
    if (this.closed) throw new ClosedError('streams: manager closed')
    const fromPort = port(opts.fromPort ?? 0)
    const toPort = port(opts.toPort ?? 0)
    this.checkRoom(to, false)
    const now = this.clock.now()
    const localId = this.newId()
    const timeout = opts.timeoutMs === undefined ? {} : { connectTimeoutMs: opts.timeoutMs }
    const conn = Connection.connect({ ...this.streamOpts, ...timeout, localId, now })
    const e = this.register(conn, to, fromPort, toPort, undefined, { remote: to, fromPort, toPort, initiator: true })
    const done = new Promise<StreamSocket>((resolve, reject) => { e.connecting = { resolve, reject } })
    if (opts.data !== undefined && opts.data.length > 0) e.socket.write(opts.data)
    this.schedule(e)
    return await raceSignal(done, opts.signal, () => { e.connecting = undefined; e.socket.destroy() })
  }

  /**
   * Accepts streams addressed to `port` (or to any port without its own listener: 'any').
   * `onStream` gets each socket as its SYN arrives (attach an 'error' listener). Returns a
   * function that stops listening. Throws ConfigError if the port already has a listener.
   */
  listen (p: number | 'any', onStream: (s: StreamSocket) => void): () => void {
    const key = p === 'any' ? 'any' : port(p)
    if (this.listeners.has(key)) throw new ConfigError(`streams: port ${key} already has a listener`)
    if (this.closed) throw new ClosedError('streams: manager closed')
    this.listeners.set(key, onStream)
    return () => { if (this.listeners.get(key) === onStream) this.listeners.delete(key) }
  }

  /** Takes one protocol-6 message from `from` (the manager keeps `data`: do not reuse it). */
  receive (from: PeerKey, fromPort: number, toPort: number, data: Uint8Array): void {
    if (this.closed) return
    this.counters.packetsIn++
    let pkt: StreamPacket
    try {
      pkt = decodePacket(data)
    } catch {
      this.counters.malformed++
      return
    }
    const now = this.clock.now()
    let e = pkt.sendStreamId !== 0 ? this.byLocal.get(pkt.sendStreamId) : this.byRemote.get(remoteKey(from, pkt.recvStreamId))
    if (e !== undefined && e.remote !== from) e = undefined
    if (e !== undefined) {
      e.conn.handlePacket(pkt, now)
      this.schedule(e)
    } else if (pkt.sendStreamId === 0 && pkt.syn && this.forgotten.get(remoteKey(from, pkt.recvStreamId), now) === undefined) {
      this.accept(from, fromPort, toPort, pkt, now)
    } else if (pkt.sendStreamId !== 0 && !pkt.rst) {
      const f = this.farewells.get(pkt.sendStreamId, now)
      if (f !== undefined && f.remote === from && f.remoteId === pkt.recvStreamId) this.sendFarewell(pkt.sendStreamId, f, now)
      else this.sendRst(from, toPort, fromPort, pkt.recvStreamId, pkt.sendStreamId, now)
    } else {
      this.counters.unroutable++ // RSTs, data racing a lost SYN, stale SYNs
    }
  }

  /** Resets every stream (sockets fail with ClosedError), stops listening and drops timers. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.listeners.clear()
    const now = this.clock.now()
    for (const e of [...this.byLocal.values()]) {
      e.conn.reset(now, new ClosedError('streams: manager closed'))
      e.service()
      this.remove(e)
    }
  }

  private accept (from: PeerKey, fromPort: number, toPort: number, syn: StreamPacket, now: number): void {
    const listener = this.listeners.get(toPort) ?? this.listeners.get('any')
    if (listener === undefined || !this.checkRoom(from, true)) {
      this.counters.refused++
      this.sendRst(from, toPort, fromPort, syn.recvStreamId, 0, now)
      return
    }
    const conn = Connection.accept(syn, { ...this.streamOpts, localId: this.newId(), now })
    const e = this.register(conn, from, toPort, fromPort, remoteKey(from, syn.recvStreamId), { remote: from, fromPort, toPort, initiator: false })
    e.pendingAccept = true
    this.pending++
    this.counters.accepted++
    try {
      listener(e.socket)
    } catch {
      e.socket.destroy()
    }
    this.schedule(e)
  }

  /** Whether one more stream with `peer` fits; throws LimitError instead unless `quiet`. */
  private checkRoom (peer: PeerKey, quiet: boolean): boolean {
    const l = this.limits
    let why: string | undefined
    if (this.byLocal.size >= l.maxStreams) why = `${l.maxStreams} streams open`
    else if ((this.perPeer.get(peer) ?? 0) >= l.maxStreamsPerPeer) why = `${l.maxStreamsPerPeer} streams open with this peer`
    else if (quiet && this.pending >= l.maxPendingAccepts) why = `${l.maxPendingAccepts} handshakes pending`
    if (why === undefined) return true
    if (quiet) return false
    throw new LimitError(`streams: ${why}`)
  }

  private newId (): number {
    for (let i = 0; i < 64; i++) {
      const id = this.randomId()
      if (id >= 1 && id <= 0xffff_ffff && !this.byLocal.has(id) && this.farewells.get(id, this.clock.now()) === undefined) return id
    }
    throw new LimitError('streams: no free stream ID')
  }

  private register (conn: Connection, remote: PeerKey, ourPort: number, peerPort: number, rkey: string | undefined, info: SocketInfo): Driver {
    const d = new Driver(conn, remote, ourPort, peerPort, rkey, info, this.host)
    this.byLocal.set(conn.localId, d)
    if (rkey !== undefined) this.byRemote.set(rkey, d)
    this.perPeer.set(remote, (this.perPeer.get(remote) ?? 0) + 1)
    return d
  }

  private remove (d: Driver): void {
    if (d.stopped) return
    d.stop()
    this.dirty.delete(d)
    this.byLocal.delete(d.conn.localId)
    if (d.remoteKey !== undefined) {
      this.byRemote.delete(d.remoteKey)
      this.forgotten.set(d.remoteKey, true, this.clock.now())
    }
    const f = d.conn.farewell
    if (f !== undefined) this.farewells.set(d.conn.localId, { ...f, remote: d.remote, ourPort: d.ourPort, peerPort: d.peerPort }, this.clock.now())
    const n = (this.perPeer.get(d.remote) ?? 1) - 1
    if (n > 0) this.perPeer.set(d.remote, n)
    else this.perPeer.delete(d.remote)
    if (d.pendingAccept) { d.pendingAccept = false; this.pending-- }
  }

  /** Services `d` soon (once per microtask turn, however often it is kicked). */
  private schedule (d: Driver): void {
    if (d.stopped) return
    this.dirty.add(d)
    if (this.flushQueued) return
    this.flushQueued = true
    queueMicrotask(() => {
      this.flushQueued = false
      const batch = [...this.dirty]
      this.dirty.clear()
      for (const x of batch) x.service()
    })
  }

  /** Sends a connection's packets. */
  private transmit (d: Driver, packets: Uint8Array[]): void {
    for (const p of packets) this.sendFn(d.remote, Protocol.STREAMING, d.ourPort, d.peerPort, p)
    this.counters.packetsOut += packets.length
  }

  /** After each service: counts a completed handshake, forgets a finished stream. */
  private serviced (d: Driver): void {
    if (d.pendingAccept && d.conn.phase !== 'syn-received') { d.pendingAccept = false; this.pending-- }
    if (d.conn.done) this.remove(d)
  }

  /** Acknowledges, for a stream already forgotten, everything it had received (its peer lost our last ACK). */
  private sendFarewell (localId: number, f: Farewell, now: number): void {
    if (this.rstBucket?.take(1, now) !== true) { this.counters.rstSuppressed++; return }
    this.counters.packetsOut++
    this.sendFn(f.remote, Protocol.STREAMING, f.ourPort, f.peerPort, encodePacket(packet({ sendStreamId: f.remoteId, recvStreamId: localId, seq: f.seq, ack: f.ack })))
  }

  private sendRst (to: PeerKey, ourPort: number, peerPort: number, sendStreamId: number, recvStreamId: number, now: number): void {
    if (sendStreamId === 0) { this.counters.unroutable++; return }
    if (this.rstBucket?.take(1, now) !== true) { this.counters.rstSuppressed++; return }
    this.counters.rstSent++
    this.counters.packetsOut++
    this.sendFn(to, Protocol.STREAMING, ourPort, peerPort, encodePacket(packet({ sendStreamId, recvStreamId, rst: true })))
  }
}

function remoteKey (peer: PeerKey, id: number): string { return `${peer}/${id}` }

function port (p: number): number {
  if (!Number.isInteger(p) || p < 0 || p > 65535) throw new ConfigError(`streams: port ${p} is not in 0..65535`)
  return p
}
