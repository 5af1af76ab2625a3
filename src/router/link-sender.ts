/**
 * Sends link messages to routers by ID for the layers that do not hold links themselves (the
 * tunnel manager): over the open link when there is one, else after dialling the router from
 * its RouterInfo in the netDb. Respects each link's back-pressure: once a link asks the sender
 * to wait, further messages queue here (bounded per router) until it drains. Whatever cannot be
 * sent (no RouterInfo, dial failed, queue full) is dropped and counted: tunnel traffic is
 * unreliable by design and the stream layer retransmits.
 */
import type { Link } from '../link/link.ts'
import type { LinkManager } from '../link/manager.ts'
import type { PeerContact } from '../link/types.ts'
import type { Logger } from '../util/log.ts'
import { toHex } from '../util/bytes.ts'
import { Fifo } from '../util/fifo.ts'
import { UmbraError } from '../util/errors.ts'

/** Counters of a {@link LinkSender}. */
export interface LinkSenderStats { sent: number, queued: number, dropped: number, dials: number, dialFailures: number }

/** Messages waiting for one router. */
interface Queue { msgs: Fifo<Uint8Array>, bytes: number, dialing: boolean, link: Link | undefined, since: number }

/** What a link to a peer is assumed to carry per message before one is open. */
export const DEFAULT_MAX_MESSAGE = 1200

/** Options of a {@link LinkSender}. */
export interface LinkSenderOptions {
  dialTimeoutMs: number
  /** Bytes queued per router at most. */
  maxQueueBytes: number
  /** Told how long a router's queue waited before it drained (the accountant's queue delay). */
  onWaited?: (ms: number) => void
  /** Told of every message handed to a link (the cover driver counts real cells). */
  onSent?: (link: Link, msg: Uint8Array) => void
  /** Offered every message before it goes to its open link; true = taken (strict cover shaping queues it). */
  shape?: (link: Link, msg: Uint8Array) => boolean
}

/** See module doc. */
export class LinkSender {
  readonly stats: LinkSenderStats = { sent: 0, queued: 0, dropped: 0, dials: 0, dialFailures: 0 }
  private readonly queues = new Map<string, Queue>()

  constructor (private readonly links: LinkManager,
    /** The contact of a router by ID, if the netDb knows it. */
    private readonly contact: (peerId: Uint8Array) => PeerContact | undefined,
    private readonly log: Logger,
    private readonly opts: LinkSenderOptions = { dialTimeoutMs: 5000, maxQueueBytes: 8 * 1024 * 1024 }) {}

  /** Bytes waiting here for links to drain or open. */
  pending (): number {
    let n = 0
    for (const q of this.queues.values()) n += q.bytes
    return n
  }

  /** The largest message the link to `peer` takes (a conservative default before one is open). */
  maxMessage (peer: Uint8Array): number { return this.links.get(peer)?.maxMessage ?? DEFAULT_MAX_MESSAGE }

  /** Largest message the link to `peer` sends whole (one datagram on UDP), or a safe default. */
  packetMessage (peer: Uint8Array): number { return this.links.get(peer)?.packetMessage ?? DEFAULT_MAX_MESSAGE }

  /** Sends `msg` to `peer` (see module doc). */
  send (peer: Uint8Array, msg: Uint8Array): void {
    const key = toHex(peer)
    const q = this.queues.get(key)
    if (q === undefined) {
      const link = this.links.get(peer)
      if (link !== undefined) { this.direct(key, link, msg); return }
    }
    this.enqueue(key, peer, msg)
  }

  private direct (key: string, link: Link, msg: Uint8Array): void {
    if (this.opts.shape?.(link, msg) === true) { this.stats.sent++; return }
    try {
      const more = link.send(msg)
      this.stats.sent++
      this.opts.onSent?.(link, msg)
      if (!more) this.wait(key, link)
    } catch (err) {
      if (!(err instanceof UmbraError)) throw err
      this.stats.dropped++
    }
  }

  /** The link asked us to wait: queue until it drains. */
  private wait (key: string, link: Link): void {
    if (this.queues.has(key)) return
    this.queues.set(key, newQueue(link))
    link.onDrain = () => { this.drain(key) }
  }

  private enqueue (key: string, peer: Uint8Array, msg: Uint8Array): void {
    let q = this.queues.get(key)
    if (q === undefined) this.queues.set(key, q = newQueue(undefined))
    if (q.bytes + msg.length > this.opts.maxQueueBytes) { this.stats.dropped++; return }
    q.msgs.push(msg)
    q.bytes += msg.length
    this.stats.queued++
    // No link and no dial yet, or a link that closed meanwhile (a dial clears `link`).
    if (!q.dialing && q.link?.state !== 'open') this.dial(key, peer, q)
  }

  private dial (key: string, peer: Uint8Array, q: Queue): void {
    const contact = this.contact(peer)
    if (contact === undefined) { this.dropQueue(key, q); return }
    q.dialing = true
    q.link = undefined
    this.stats.dials++
    this.links.connect(contact, { signal: AbortSignal.timeout(this.opts.dialTimeoutMs) }).then(link => {
      q.dialing = false
      q.link = link
      link.onDrain = () => { this.drain(key) }
      this.drain(key)
    }, (err: unknown) => {
      this.stats.dialFailures++
      this.log.debug('dial for tunnel traffic failed', { peer: key.slice(0, 16), err: String(err) })
      this.dropQueue(key, q)
    })
  }

  private dropQueue (key: string, q: Queue): void {
    this.stats.dropped += q.msgs.size
    if (this.queues.get(key) === q) this.queues.delete(key)
  }

  private drain (key: string): void {
    const q = this.queues.get(key)
    if (q === undefined || q.link === undefined) return
    if (q.link.state !== 'open') { this.dropQueue(key, q); return }
    while (q.msgs.size > 0) {
      const m = q.msgs.shift()!
      q.bytes -= m.length
      if (this.opts.shape?.(q.link, m) === true) { this.stats.sent++; continue }
      let more: boolean
      try {
        more = q.link.send(m)
        this.stats.sent++
        this.opts.onSent?.(q.link, m)
      } catch (err) {
        if (!(err instanceof UmbraError)) throw err
        this.stats.dropped++
        more = true
      }
      if (!more) return
    }
    this.queues.delete(key)
    this.opts.onWaited?.(performance.now() - q.since)
  }

  /** A link closed: anything queued for it is dropped. */
  linkClosed (peer: Uint8Array): void {
    const key = toHex(peer)
    const q = this.queues.get(key)
    if (q !== undefined && !q.dialing) this.dropQueue(key, q)
  }
}

function newQueue (link: Link | undefined): Queue {
  return { msgs: new Fifo(), bytes: 0, dialing: false, link, since: performance.now() }
}
