/**
 * The router's composition root: loads or creates the router's keys in its data directory,
 * opens its database, starts its transports, the link manager and the netDb, publishes a
 * signed RouterInfo naming the bound addresses, and hands the RouterInfo each peer presents in
 * a handshake to the netDb to verify and keep. Later layers (tunnels, API) are wired here too;
 * this module holds no protocol logic.
 */
import type { CryptoSuite } from '../crypto/types.ts'
import { loadCrypto } from '../crypto/index.ts'
import {
  loadOrCreateRouterKeys, routerHash, signRouterInfo, verifyRouterInfo,
  type RouterInfo, type RouterKeys, type Verified
} from '../identity/index.ts'
import type { Link } from '../link/link.ts'
import { LinkManager } from '../link/manager.ts'
import { LINK_DEFAULTS, type LinkContext, type LinkLimits, type PeerContact } from '../link/types.ts'
import { getU32, toHex } from '../util/bytes.ts'
import { systemClock, type Clock } from '../util/clock.ts'
import { ConfigError, HandshakeError } from '../util/errors.ts'
import { HttpTransport, type HttpTransportOptions } from '../../transports/http/index.ts'
import { MemoryTransport, type MemoryTransportOptions } from '../../transports/memory/index.ts'
import { TcpTransport } from '../../transports/tcp/index.ts'
import type { Transport } from '../link/transport.ts'
import { UdpTransport, type UdpTransportOptions } from '../../transports/udp/index.ts'
import type { LoopStats, RouterStatus } from './status.ts'
import { NetDb, type NetDbOptions } from '../netdb/netdb.ts'
import { isNetDbType, RecordKind } from '../netdb/messages.ts'
import { RECORD_POLICY_DEFAULTS } from '../netdb/records.ts'
import type { DataStore } from '../util/kv.ts'
import { openDataStore } from '../util/datastore.ts'
import { join } from 'node:path'
import { silentLogger, type Logger } from '../util/log.ts'
import { TunnelManager, type TunnelOptions } from '../tunnel/manager.ts'
import { isTunnelType } from '../tunnel/messages.ts'
import { poolSettings, type PoolSettings } from '../tunnel/pool.ts'
import type { HopTarget } from '../tunnel/plan.ts'
import type { DestinationKeys } from '../identity/destination.ts'
import { DEFAULT_MAX_MESSAGE, LinkSender } from './link-sender.ts'
import { DestinationSession } from './session.ts'
import { Accountant, type AccountingOptions } from '../accounting/accountant.ts'
import { LinkCover } from './link-cover.ts'
import { COVER_PRESETS, type CoverSettings } from '../cover/presets.ts'

/** The package version (reported in status). */
export const VERSION = '0.1.0'

/** Router settings (link level). */
export interface RouterConfig {
  /** Directory for keys and state (created 0700). */
  dataDir: string
  /** Addresses to listen on, e.g. `udp://127.0.0.1:0`, `tcp://127.0.0.1:0`, `http://127.0.0.1:0/umbra`. */
  listen: string[]
  /** Network name: routers of different networks refuse each other. Default `umbra`. */
  network?: string
  /** Link limits and timers (defaults in LINK_DEFAULTS). */
  limits?: Partial<LinkLimits>
  /** Per-attempt dial timeout (ms) before falling back to the next transport. */
  dialTimeoutMs?: number
  udp?: UdpTransportOptions
  http?: HttpTransportOptions
  memory?: MemoryTransportOptions
  /** Seed RouterInfos (bytes) to bootstrap the netDb from, besides those it kept from before. */
  seeds?: Uint8Array[]
  /** NetDb settings (defaults in NETDB_DEFAULTS). */
  netdb?: Partial<NetDbOptions>
  /** Keep the netDb in the data directory's database (`<dataDir>/db`). Default true. */
  persist?: boolean
  /** Tunnel settings (transit limit, build timeout, lifetime). */
  tunnels?: Partial<TunnelOptions>
  /** Default shape of destinations' tunnel pools (length 3, quantity 2). */
  pool?: Partial<PoolSettings>
  /** Resource limits and the credit economy (defaults in ACCOUNTING_DEFAULTS: no limits). */
  accounting?: Partial<AccountingOptions>
  /** Cover traffic (default off): link chaff (fill-up or strict), loops and Poisson sending (`docs/cover.md`). */
  cover?: CoverSettings
}

/** Components injected for tests (STYLE.md §8). */
export interface RouterComponents {
  crypto?: CryptoSuite
  clock?: Clock
  /** Where the router logs (default: nowhere). */
  log?: Logger
  /** The database (default: the router opens `<dataDir>/db` itself, unless `persist` is false). */
  store?: DataStore
}


