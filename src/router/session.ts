/**
 * A destination session: one local destination living on this router, and the typed API the
 * SAM bridge sits on. It owns the destination's tunnel pool, its garlic (end-to-end) state and
 * its stream manager, publishes its LeaseSet whenever its inbound tunnels change, and moves
 * application messages ("cloves": protocol, ports, data) between destinations: out through one
 * of its outbound tunnels to a lease of the remote's LeaseSet, in from its inbound tunnels.
 * The remote's LeaseSet comes bundled in its messages or from a netDb lookup; ours is bundled
 * whenever the remote may not have the current one. A message to another destination of the
 * same router never leaves it: it is handed over inside the router, with no garlic and no
 * tunnel (as I2P delivers between local destinations). Clove layout: `docs/sessions.md`.
 */
import type { CryptoSuite } from '../crypto/types.ts'
import {
  b32Address, destinationHash, isB32Address, parseB32Address, parseDestination, generateDestination,
  type Destination, type DestinationKeys
} from '../identity/destination.ts'
import { MAX_LEASE_SET_BYTES, parseLeaseSet, signLeaseSet, verifyLeaseSet, type LeaseSet, type Lease } from '../identity/lease-set.ts'
import type { Verified } from '../identity/verified.ts'
import type { NetDb } from '../netdb/netdb.ts'
import { Garlic } from '../garlic/garlic.ts'
import { StreamManager } from '../streaming/manager.ts'
import type { StreamSocket } from '../streaming/socket.ts'
import { decodeRepliable, encodeRepliable, REPLIABLE_OVERHEAD } from '../streaming/datagram.ts'
import { Protocol } from '../streaming/protocol.ts'
import { DeliveryKind, deliveryOverhead, encodeTunnelMessage } from '../tunnel/delivery.ts'
import { MAX_FRAGMENT_DATA } from '../tunnel/fragment.ts'
import { ANON_OVERHEAD, ES_OVERHEAD, NS_OVERHEAD } from '../garlic/layout.ts'
import { MAX_GATEWAY_MESSAGE } from '../tunnel/messages.ts'
import { HEADER_BYTES as STREAM_HEADER_BYTES } from '../streaming/packet.ts'
import type { TunnelManager } from '../tunnel/manager.ts'
import { TunnelPool, type PoolDeps, type PoolSettings } from '../tunnel/pool.ts'
import { pickOne } from '../util/random.ts'
import type { OutboundTunnel } from '../tunnel/tunnel.ts'
import type { Clock } from '../util/clock.ts'
import type { Logger } from '../util/log.ts'
import { toHex } from '../util/bytes.ts'
import { ConfigError, DecodeError, LimitError, NotFoundError, UmbraError } from '../util/errors.ts'
import { CLOVE_HEADER, decodeClove, encodeClove } from './clove.ts'
import { SendPacer } from './send-pacer.ts'
import { LocalInbox } from './local-inbox.ts'

/** A datagram that arrived at a destination. */
export interface Datagram {
  /** The sender (repliable datagrams); undefined for raw ones. */
  from?: Destination
  protocol: number
  fromPort: number
  toPort: number
  payload: Uint8Array
}

/** How to send a datagram. */
export interface DatagramOptions { fromPort?: number, toPort?: number, /** Raw: anonymous, not repliable, not signed. */ raw?: boolean, /** Protocol number for raw datagrams (default 18). */ protocol?: number }

interface Remote {
  dest: Destination
  leaseSet?: Verified<LeaseSet>
  lease?: Lease
  out?: OutboundTunnel
  /** When we last bundled our LeaseSet (monotonic ms) and which one. */
  sentLs: number
  sentLsAt: number
  /** When we last heard from it, and last changed path because we did not (monotonic ms). */
  heard: number
  rerouted: number
}

/** What a session needs from its router. */
export interface SessionDeps {
  crypto: CryptoSuite
  clock: Clock
  log: Logger
  netdb: NetDb
  tunnels: TunnelManager
  pool: Omit<PoolDeps, 'manager' | 'clock' | 'log'>
  /**
   * The live destination of this router with this hash (hex) that takes local delivery, if
   * any: messages to it are handed over inside the router. Without it, every message goes
   * through tunnels.
   */
  localDestination?: (hashHex: string) => DestinationSession | undefined
}

