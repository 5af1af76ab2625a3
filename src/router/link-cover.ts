/**
 * Link chaff (the thin driver of `cover/shaper.ts`, fill-up mode): every open link gets a
 * {@link LinkShaper} on a Poisson clock of `linkRate` slots per second; every 100 ms the slots
 * that elapsed, minus the tunnel cells really sent on the link meanwhile, go out as chaff. A chaff
 * message is a `LINK_COVER` message of exactly the size of a one-cell `TUNNEL_DATA` message; the
 * link encrypts both alike, so on the wire one cannot be told from the other. The peer drops it
 * (counted). Real traffic is never delayed; chaff respects the link's back-pressure.
 *
 * Strict shaping (real cells waiting for slots, preset `high`) needs the tunnel layer's sends to
 * go through the shaper's queue and is not wired yet: the config refuses `strict`.
 */
import type { Link } from '../link/link.ts'
import { LinkShaper } from '../cover/shaper.ts'
import type { CoverSettings } from '../cover/presets.ts'
import { CELL_ENTRY, DATA_HEADER, TunnelType } from '../tunnel/messages.ts'

/** Link message type of chaff. */
export const LINK_COVER = 0x3f
/** Bytes of a chaff message: those of a one-cell TUNNEL_DATA message. */
export const COVER_MESSAGE_BYTES = DATA_HEADER + CELL_ENTRY
/** How often the shapers are ticked, ms. */
const TICK_MS = 100

/** Counters of real and cover traffic on links (cells and bytes, this router's side). */
export interface CoverStats {
  /** Tunnel cells sent in TUNNEL_DATA messages. */
  realCellsSent: number
  realBytesSent: number
  chaffSent: number
  chaffBytesSent: number
  chaffReceived: number
  chaffBytesReceived: number
  /** Chaff the shapers asked for that a link had no room for. */
  chaffSkipped: number
}

/** See module doc. */
export class LinkCover {
  readonly stats: CoverStats = { realCellsSent: 0, realBytesSent: 0, chaffSent: 0, chaffBytesSent: 0, chaffReceived: 0, chaffBytesReceived: 0, chaffSkipped: 0 }
  private readonly shapers = new Map<Link, LinkShaper<never>>()
  private timer: NodeJS.Timeout | undefined
  /** One chaff message, sent many times: its content is encrypted by each link, so zeros do. */
  private readonly chaff: Uint8Array

  constructor (readonly settings: Readonly<CoverSettings>, private readonly random: () => number = Math.random, private readonly now: () => number = () => performance.now()) {
    this.chaff = new Uint8Array(COVER_MESSAGE_BYTES)
    this.chaff[0] = LINK_COVER
    this.chaff[1] = 1
  }

  /** Whether links get chaff at all. */
  get active (): boolean { return this.settings.linkRate > 0 }

  /** Starts the tick timer (no-op when inactive). */
  start (): void {
    if (!this.active || this.timer !== undefined) return
    this.timer = setInterval(() => { this.tick() }, TICK_MS)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.shapers.clear()
  }

  /** A link opened: it gets a shaper. */
  opened (link: Link): void {
    if (!this.active) return
    this.shapers.set(link, new LinkShaper<never>({ rate: this.settings.linkRate, strict: false, maxQueueCells: 0 }, this.random, this.now()))
  }

  closed (link: Link): void { this.shapers.delete(link) }

  /** A message was sent on `link` (any type): tunnel cells count as real and displace chaff. */
  sent (link: Link | undefined, msg: Uint8Array): void {
    if (msg[0] !== TunnelType.DATA) return
    const cells = msg[1] ?? 0
    this.stats.realCellsSent += cells
    this.stats.realBytesSent += msg.length
    if (link !== undefined) this.shapers.get(link)?.sent(cells)
  }

  /** Whether `msg` (received) is chaff; if so it is counted and should be dropped. */
  received (msg: Uint8Array): boolean {
    if (msg[0] !== LINK_COVER) return false
    this.stats.chaffReceived++
    this.stats.chaffBytesReceived += msg.length
    return true
  }

  /** Sends the chaff due on every link (the timer calls it; tests may too). */
  tick (): void {
    const now = this.now()
    for (const [link, shaper] of this.shapers) {
      const { chaff } = shaper.tick(now)
      let i = 0
      for (; i < chaff; i++) {
        if (link.state !== 'open') break
        let more: boolean
        try { more = link.send(this.chaff) } catch { break }
        this.stats.chaffSent++
        this.stats.chaffBytesSent += this.chaff.length
        if (!more) { i++; break }
      }
      this.stats.chaffSkipped += chaff - i
    }
  }
}