/** A running router (link level). */
export class Router {
  /** Its current signed RouterInfo. */
  info!: Verified<RouterInfo>
  /** Addresses actually bound. */
  addresses: string[] = []
  /** Wall-clock start time. */
  readonly startedAt: number
  /** The network database. */
  netdb!: NetDb
  /** Settles when the first netDb bootstrap (seeds, then exploration) is done; resolves with the routers known. */
  bootstrapped: Promise<number> = Promise.resolve(0)
  /** The database the router opened itself (closed by stop). */
  private ownStore: DataStore | undefined
  /** The tunnels this router builds and carries. */
  tunnels!: TunnelManager
  /** Sends link messages to routers by ID (dialling when needed) for the tunnel layer. */
  sender!: LinkSender
  /** Local destinations. */
  readonly sessions = new Set<DestinationSession>()
  /** Live destinations by hash (hex): messages between them stay inside the router. */
  private readonly localDestinations = new Map<string, DestinationSession>()
  /** Admission, load and the credit ledger. */
  accounting!: Accountant
  /** Link chaff and the real/cover counters. */
  cover!: LinkCover
  /** Messages of types no layer claims (tests and tools use these). */
  onMessage: (peer: PeerContact, msg: Uint8Array, link: Link) => void = () => {}

  private constructor (readonly config: RouterConfig, readonly crypto: CryptoSuite, readonly clock: Clock,
    readonly keys: RouterKeys,
    /** The router's ID: SHA-256 of its RouterIdentity. */
    readonly id: Uint8Array,
    readonly ctx: LinkContext, readonly links: LinkManager,
    readonly transports: Transport[],
    /** The contact of a peer's RouterInfo bytes, verified (signature checks cached by bytes). */
    readonly contactFor: (infoBytes: Uint8Array) => PeerContact,
    readonly log: Logger) {
    this.startedAt = clock.wall()
  }

  /** Starts a router: keys from the data dir, transports listening, RouterInfo signed. */
  static async start (config: RouterConfig, components: RouterComponents = {}): Promise<Router> {
    if (config.listen.length === 0) throw new ConfigError('a router needs at least one listen address')
    const crypto = components.crypto ?? await loadCrypto()
    const clock = components.clock ?? systemClock
    const { keys } = await loadOrCreateRouterKeys(crypto, config.dataDir)
    const limits = { ...LINK_DEFAULTS, ...config.limits }
    let netdb: NetDb | undefined
    /** Peers' RouterInfos all pass through the netDb, which verifies each once and keeps it. */
    const contactFor = (bytes: Uint8Array): PeerContact => contactOf(crypto, netdb!.acceptRouterInfo(bytes))
    const ctx: LinkContext = {
      crypto,
      clock,
      staticKey: keys.static,
      ownInfo: new Uint8Array(0),
      network: config.network ?? 'umbra',
      limits,
      verifyPeer: (bytes, remoteStatic) => {
        const contact = contactFor(bytes)
        if (!crypto.equal(contact.staticKey, remoteStatic)) throw new HandshakeError('RouterInfo names another static key')
        if (netdb!.banned(contact.id)) throw new HandshakeError('peer is banned')
        return contact
      }
    }
    const transports: Transport[] = [
      new UdpTransport(config.udp), new TcpTransport(), new HttpTransport(config.http), new MemoryTransport(config.memory)
    ]
    const ownId = routerHash(crypto, keys.identity)
    const ownStore = components.store === undefined && config.persist !== false ? await openDataStore(join(config.dataDir, 'db')) : undefined
    const store = components.store ?? ownStore
    const links = new LinkManager(ctx, transports, { ownId, ...(config.dialTimeoutMs !== undefined ? { dialTimeoutMs: config.dialTimeoutMs } : {}) })
    const router = new Router(config, crypto, clock, keys, ownId, ctx, links, transports, contactFor, components.log ?? silentLogger)
    const accounting = router.accounting = new Accountant({ ...(config.tunnels?.maxTransit !== undefined ? { maxTransit: config.tunnels.maxTransit } : {}), ...config.accounting }, clock, store?.bucket('credit'))
    accounting.start()
    netdb = router.netdb = new NetDb({
      crypto,
      clock,
      log: router.log,
      ownId,
      self: () => router.freshInfo(),
      send: async (info, msg) => {
        const link = await links.connect(contactOf(crypto, info), { signal: AbortSignal.timeout(config.dialTimeoutMs ?? 5000) })
        link.send(msg)
      },
      reply: (peerId, msg) => { links.send(peerId, msg) },
      maxMessage: (peerId) => links.get(peerId)?.maxMessage ?? DEFAULT_MAX_MESSAGE,
      onBan: (peerId) => { links.get(peerId)?.close() },
      accounting
    }, {
      ...config.netdb,
      policy: { maxSkewMs: limits.maxSkewMs, routerInfoMaxAgeMs: RECORD_POLICY_DEFAULTS.routerInfoMaxAgeMs, ...config.netdb?.policy }
    }, store?.bucket('netdb'))
    router.ownStore = ownStore
    const sender = router.sender = new LinkSender(links, (id) => {
      const rec = netdb!.store.get(RecordKind.ROUTER_INFO, id)
      return rec?.kind === RecordKind.ROUTER_INFO ? contactOf(crypto, rec.info) : undefined
    }, router.log, { dialTimeoutMs: config.dialTimeoutMs ?? 5000, maxQueueBytes: 8 * 1024 * 1024, onWaited: (ms) => { accounting.queued(ms) }, onSent: (link, msg) => { cover.sent(link, msg) }, shape: (link, msg) => cover.offer(link, msg) })
    const tunnels = router.tunnels = new TunnelManager({
      crypto, clock, log: router.log, ownId, staticKey: keys.static,
      send: (peer, msg) => { sender.send(peer, msg) },
      // TUNNEL_DATA batches no more cells than one datagram holds: a lost piece of a split
      // message would hold back all its cells.
      maxMessage: (peer) => sender.packetMessage(peer),
      accounting
    }, config.tunnels)
    const cover = router.cover = new LinkCover(config.cover ?? COVER_PRESETS.off)
    links.onLinkOpen = (link) => { cover.opened(link) }
    links.onMessage = (peer, msg, link) => {
      if (isTunnelType(msg[0])) tunnels.handle(peer.id, msg)
      else if (cover.received(msg)) return
      else if (isNetDbType(msg[0])) netdb!.handle(peer.id, msg)
      else router.onMessage(peer, msg, link)
    }
    links.onLinkClosed = (link) => {
      cover.closed(link)
      const id = link.peer?.id
      if (id === undefined) return
      sender.linkClosed(id)
      const hex = toHex(id)
      for (const s of router.sessions) s.pool.peerGone(hex)
    }
    try {
      router.addresses = await links.listen(config.listen)
      router.republish()
      netdb.start()
      cover.start()
      router.bootstrapped = netdb.bootstrap(config.seeds ?? [])
      router.bootstrapped.catch((err: unknown) => { router.log.warn('netDb bootstrap failed', { err: String(err) }) })
    } catch (err) {
      await router.stop()
      throw err
    }
    return router
  }