/** Options of {@link DestinationSession}. */
export interface SessionOptions {
  /** The destination's keys; default: a new transient destination. */
  keys?: DestinationKeys
  /** The tunnel pool's shape. */
  pool: PoolSettings
  /** Largest stream packet payload (default: what fills {@link STREAM_PACKET_CELLS} cells, {@link defaultMss}). */
  mss?: number
  /** Send buffer and receive window of each stream (default 1 MiB: tunnel round trips under load are tens of ms). */
  streamWindowBytes?: number
  /**
   * Poisson sending (cover, `send-pacer.ts`): outbound messages go one per slot of a Poisson
   * clock of this many slots per second, each through a random outbound tunnel, with a loop as
   * a dummy in every empty slot. Caps what the destination sends at this many messages per
   * second. 0 (default) sends at once.
   */
  sendRate?: number
  /**
   * Whether messages between this destination and other destinations of the same router are
   * handed over inside it (default true, docs/sessions.md). false sends them through tunnels
   * both ways, so their round trips do not tell an application that the two share a router.
   */
  localDelivery?: boolean
}

/** A message waiting for its slot (Poisson sending). */
interface Paced { router: Uint8Array, tunnelId: number, garlic: Uint8Array }

/** A message from another destination of this router, waiting for the next turn. */
interface LocalMessage {
  /** The sender's hash (hex) and destination as the receiver sees them: undefined for a raw datagram. */
  fromHex: string | undefined
  from: Destination | undefined
  protocol: number
  fromPort: number
  toPort: number
  data: Uint8Array
}

const MAX_REMOTES = 4096
const LS_RESEND_MS = 30_000
/**
 * Sending for this long without hearing back means the path may be broken: a hop of our
 * outbound tunnel or of the remote's inbound tunnel died. We then switch lease and tunnel, look
 * up the remote's LeaseSet again (it republishes when its tunnels change) and restart the garlic
 * session, at most once per this interval.
 */
const STALL_MS = 2000
/** Poisson sending: messages waiting for slots at most, and at least this many seconds of slots. */
const PACER_MIN_QUEUE = 64
const PACER_QUEUE_SECONDS = 2
/**
 * Messages, and bytes, from other destinations of this router waiting to be delivered, at
 * most; more are dropped, as a full tunnel would drop them. One sender may hold a quarter of
 * either, so a flood from one cannot crowd out the others. A stream sends at most its window
 * per turn (1 MiB by default), so only many streams at once or a flood of datagrams reach it.
 */
export const MAX_LOCAL_INBOX = 4096
export const MAX_LOCAL_INBOX_BYTES = 16 * 1024 * 1024
export const LOCAL_SENDER_SHARE = 0.25
/** Messages from other destinations of this router delivered per turn at most; the rest wait for the next. */
export const LOCAL_PER_TURN = 256
/** Stream retransmission bounds for tunnel paths (see the constructor). */
export const STREAM_MAX_RTO_MS = 3000
export const STREAM_MAX_RETRANSMITS = 12

/** One local destination (see module doc). */
export class DestinationSession {
  readonly keys: DestinationKeys
  /** `<52 chars>.b32.umbra` */
  readonly address: string
  /** The destination hash, and in hex. */
  readonly hash: Uint8Array
  readonly hashHex: string
  readonly pool: TunnelPool
  readonly garlic: Garlic
  readonly streams: StreamManager
  /** Poisson sending, when on (`SessionOptions.sendRate`). */
  readonly pacer: SendPacer<Paced> | undefined
  /** A datagram arrived. */
  onDatagram: (d: Datagram) => void = () => {}
  /** Whether messages to and from other destinations of this router are handed over inside it (`SessionOptions.localDelivery`). */
  readonly localDelivery: boolean
  /** Counters. */
  readonly stats = { sent: 0, received: 0, dropped: 0, lookups: 0, leaseSetsPublished: 0, /** Of `sent`: handed to another destination of this router. */ local: 0 }

  private readonly remotes = new Map<string, Remote>()
  private readonly lookups = new Map<string, Promise<Remote>>()
  private leaseSet: Verified<LeaseSet> | undefined
  private publishTimer: NodeJS.Timeout | undefined
  private tickTimer: NodeJS.Timeout | undefined
  private closed = false
  private ready = false
  /** Messages from other destinations of this router, delivered on the next turn. */
  private readonly localInbox = new LocalInbox<LocalMessage>({ maxMessages: MAX_LOCAL_INBOX, maxBytes: MAX_LOCAL_INBOX_BYTES, senderShare: LOCAL_SENDER_SHARE })
  private localTurn: NodeJS.Immediate | undefined

