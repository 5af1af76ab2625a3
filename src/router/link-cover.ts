/**
 * Link chaff (the thin driver of `cover/shaper.ts`): every open link gets a {@link LinkShaper}
 * on a Poisson clock of `linkRate` slots per second. A chaff message is a `LINK_COVER` message of
 * exactly the size of a one-cell `TUNNEL_DATA` message; the link encrypts both alike, so on the
 * wire one cannot be told from the other. The peer drops it (counted).
 *
 * - Fill-up (`strict: false`): every 100 ms the slots that elapsed, minus the tunnel cells really
 *   sent on the link meanwhile, go out as chaff. Real traffic is never delayed.
 * - Strict (`strict: true`, preset `high`): the router's `TUNNEL_DATA` messages to a link are
 *   handed to {@link LinkCover.offer}, split into one-cell messages and queued; every 20 ms the
 *   slots that elapsed carry queued cells first and chaff in the rest, so the link sends one
 *   1030-byte message per slot whatever its user does, and real cells are capped at `linkRate`
 *   per second per link. A full queue (half a second of slots, at least 64 cells) drops cells (streams retransmit and slow
 *   down). Other link messages (tunnel builds, gateway hand-offs, netDb) are not shaped.
 *
 * Chaff respects the link's back-pressure (skipped and counted); real cells released by a slot
 * are always handed to the link.
 */
import type { Link } from '../link/link.ts'
import { LinkShaper } from '../cover/shaper.ts'
import type { CoverSettings } from '../cover/presets.ts'
import { CELL_ENTRY, DATA_HEADER, TunnelType, encodeData, forEachCell } from '../tunnel/messages.ts'
import { CELL_BYTES } from '../tunnel/layer.ts'

/** Link message type of chaff. */
export const LINK_COVER = 0x3f
/** Bytes of a chaff message: those of a one-cell TUNNEL_DATA message. */
export const COVER_MESSAGE_BYTES = DATA_HEADER + CELL_ENTRY
/** How often the shapers are ticked, ms: fill-up, and strict (a real cell waits for a tick). */
const TICK_MS = 100
const STRICT_TICK_MS = 20
/** Strict queue per link: this many seconds of slots, and at least this many cells. */
const STRICT_QUEUE_SECONDS = 0.5
const STRICT_MIN_QUEUE = 64

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
  /** Strict shaping: real cells dropped because a link's queue was full, and cells waiting now. */
  realCellsDropped: number
  realCellsQueued: number
}

/** See module doc. */
export class LinkCover {
  readonly stats: CoverStats = { realCellsSent: 0, realBytesSent: 0, chaffSent: 0, chaffBytesSent: 0, chaffReceived: 0, chaffBytesReceived: 0, chaffSkipped: 0, realCellsDropped: 0, realCellsQueued: 0 }
  private readonly shapers = new Map<Link, LinkShaper<Uint8Array>>()
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

  /** Whether real cells wait for slots (strict shaping on). */
  get strict (): boolean { return this.active && this.settings.strict }

  /** Starts the tick timer (no-op when inactive). */
  start (): void {
    if (!this.active || this.timer !== undefined) return
    this.timer = setInterval(() => { this.tick() }, this.strict ? STRICT_TICK_MS : TICK_MS)
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
    const rate = this.settings.linkRate
    const maxQueueCells = this.strict ? Math.max(STRICT_MIN_QUEUE, Math.ceil(rate * STRICT_QUEUE_SECONDS)) : 0
    this.shapers.set(link, new LinkShaper<Uint8Array>({ rate, strict: this.strict, maxQueueCells }, this.random, this.now()))
  }

  closed (link: Link): void {
    const shaper = this.shapers.get(link)
    this.shapers.delete(link)
    if (shaper?.strict === true) this.stats.realCellsQueued -= shaper.clear().length
  }

  /**
   * Strict shaping: takes a message about to go to `link`. A `TUNNEL_DATA` message is split into
   * one-cell messages that wait for the link's slots (true: taken, dropped cells counted); any
   * other message, or any message when not strict or for a link without a shaper, is left to the
   * caller (false).
   */
  offer (link: Link, msg: Uint8Array): boolean {
    if (!this.strict || msg[0] !== TunnelType.DATA) return false
    const shaper = this.shapers.get(link)
    if (shaper === undefined) return false
    const now = this.now()
    forEachCell(msg, (tunnelId, buf, off) => {
      if (shaper.offer(encodeData([tunnelId], [buf.subarray(off, off + CELL_BYTES)]), 1, now)) this.stats.realCellsQueued++
      else this.stats.realCellsDropped++
    })
    return true
  }

  /** A message was sent on `link` (any type): tunnel cells count as real and displace chaff. */
  sent (link: Link | undefined, msg: Uint8Array): void {
    if (msg[0] !== TunnelType.DATA || this.strict) return
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
      const { release, chaff } = shaper.tick(now)
      for (const cell of release) this.sendReal(link, cell)
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

  /** Hands a released strict cell to its link (dropped, and counted, if the link is gone). */
  private sendReal (link: Link, cell: Uint8Array): void {
    this.stats.realCellsQueued--
    if (link.state !== 'open') { this.stats.realCellsDropped++; return }
    try { link.send(cell) } catch { this.stats.realCellsDropped++; return }
    this.stats.realCellsSent++
    this.stats.realBytesSent += cell.length
  }
}