  /** The router's ID in hex (for logs). */
  get idHex (): string { return toHex(this.id) }

  /** Signs a fresh RouterInfo with the bound addresses (each cost from its transport's bid). */
  republish (): void {
    const addresses = this.addresses.map(url => ({ url, cost: Math.min(255, this.links.route(url)?.bid ?? 255) }))
    const u = signRouterInfo(this.crypto, this.keys, { addresses, caps: 'R', options: {}, published: this.clock.wall() })
    this.info = verifyRouterInfo(this.crypto, u, { now: this.clock.wall(), maxSkewMs: 60_000, maxAgeMs: 60_000 })
    this.ctx.ownInfo = this.info.raw
  }

  /** Our RouterInfo, re-signed first if it is older than half the netDb republish interval. */
  freshInfo (): Verified<RouterInfo> {
    if (this.clock.wall() - this.info.published > 5 * 60_000) this.republish()
    return this.info
  }

  /** A snapshot for the control API and `umbra status`. */
  status (): RouterStatus {
    const { links } = this.links.stats()
    return {
      id: this.idHex,
      network: this.ctx.network,
      version: VERSION,
      uptimeMs: this.clock.wall() - this.startedAt,
      addresses: [...this.addresses],
      peers: this.links.all().length,
      links,
      netdb: { routerInfos: this.netdb.store.count(RecordKind.ROUTER_INFO), leaseSets: this.netdb.store.count(RecordKind.LEASE_SET) },
      accounting: this.accounting.status(),
      cover: { linkRate: this.cover.settings.linkRate, ...this.cover.stats, ...this.loopStats() }
    }
  }

  /** Loops of the local destinations' pools, summed. */
  private loopStats (): LoopStats {
    const out: LoopStats = { loopIntervalMs: this.cover.settings.loopIntervalMs, loopsSent: 0, loopBytesSent: 0, loopsReturned: 0, loopsLost: 0, loopsLate: 0 }
    for (const { pool: { stats } } of this.sessions) {
      out.loopsSent += stats.loopsSent
      out.loopBytesSent += stats.loopBytes
      out.loopsReturned += stats.testsPassed
      out.loopsLost += stats.testsFailed
      out.loopsLate += stats.loopsLate
    }
    return out
  }