  constructor (private readonly deps: SessionDeps, opts: SessionOptions) {
    const crypto = deps.crypto
    this.keys = opts.keys ?? generateDestination(crypto)
    this.localDelivery = opts.localDelivery ?? true
    this.address = b32Address(crypto, this.keys.destination.bytes)
    this.hash = destinationHash(crypto, this.keys.destination.bytes)
    this.hashHex = toHex(this.hash)
    this.garlic = new Garlic(crypto, this.keys)
    this.pool = new TunnelPool({ ...deps.pool, manager: deps.tunnels, clock: deps.clock, log: deps.log }, opts.pool, this.address.slice(0, 8))
    this.pool.onMessage = (data) => { this.receive(data) }
    this.pool.onInboundChange = () => { this.schedulePublish() }
    const rate = opts.sendRate ?? 0
    if (rate > 0) {
      this.pacer = new SendPacer<Paced>(rate, Math.max(PACER_MIN_QUEUE, Math.ceil(rate * PACER_QUEUE_SECONDS)), deps.pool.random,
        (m) => { this.sendPaced(m) }, () => this.pool.coverLoop())
    }
    this.streams = new StreamManager({
      clock: deps.clock,
      mss: opts.mss ?? (opts.pool.length === 0 ? zeroHopMss() : defaultMss()),
      limits: { maxBufferedBytes: opts.streamWindowBytes ?? 1024 * 1024 },
      // A retransmission at least every 3 s, so a stream resumes within seconds once its
      // tunnels are rebuilt; 12 timeouts in a row (about 30 s without any path) fail it.
      stream: { maxRtoMs: STREAM_MAX_RTO_MS, maxRetransmits: STREAM_MAX_RETRANSMITS },
      send: (to, protocol, fromPort, toPort, data) => { this.sendClove(to, protocol, fromPort, toPort, data) }
    })
  }

  /** The public destination. */
  get destination (): Destination { return this.keys.destination }

  /** Whether {@link start} has finished (tunnels ready both ways, LeaseSet out). */
  get started (): boolean { return this.ready }

  /** Whether {@link close} was called. */
  get isClosed (): boolean { return this.closed }

  /** Starts the tunnel pool; resolves once tunnels are ready both ways and the LeaseSet is out. */
  async start (signal?: AbortSignal): Promise<void> {
    this.pool.start()
    this.tickTimer = setInterval(() => { this.garlic.tick(this.deps.clock.wall()) }, 10_000)
    this.tickTimer.unref()
    await this.pool.ready(signal)
    this.pacer?.start()
    await this.publish().catch((err: unknown) => {
      // Stored here already; the netDb republishes it, so an unreachable storer is not fatal.
      this.deps.log.warn('LeaseSet not stored at every closest router', { dest: this.address, err: String(err) })
    })
    this.ready = true
  }

  // ---- the typed API ----

  /** Opens a stream to `to` (a b32 address, a base64 destination, or a Destination). */
  async connect (to: string | Destination, opts: { fromPort?: number, toPort?: number, signal?: AbortSignal, timeoutMs?: number } = {}): Promise<StreamSocket> {
    const remote = await this.resolve(to, opts.signal)
    return await this.streams.connect(remote, opts)
  }

  /** Accepts streams on `port` ('any' for all ports); returns a function that stops listening. */
  listen (port: number | 'any', onStream: (s: StreamSocket) => void): () => void {
    return this.streams.listen(port, onStream)
  }

