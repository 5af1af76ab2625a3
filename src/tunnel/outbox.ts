/**
 * Outgoing cells, batched per next router: cells queued in one turn of the event loop go out
 * together as TUNNEL_DATA link messages of as many cells as the link's message size allows
 * (one AEAD, one frame and, over UDP, one datagram for many cells). A message leaves as soon as
 * it is full; the last, partly filled one at the end of the turn. Each cell is copied once,
 * straight into the message it leaves in. Bounded: cells beyond `maxQueuedCells` per router
 * are dropped (the stream layer above retransmits).
 */
import { CELL_ENTRY, DATA_HEADER, cellsPerMessage, finishData } from './messages.ts'
import { CELL_BYTES } from './layer.ts'
import { putU32 } from '../util/bytes.ts'

interface Batch { peer: Uint8Array, per: number, msgs: Uint8Array[], cur: Uint8Array | undefined, count: number, queued: number }

/** Counters of an {@link CellOutbox}. */
export interface OutboxStats { cellsSent: number, messagesSent: number, dropped: number }

/** Batches cells per next router (see module doc). */
export class CellOutbox {
  private readonly batches = new Map<string, Batch>()
  private scheduled = false
  readonly stats: OutboxStats = { cellsSent: 0, messagesSent: 0, dropped: 0 }

  constructor (
    private readonly send: (peer: Uint8Array, msg: Uint8Array) => void,
    private readonly maxMessage: (peer: Uint8Array) => number,
    private readonly maxQueuedCells = 4096) {}

  /** Queues the 1024-byte cell at `buf[off]` for `tunnelId` at router `peer` (hex `peerHex`). */
  push (peer: Uint8Array, peerHex: string, tunnelId: number, buf: Uint8Array, off: number): void {
    let b = this.batches.get(peerHex)
    if (b === undefined) {
      b = { peer, per: Math.max(1, cellsPerMessage(this.maxMessage(peer))), msgs: [], cur: undefined, count: 0, queued: 0 }
      this.batches.set(peerHex, b)
    }
    if (b.queued >= this.maxQueuedCells) { this.stats.dropped++; return }
    if (b.cur === undefined) { b.cur = new Uint8Array(DATA_HEADER + b.per * CELL_ENTRY); b.count = 0 }
    const at = DATA_HEADER + b.count * CELL_ENTRY
    const cur = b.cur
    putU32(cur, at, tunnelId)
    cur.set(buf.subarray(off, off + CELL_BYTES), at + 4)
    b.count++
    b.queued++
    if (b.count === b.per) {
      // A full message leaves at once, not at the end of the turn: while this turn still
      // works through what one socket read brought, the next hop already has it.
      this.seal(b)
      this.sendOne(b.peer, b.msgs.pop()!)
      b.queued -= b.per
    }
    if (!this.scheduled) { this.scheduled = true; setImmediate(() => { this.flush() }) }
  }

  private seal (b: Batch): void {
    b.msgs.push(finishData(b.cur!, b.count))
    b.cur = undefined
    b.count = 0
  }

  private sendOne (peer: Uint8Array, m: Uint8Array): void {
    this.stats.messagesSent++
    this.stats.cellsSent += m[1]!
    this.send(peer, m)
  }

  /** Sends everything queued now. */
  flush (): void {
    this.scheduled = false
    for (const b of this.batches.values()) {
      if (b.cur !== undefined) this.seal(b)
      for (const m of b.msgs) this.sendOne(b.peer, m)
    }
    this.batches.clear()
  }
}
