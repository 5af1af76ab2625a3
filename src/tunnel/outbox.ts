/**
 * Outgoing cells, batched per next router into TUNNEL_DATA link messages of as many cells as the
 * link's message size allows (one AEAD, one frame and, over UDP, one datagram for many cells).
 * A message leaves as soon as it is full: while this turn of the event loop still works through
 * what one socket read brought, the next hop already has it. The last, partly filled message per
 * router leaves at the end of the turn. Each cell is copied once, straight into the message it
 * leaves in, so at most one message per router (63 cells) waits here; the link sender bounds
 * what waits beyond.
 */
import { CELL_ENTRY, DATA_HEADER, cellsPerMessage, finishData } from './messages.ts'
import { CELL_BYTES } from './layer.ts'
import { putU32 } from '../util/bytes.ts'

interface Batch { peer: Uint8Array, per: number, cur: Uint8Array | undefined, count: number }

/** Counters of an {@link CellOutbox}. */
export interface OutboxStats { cellsSent: number, messagesSent: number }

/** Batches cells per next router (see module doc). */
export class CellOutbox {
  private readonly batches = new Map<string, Batch>()
  private scheduled = false
  readonly stats: OutboxStats = { cellsSent: 0, messagesSent: 0 }

  constructor (
    private readonly send: (peer: Uint8Array, msg: Uint8Array) => void,
    private readonly maxMessage: (peer: Uint8Array) => number) {}

  /** Queues the 1024-byte cell at `buf[off]` for `tunnelId` at router `peer` (hex `peerHex`). */
  push (peer: Uint8Array, peerHex: string, tunnelId: number, buf: Uint8Array, off: number): void {
    let b = this.batches.get(peerHex)
    if (b === undefined) {
      b = { peer, per: Math.max(1, cellsPerMessage(this.maxMessage(peer))), cur: undefined, count: 0 }
      this.batches.set(peerHex, b)
    }
    if (b.cur === undefined) { b.cur = new Uint8Array(DATA_HEADER + b.per * CELL_ENTRY); b.count = 0 }
    const at = DATA_HEADER + b.count * CELL_ENTRY
    const cur = b.cur
    putU32(cur, at, tunnelId)
    cur.set(buf.subarray(off, off + CELL_BYTES), at + 4)
    b.count++
    if (!this.scheduled) { this.scheduled = true; setImmediate(() => { this.flush() }) }
    if (b.count === b.per) this.sendBatch(b)
  }

  /** Sends `b`'s message (the cells it holds) and empties it. */
  private sendBatch (b: Batch): void {
    const m = finishData(b.cur!, b.count)
    b.cur = undefined
    b.count = 0
    this.stats.messagesSent++
    this.stats.cellsSent += m[1]!
    this.send(b.peer, m)
  }

  /** Sends everything queued now. */
  flush (): void {
    this.scheduled = false
    for (const b of this.batches.values()) if (b.cur !== undefined) this.sendBatch(b)
    this.batches.clear()
  }
}