  /** Sends a datagram (repliable and signed by default; `raw` for anonymous ones). */
  async sendDatagram (to: string | Destination, payload: Uint8Array, opts: DatagramOptions = {}): Promise<void> {
    const protocol = opts.protocol ?? Protocol.RAW
    // A raw datagram under the streaming or repliable number would only be dropped at the other end.
    if (opts.raw === true && (protocol === Protocol.STREAMING || protocol === Protocol.REPLIABLE)) {
      throw new ConfigError(`protocol ${protocol} is reserved: raw datagrams may not use it`)
    }
    const max = maxDatagramPayload(opts.raw === true)
    if (payload.length > max) {
      throw new LimitError(`datagram of ${payload.length} bytes: a ${opts.raw === true ? 'raw' : 'repliable'} datagram through tunnels holds at most ${max}`)
    }
    const hex = await this.resolve(to)
    if (opts.raw === true) {
      const peer = this.localPeer(hex)
      if (peer !== undefined) { this.sendLocal(peer, true, protocol, opts.fromPort ?? 0, opts.toPort ?? 0, payload); return }
      const r = this.remotes.get(hex)!
      this.dispatch(hex, r, this.garlic.sealAnonymous(r.dest, encodeClove(protocol, opts.fromPort ?? 0, opts.toPort ?? 0, payload)))
      return
    }
    const signed = encodeRepliable(this.deps.crypto, this.keys, Buffer.from(hex, 'hex'), payload)
    this.sendClove(hex, Protocol.REPLIABLE, opts.fromPort ?? 0, opts.toPort ?? 0, signed)
  }

  /** The destination named by `name` (b32 or base64), via the netDb when needed. */
  async lookup (name: string, signal?: AbortSignal): Promise<Destination> {
    const hex = await this.resolve(name, signal)
    return this.remotes.get(hex)!.dest
  }

  /** The destination of a remote we have heard from, by its key (a stream's `remote`). */
  remoteDestination (key: string): Destination | undefined {
    return this.remotes.get(key)?.dest
  }

  /** The remote key (destination hash hex) of `to`, with its LeaseSet fetched if unknown. */
  private async resolve (to: string | Destination, signal?: AbortSignal): Promise<string> {
    let hash: Uint8Array
    let dest: Destination | undefined
    if (typeof to !== 'string') { dest = to; hash = destinationHash(this.deps.crypto, to.bytes) } else if (isB32Address(to)) {
      hash = parseB32Address(to)
    } else {
      dest = parseDestination(to)
      hash = destinationHash(this.deps.crypto, dest.bytes)
    }
    const hex = toHex(hash)
    const peer = this.localPeer(hex)
    if (peer !== undefined) { this.remember(hex, peer.destination); return hex }
    const known = this.remotes.get(hex)
    if (known?.lease !== undefined && known.lease.end > this.deps.clock.wall()) return hex
    await this.fetchLeaseSet(hex, false, signal)
    return hex
  }

  /**
   * Looks the LeaseSet of remote `hex` up (one lookup per remote at a time) and learns it.
   * `fresh` asks the network even when the netDb holds one: that one may name dead tunnels.
   */
  private async fetchLeaseSet (hex: string, fresh: boolean, signal?: AbortSignal): Promise<Remote> {
    let p = this.lookups.get(hex)
    if (p === undefined) {
      this.stats.lookups++
      const key = Buffer.from(hex, 'hex')
      const found = fresh ? this.deps.netdb.refreshLeaseSet(key, signal) : this.deps.netdb.findLeaseSet(key, signal)
      p = found.then(ls => this.learn(ls)).finally(() => { this.lookups.delete(hex) })
      this.lookups.set(hex, p)
    }
    return await p
  }

  // ---- sending ----

  private sendClove (to: string, protocol: number, fromPort: number, toPort: number, data: Uint8Array): void {
    const peer = this.localPeer(to)
    if (peer !== undefined) { this.sendLocal(peer, false, protocol, fromPort, toPort, data); return }
    const r = this.remotes.get(to)
    if (r === undefined) { this.stats.dropped++; return }
    const now = this.deps.clock.now()
    const wall = this.deps.clock.wall()
    const ls = this.leaseSet
    // Bundle our LeaseSet when it changed, every 30 s, and again every 500 ms while the remote
    // has not answered since we last bundled it (that message may have been lost).
    const bundle = ls !== undefined && (r.sentLs !== ls.published || now - r.sentLsAt > LS_RESEND_MS ||
      (r.heard < r.sentLsAt && now - r.sentLsAt > 500))
    if (bundle) { r.sentLs = ls.published; r.sentLsAt = now }
    const clove = encodeClove(protocol, fromPort, toPort, data)
    this.dispatch(to, r, this.garlic.seal(r.dest, clove, wall, bundle ? ls.raw : undefined))
  }