  /** How other routers reach this one. */
  contact (): PeerContact { return contactOf(this.crypto, this.info) }

  /** Links to the router whose RouterInfo bytes are `infoBytes` (verified first). */
  async connectInfo (infoBytes: Uint8Array, signal?: AbortSignal): Promise<Link> {
    return await this.links.connect(this.contactFor(infoBytes), signal !== undefined ? { signal } : {})
  }

  /** Routers that may be hops of our tunnels: every known RouterInfo but ours and banned ones. */
  hopCandidates (): HopTarget[] {
    const out: HopTarget[] = []
    for (const rec of this.netdb.store.all(RecordKind.ROUTER_INFO)) {
      if (rec.kind !== RecordKind.ROUTER_INFO || rec.keyHex === this.idHex || this.netdb.banned(rec.key)) continue
      out.push({ id: rec.key, idHex: rec.keyHex, staticKey: rec.info.identity.staticKey })
    }
    return out
  }

  /**
   * Creates a local destination (transient, or from `keys`), builds its tunnels and publishes
   * its LeaseSet; resolves once it can send and receive.
   */
  async createDestination (opts: {
    keys?: DestinationKeys
    pool?: Partial<PoolSettings>
    /** Only these routers (IDs in hex) may be hops of its tunnels (experiments, trusted relays). */
    via?: readonly string[]
    /** Poisson sending, slots per second (default: the cover settings' `destinationRate`; 0 = off). */
    sendRate?: number
    /** Messages to and from other destinations of this router handed over inside it (default true; `SessionOptions.localDelivery`). */
    localDelivery?: boolean
    signal?: AbortSignal
  } = {}): Promise<DestinationSession> {
    const via = opts.via !== undefined ? new Set(opts.via) : undefined
    const session = new DestinationSession({
      crypto: this.crypto,
      clock: this.clock,
      log: this.log,
      netdb: this.netdb,
      tunnels: this.tunnels,
      localDestination: (hex) => this.localDestinations.get(hex),
      pool: {
        ownId: this.id,
        candidates: () => via === undefined ? this.hopCandidates() : this.hopCandidates().filter(c => via.has(c.idHex)),
        random: () => getU32(this.crypto.randomBytes(4), 0) / 0x1_0000_0000,
        randomBytes: (n) => this.crypto.randomBytes(n)
      }
    }, { ...(opts.keys !== undefined ? { keys: opts.keys } : {}), ...(opts.localDelivery !== undefined ? { localDelivery: opts.localDelivery } : {}), sendRate: opts.sendRate ?? this.cover.settings.destinationRate, pool: poolSettings({ loopIntervalMs: Math.round(this.cover.settings.loopIntervalMs), ...this.config.pool, ...opts.pool }) })
    this.sessions.add(session)
    try {
      await session.start(opts.signal)
    } catch (err) {
      await this.closeDestination(session)
      throw err
    }
    this.registerLocal(session.hashHex)
    return session
  }

  /**
   * Makes the first started, still open destination with hash `hex` that takes local delivery
   * the one other destinations of this router hand their messages to (the same keys may be
   * started twice, e.g. as a server tunnel and through the API).
   */
  private registerLocal (hex: string): void {
    if (this.localDestinations.has(hex)) return
    for (const s of this.sessions) {
      if (s.hashHex === hex && s.started && !s.isClosed && s.localDelivery) { this.localDestinations.set(hex, s); return }
    }
  }

  /** Closes a local destination: its streams, tunnels and LeaseSet republishing. */
  async closeDestination (session: DestinationSession): Promise<void> {
    this.sessions.delete(session)
    if (this.localDestinations.get(session.hashHex) === session) {
      this.localDestinations.delete(session.hashHex)
      this.registerLocal(session.hashHex)
    }
    await session.close()
  }

  /** Closes links, listeners and transports. */
  async stop (): Promise<void> {
    this.cover?.stop()
    for (const s of [...this.sessions]) await this.closeDestination(s)
    this.tunnels?.close()
    await this.netdb?.stop()
    await this.links.close()
    await Promise.allSettled(this.transports.map(async t => { await t.close() }))
    await this.accounting?.close()
    await this.ownStore?.close()
  }
}

/** The link-level contact of a verified RouterInfo. */
function contactOf (crypto: CryptoSuite, info: Verified<RouterInfo>): PeerContact {
  return { id: routerHash(crypto, info.identity), staticKey: info.identity.staticKey, addresses: info.addresses.map(a => a.url) }
}
