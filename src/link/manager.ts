/**
 * The link manager: one session per peer over the best transport that works.
 *
 * - `listen` binds every configured transport address and runs the responder handshake on each
 *   inbound Conn (bounded number of handshakes in progress; failures are counted, not answered).
 * - `connect` returns the open link to a peer, or dials one: the peer's addresses are ordered by
 *   the transports' bids (cheapest first: UDP, then TCP, then HTTP) and tried in turn, each within
 *   its own timeout, so a blocked transport falls back to the next.
 * - When two links to one peer open (both dialled at once, or a peer that restarted), exactly
 *   one survives, chosen the same way on both sides: between links of opposite directions, the
 *   one initiated by the router with the lower ID; otherwise the newer.
 * Does not know what messages mean: it hands them to `onMessage`.
 */
import type { Conn, Listener, Transport, TransportName } from './transport.ts'
import { raceSignal, throwIfAborted, withTimeout } from '../util/abort.ts'
import { compareBytes, toHex as hex } from '../util/bytes.ts'
import { ClosedError, LimitError, TransportError, UmbraError } from '../util/errors.ts'
import { CloseReason } from './blocks.ts'
import { Link } from './link.ts'
import { RecentKeys } from '../util/recent-keys.ts'
import type { LinkContext, PeerContact } from './types.ts'

/** Options of {@link LinkManager}. */
export interface LinkManagerOptions {
  /** Our own router ID (router hash). */
  ownId: Uint8Array
  /** Each attempt (one address) must finish its handshake within this. Default 5000 ms. */
  dialTimeoutMs?: number
  /** Most open links. Default 4096. */
  maxLinks?: number
  /** Most handshakes in progress (both directions). Default 256. */
  maxHandshakes?: number
}

/** Counters the manager keeps. */
export interface LinkManagerStats {
  /** Open links per transport. */
  links: Record<TransportName, number>
  /** Inbound handshakes that failed (probers, wrong keys, timeouts, replays). */
  inboundRejected: number
  /** Outbound attempts that failed (then the next transport was tried). */
  dialFailures: number
  /** Inbound connections refused because too many handshakes were in progress. */
  refusedBusy: number
  /** Links closed because a newer or preferred one replaced them. */
  replaced: number
  /** Handshakes in progress now. */
  handshakes: number
}


/** Keeps one link per peer (see module doc). */
export class LinkManager {
  /** A message arrived from `peer` over `link`. */
  onMessage: (peer: PeerContact, msg: Uint8Array, link: Link) => void = () => {}
  /** A link opened (and is now the peer's link). */
  onLinkOpen: (link: Link) => void = () => {}
  /** A peer's link closed. */
  onLinkClosed: (link: Link, err?: Error) => void = () => {}

  private readonly links = new Map<string, Link>()
  private readonly dialing = new Map<string, Promise<Link>>()
  private readonly listeners: Listener[] = []
  private handshakes = 0
  private readonly timer: NodeJS.Timeout
  private closed = false
  private readonly counters = { inboundRejected: 0, dialFailures: 0, refusedBusy: 0, replaced: 0 }
  private readonly opts: Required<LinkManagerOptions>

  constructor (private readonly ctx: LinkContext, private readonly transports: Transport[], opts: LinkManagerOptions) {
    this.opts = { dialTimeoutMs: 5000, maxLinks: 4096, maxHandshakes: 256, ...opts }
    // Ephemeral keys of recent message 1s. A message 1 older than the allowed clock skew is
    // refused anyway, so remembering each key 2 × (max skew + 1 s) is enough.
    const recent = new RecentKeys(2 * (ctx.limits.maxSkewMs + 1000), 65536)
    ctx.replayCache ??= { add: (k, now) => recent.add(k, now) }
    this.timer = setInterval(() => { this.tick() }, 1000).unref()
  }

  /** Listens on each address with the transport that bids for it; returns the bound addresses. */
  async listen (addrs: string[]): Promise<string[]> {
    const bound: string[] = []
    for (const addr of addrs) {
      const r = this.route(addr)
      if (r === undefined) throw new TransportError(`no transport can listen on ${addr}`)
      const l = await r.tx.listen(addr, (conn) => { this.accept(conn) })
      this.listeners.push(l)
      bound.push(l.addr)
    }
    return bound
  }

  /** The open link to `peerId`, if any. */
  get (peerId: Uint8Array): Link | undefined {
    const l = this.links.get(hex(peerId))
    return l?.state === 'open' ? l : undefined
  }

  /** Every open link. */
  all (): Link[] { return [...this.links.values()].filter(l => l.state === 'open') }

  /**
   * The link to `peer`: the open one, one being dialled, or a new one. Tries the peer's
   * addresses cheapest-transport first; rejects with TransportError listing every failure.
   */
  async connect (peer: PeerContact, opts: { signal?: AbortSignal } = {}): Promise<Link> {
    throwIfAborted(opts.signal)
    if (this.closed) throw new ClosedError('link manager is closed')
    if (compareBytes(peer.id, this.opts.ownId) === 0) throw new TransportError('refusing to link to ourselves')
    const existing = this.get(peer.id)
    if (existing !== undefined) return existing
    const key = hex(peer.id)
    let p = this.dialing.get(key)
    if (p === undefined) {
      p = this.dialAll(peer).finally(() => { this.dialing.delete(key) })
      this.dialing.set(key, p)
    }
    return await raceSignal(p, opts.signal)
  }