  /** Sends a garlic message to the remote's current lease through one of our outbound tunnels. */
  private dispatch (hex: string, r: Remote, garlic: Uint8Array): void {
    if (this.closed) return
    const now = this.deps.clock.now()
    if (now - r.heard > STALL_MS && now - r.rerouted > STALL_MS) this.reroute(hex, r, now)
    const lease = this.leaseFor(r)
    if (r.out === undefined || !this.pool.outbound.includes(r.out)) r.out = this.pool.pickOutbound()
    if (lease === undefined || r.out === undefined) {
      this.stats.dropped++
      if (lease === undefined) this.fetchLeaseSet(hex, true).catch(() => {})
      return
    }
    this.pool.noteSent(garlic.length)
    if (this.pacer !== undefined) {
      if (!this.pacer.offer({ router: lease.gateway, tunnelId: lease.tunnelId, garlic })) this.stats.dropped++
      return
    }
    this.stats.sent++
    this.sendVia(r.out, lease.gateway, lease.tunnelId, garlic)
  }

  /**
   * A message's slot came (Poisson sending): it goes through a random live outbound tunnel, so
   * that each tunnel's first hop sees the same share of slots whatever the user does.
   */
  private sendPaced (m: Paced): void {
    const out = this.pool.pickOutbound()
    if (out === undefined || this.closed) { this.stats.dropped++; return }
    this.stats.sent++
    this.sendVia(out, m.router, m.tunnelId, m.garlic)
  }

  private sendVia (out: OutboundTunnel, router: Uint8Array, tunnelId: number, garlic: Uint8Array): void {
    this.deps.tunnels.sendOut(out, [{
      kind: DeliveryKind.TUNNEL,
      router,
      tunnelId,
      data: encodeTunnelMessage({ kind: DeliveryKind.LOCAL, data: garlic })
    }])
  }

  /** The other live destination of this router that `hex` names, if any. */
  private localPeer (hex: string): DestinationSession | undefined {
    if (!this.localDelivery) return undefined
    const p = this.deps.localDestination?.(hex)
    return p !== undefined && p !== this && !p.closed ? p : undefined
  }

  /**
   * Hands a message to `peer`, another destination of this router: it arrives on a later turn
   * as if it had come through tunnels, with no garlic and no cells. A message that would not
   * always fit a gateway message through tunnels (as a new-session garlic message with the
   * largest LeaseSet bundled, unless anonymous) is dropped, as our outbound endpoint would
   * drop it: what arrives here would arrive at a remote destination too.
   */
  private sendLocal (peer: DestinationSession, anonymous: boolean, protocol: number, fromPort: number, toPort: number, data: Uint8Array): void {
    if (this.closed) return
    if (data.length > maxCloveData(anonymous)) { this.stats.dropped++; return }
    this.stats.sent++
    this.stats.local++
    // A copy: the receiver owns what it is given, as it would own a decrypted message.
    peer.takeLocal(this.hashHex, {
      fromHex: anonymous ? undefined : this.hashHex,
      from: anonymous ? undefined : this.keys.destination,
      protocol, fromPort, toPort, data: data.slice()
    })
  }

  /** A message from `sender`, another destination of this router (see {@link sendLocal}). */
  private takeLocal (sender: string, m: LocalMessage): void {
    if (this.closed || !this.localInbox.offer(sender, m.data.length, m)) { this.stats.dropped++; return }
    this.localTurn ??= setImmediate(() => { this.flushLocal() })
  }

  /**
   * Delivers the oldest {@link LOCAL_PER_TURN} messages from other destinations of this router,
   * in order, and comes back next turn for more. A handler's typed error costs its message only.
   */
  private flushLocal (): void {
    this.localTurn = undefined
    for (const m of this.localInbox.take(LOCAL_PER_TURN)) {
      if (this.closed) return
      this.stats.received++
      try {
        if (m.fromHex !== undefined && m.from !== undefined) this.remember(m.fromHex, m.from).heard = this.deps.clock.now()
        this.deliver(m.fromHex, m.protocol, m.fromPort, m.toPort, m.data)
      } catch (err) {
        if (!(err instanceof UmbraError)) throw err
        this.stats.dropped++
      }
    }
    if (this.localInbox.size > 0) this.localTurn = setImmediate(() => { this.flushLocal() })
  }

  /**
   * Picks another lease and outbound tunnel, fetches the remote's LeaseSet afresh, and starts a
   * new garlic session: after a burst of lost messages the remote may no longer expect any of
   * the session's tags, and only a new-session message resynchronises it.
   */
  private reroute (hex: string, r: Remote, now: number): void {
    r.rerouted = now
    this.garlic.forget(r.dest)
    const old = r.lease
    const wall = this.deps.clock.wall()
    r.lease = pickOne((r.leaseSet?.leases ?? []).filter(l => l.end > wall + 10_000 && l !== old), this.deps.pool.random)
    r.out = pickOne(this.pool.outbound.filter(o => o !== r.out && o.expires > now), this.deps.pool.random) ?? r.out
    this.fetchLeaseSet(hex, true).catch(() => {})
  }

  private leaseFor (r: Remote): Lease | undefined {
    const wall = this.deps.clock.wall()
    if (r.lease !== undefined && r.lease.end > wall + 10_000) return r.lease
    r.lease = pickOne((r.leaseSet?.leases ?? []).filter(l => l.end > wall + 10_000), this.deps.pool.random)
    return r.lease
  }

  // ---- receiving ----

  private receive (data: Uint8Array): void {
    const opened = this.garlic.open(data, this.deps.clock.wall())
    if (opened === undefined) { this.stats.dropped++; return }
    this.stats.received++
    const fromHex = opened.fromId
    if (opened.from !== undefined && fromHex !== undefined) {
      if (opened.leaseSet !== undefined) this.takeBundled(opened.from, opened.leaseSet)
      this.remember(fromHex, opened.from).heard = this.deps.clock.now()
    }
    let clove
    try { clove = decodeClove(opened.payload) } catch { this.stats.dropped++; return }
    this.deliver(fromHex, clove.protocol, clove.fromPort, clove.toPort, clove.data)
  }

  /** Passes an arrived clove to the stream manager or the datagram handler. */
  private deliver (fromHex: string | undefined, protocol: number, fromPort: number, toPort: number, data: Uint8Array): void {
    if (protocol === Protocol.STREAMING) {
      if (fromHex === undefined) { this.stats.dropped++; return }
      this.streams.receive(fromHex, fromPort, toPort, data)
    } else if (protocol === Protocol.REPLIABLE) {
      try {
        const d = decodeRepliable(this.deps.crypto, data, this.hash)
        this.onDatagram({ from: d.from, protocol, fromPort, toPort, payload: d.payload })
      } catch { this.stats.dropped++ }
    } else {
      this.onDatagram({ protocol, fromPort, toPort, payload: data })
    }
  }

  private takeBundled (from: Destination, bytes: Uint8Array): void {
    try {
      const ls = verifyLeaseSet(this.deps.crypto, parseLeaseSet(bytes), { now: this.deps.clock.wall(), maxSkewMs: 120_000 })
      if (!this.deps.crypto.equal(ls.destination.bytes, from.bytes)) throw new DecodeError('bundled LeaseSet of another destination')
      this.learn(ls)
    } catch (err) {
      if (!(err instanceof UmbraError)) throw err
      this.stats.dropped++
    }
  }

  private remember (hex: string, dest: Destination): Remote {
    let r = this.remotes.get(hex)
    if (r === undefined) {
      if (this.remotes.size >= MAX_REMOTES) this.remotes.delete(this.remotes.keys().next().value!)
      r = { dest, sentLs: 0, sentLsAt: 0, heard: this.deps.clock.now(), rerouted: 0 }
      this.remotes.set(hex, r)
    }
    return r
  }

  private learn (ls: Verified<LeaseSet>): Remote {
    const hex = toHex(destinationHash(this.deps.crypto, ls.destination.bytes))
    const r = this.remember(hex, ls.destination)
    if (r.leaseSet === undefined || ls.published > r.leaseSet.published) {
      r.leaseSet = ls
      if (r.lease !== undefined && !ls.leases.some(l => l.tunnelId === r.lease!.tunnelId && this.deps.crypto.equal(l.gateway, r.lease!.gateway))) r.lease = undefined
    }
    if (r.leaseSet.leases.length === 0) throw new NotFoundError('the destination has no live tunnels')
    return r
  }

  // ---- our LeaseSet ----

  private schedulePublish (): void {
    if (this.closed || this.publishTimer !== undefined) return
    this.publishTimer = setTimeout(() => {
      this.publishTimer = undefined
      this.publish().catch((err: unknown) => { this.deps.log.warn('LeaseSet publish failed', { dest: this.address, err: String(err) }) })
    }, 100)
    this.publishTimer.unref()
  }