  /** Sends to a peer over its open link; throws ClosedError when there is none. */
  send (peerId: Uint8Array, msg: Uint8Array): boolean {
    const l = this.get(peerId)
    if (l === undefined) throw new ClosedError('no open link to that peer')
    return l.send(msg)
  }

  /** Counters and per-transport link counts. */
  stats (): LinkManagerStats {
    const links: Record<TransportName, number> = { udp: 0, tcp: 0, http: 0, memory: 0 }
    for (const l of this.all()) links[l.transport]++
    return { links, ...this.counters, handshakes: this.handshakes }
  }

  /** Closes every link and listener. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.timer)
    for (const l of this.links.values()) l.close()
    this.links.clear()
    await Promise.allSettled(this.listeners.map(async l => { await l.close() }))
  }

  /** The transport that bids lowest for `addr`, with its bid; undefined if none can reach it. */
  route (addr: string): { tx: Transport, bid: number } | undefined {
    let best: { tx: Transport, bid: number } | undefined
    for (const tx of this.transports) {
      const bid = tx.bid(addr)
      if (bid !== undefined && (best === undefined || bid < best.bid)) best = { tx, bid }
    }
    return best
  }

  private async dialAll (peer: PeerContact): Promise<Link> {
    const ranked = peer.addresses
      .flatMap(addr => { const r = this.route(addr); return r === undefined ? [] : [{ addr, ...r }] })
      .sort((a, b) => a.bid - b.bid)
    if (ranked.length === 0) throw new TransportError('peer has no address any of our transports can reach')
    const failures: string[] = []
    for (const { addr, tx } of ranked) {
      if (this.closed) throw new ClosedError('link manager is closed')
      const open = this.get(peer.id)
      if (open !== undefined) return open // the peer dialled us meanwhile
      try {
        return await this.dialOne(peer, addr, tx)
      } catch (err) {
        this.counters.dialFailures++
        failures.push(`${addr}: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
    throw new TransportError(`could not link to peer: ${failures.join('; ')}`)
  }

  private async dialOne (peer: PeerContact, addr: string, tx: Transport): Promise<Link> {
    if (this.handshakes >= this.opts.maxHandshakes) throw new LimitError('too many handshakes in progress')
    this.handshakes++
    try {
      const signal = withTimeout(this.opts.dialTimeoutMs)
      const conn = await tx.dial(addr, { signal })
      const link = Link.initiate(this.ctx, conn, { ...peer, addresses: [addr] })
      try {
        await raceSignal(link.ready, signal, () => { link.close() })
      } catch (err) {
        link.close()
        throw err
      }
      return this.register(link)
    } finally {
      this.handshakes--
    }
  }

  private accept (conn: Conn): void {
    if (this.closed || this.handshakes >= this.opts.maxHandshakes || this.links.size >= this.opts.maxLinks) {
      this.counters.refusedBusy++
      conn.close()
      return
    }
    // Counted until it opens or its socket closes (a prober's drain holds a socket too).
    this.handshakes++
    let counted = true
    const release = (): void => { if (counted) { counted = false; this.handshakes-- } }
    const link = Link.accept(this.ctx, conn)
    link.onClose = () => { release(); this.counters.inboundRejected++ }
    link.ready.then(() => {
      release()
      try { this.register(link) } catch { link.close() }
    }, () => {})
  }

  /** Makes `link` the peer's link (or closes it in favour of the existing one); wires events. */
  private register (link: Link): Link {
    const peer = link.peer!
    const key = hex(peer.id)
    const old = this.links.get(key)
    if (old !== undefined && old !== link && old.state === 'open') {
      let keepNew = true
      if (old.initiator !== link.initiator) {
        const weAreLower = compareBytes(this.opts.ownId, peer.id) < 0
        keepNew = link.initiator === weAreLower
      }
      this.counters.replaced++
      if (!keepNew) { link.close(CloseReason.REPLACED); return old }
      this.links.delete(key)
      old.close(CloseReason.REPLACED)
    }
    this.links.set(key, link)
    link.onMessage = (msg) => { this.onMessage(peer, msg, link) }
    link.onClose = (err) => {
      if (this.links.get(key) === link) this.links.delete(key)
      this.onLinkClosed(link, err)
    }
    if (link.state !== 'open') { this.links.delete(key); throw new ClosedError('link closed while opening') }
    this.onLinkOpen(link)
    return link
  }

  private tick (): void {
    const now = this.ctx.clock.now()
    for (const l of [...this.links.values()]) {
      try { l.tick(now) } catch (err) { if (!(err instanceof UmbraError)) throw err }
    }
  }
}