  /** Signs a LeaseSet of our live inbound tunnels and publishes it. */
  private async publish (): Promise<void> {
    const wall = this.deps.clock.wall()
    const now = this.deps.clock.now()
    const leases: Lease[] = this.pool.inbound.filter(t => t.expires > now).slice(0, 16).map(t => {
      const g = t.gateway(this.deps.pool.ownId)
      return { gateway: g.id, tunnelId: g.tunnelId, end: Math.floor(wall + (t.expires - now)) }
    })
    if (leases.length === 0) return
    const expires = Math.min(wall + 10 * 60_000, Math.max(...leases.map(l => l.end)))
    const u = signLeaseSet(this.deps.crypto, this.keys, { published: Math.max(wall, (this.leaseSet?.published ?? 0) + 1), expires, leases })
    this.leaseSet = verifyLeaseSet(this.deps.crypto, u, { now: wall, maxSkewMs: 120_000 })
    this.stats.leaseSetsPublished++
    await this.deps.netdb.publishLeaseSet(this.leaseSet)
  }

  /** Stops streams, tunnels and republishing. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.publishTimer !== undefined) clearTimeout(this.publishTimer)
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer)
    if (this.localTurn !== undefined) clearImmediate(this.localTurn)
    this.localInbox.clear()
    await this.streams.close()
    this.pacer?.stop()
    this.pool.stop()
  }
}

/**
 * Largest clove data that always fits one gateway message through tunnels, around it the LOCAL
 * header, the garlic overhead and the clove header: as an anonymous garlic message, or else as
 * a new-session message with the largest LeaseSet bundled (what a first message to a remote
 * carries). Datagrams, 0-hop stream packets and local delivery are all bounded by it.
 */
export function maxCloveData (anonymous: boolean): number {
  return MAX_GATEWAY_MESSAGE - deliveryOverhead(DeliveryKind.LOCAL) - CLOVE_HEADER -
    (anonymous ? ANON_OVERHEAD : NS_OVERHEAD + MAX_LEASE_SET_BYTES)
}

/**
 * Largest datagram payload that always fits one gateway message through tunnels
 * ({@link maxCloveData}): a raw datagram is an anonymous clove; a repliable one also carries its
 * sender's destination and signature. {@link DestinationSession.sendDatagram} refuses larger
 * payloads with LimitError rather than send what the outbound endpoint would drop.
 */
export function maxDatagramPayload (raw: boolean): number {
  return raw ? maxCloveData(true) : maxCloveData(false) - REPLIABLE_OVERHEAD
}

/**
 * Stream payload bytes of a destination whose tunnels have no hops: no cells to fill, so a
 * packet is as large as a gateway message holds even as a new-session message with the
 * largest LeaseSet bundled (the LOCAL header, the NS overhead, the LeaseSet, the clove and
 * stream headers and 16 bytes of room for selective acks). A sender takes the smaller of its
 * own and its peer's MSS, so a destination with hops still sends it packets of
 * {@link STREAM_PACKET_CELLS} cells.
 */
export function zeroHopMss (): number {
  return maxCloveData(false) - STREAM_HEADER_BYTES - 16
}

/**
 * Cells a full stream packet fills at the outbound gateway. Per-message costs (garlic AEAD,
 * stream bookkeeping, acks) are paid once per packet: 4 cells carried a stream 1.5 times as
 * fast as 1 (bench tunnel, one stream), and 8 cells curl through SOCKS about 2 MB/s faster
 * than 4 (bench api, A/B). A lost cell costs the whole packet (I2P's packets span two tunnel
 * messages); cells are lost only where a router sheds load, as links retransmit.
 */
export const STREAM_PACKET_CELLS = 8

/**
 * Stream payload bytes that fill `cells` cells end to end (see docs/sessions.md): their data
 * less the DELIVER_TUNNEL and LOCAL headers, the garlic ES overhead, the clove header, the
 * stream header and 16 bytes of room for selective acks and options.
 */
export function defaultMss (cells = STREAM_PACKET_CELLS): number {
  return cells * MAX_FRAGMENT_DATA - deliveryOverhead(DeliveryKind.TUNNEL) - deliveryOverhead(DeliveryKind.LOCAL) -
    ES_OVERHEAD - CLOVE_HEADER - STREAM_HEADER_BYTES - 16
}
