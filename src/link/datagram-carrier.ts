/**
 * Carries messages over an established link on an unreliable (datagram) Conn.
 *
 * The ARQ state machine (arq.ts) decides what each packet holds: new or retransmitted messages
 * and acknowledgements; this driver seals each packet into one datagram, runs the ARQ's timer,
 * and dispatches what the peer sent. Every message (MSG, PING, CLOSE blocks) travels as an ARQ
 * message, so it is delivered exactly once despite loss, duplication and reordering. A message
 * too big for one datagram travels as FRAG pieces, each its own ARQ message (defrag.ts).
 *
 *   packet plaintext = [ACK block] AMSG block* PAD      (AMSG body = id u32 | inner block)
 */
import type { Conn } from './transport.ts'
import { ClosedError, LimitError, TimeoutError } from '../util/errors.ts'
import { Arq, type ArqMessage } from './arq.ts'
import { BlockType, BlockWriter, BLOCK_HEADER, keepOrCopy, parseBlocks, type BlockSink } from './blocks.ts'
import { DATAGRAM_OVERHEAD, type DatagramOpener, type DatagramSealer } from './datagram-codec.ts'
import { peerClosed, type Carrier, type CarrierEvents } from './carrier.ts'
import type { LinkLimits, LinkStats } from './types.ts'
import { Defragmenter, FRAG_HEADER, MAX_PIECES, splitMessage } from './defrag.ts'

/** Room kept for an ACK block beside a full-size message. */
const ACK_ROOM = 64
const AMSG_HEADER = BLOCK_HEADER + 4
/** Partial messages (and their bytes) a receiver keeps waiting for FRAG pieces. */
const MAX_PARTIAL = 1024
const MAX_PARTIAL_BYTES = 1024 * 1024
/**
 * The largest message a datagram link takes, split into FRAG pieces over datagrams (bytes): a
 * lost piece resends only its packet, but a message waits for all of them.
 */
export const MAX_SPLIT_MESSAGE = 16 * 1024 - BLOCK_HEADER
/**
 * Packets from this size on go to the Conn as their sealed parts (no copy into a packet buffer);
 * smaller ones are sealed into one pooled buffer, which costs less than three arrays and an
 * iovec for a small datagram (1472-byte path MTU: 42–48k against 49–57k messages/s).
 */
const PARTS_MIN = 2048
/** ACK every 8th data packet (or after the ARQ's ack delay): each ACK is a datagram the sender must receive and open. */
const ACK_EVERY = 8

/** The datagram carrier: ARQ-driven sender, authenticated receiver. */
export class DatagramCarrier implements Carrier {
  private readonly arq: Arq
  private readonly writer: BlockWriter
  private readonly payload: number
  private timer: NodeJS.Timeout | undefined
  private timerAt = Infinity
  private scheduled = false
  private closed = false
  private wantDrain = false
  private pending: { msgs: ArqMessage[], ack: Uint8Array | undefined } = { msgs: [], ack: undefined }
  private readonly outer: BlockSink
  private readonly inner: BlockSink
  private readonly defrag: Defragmenter
  /** Largest message sent whole, and the largest taken at all (split into FRAG pieces). */
  readonly packetMessage: number
  readonly maxMessage: number
  private readonly piece: number
  private fragKey = 0
  lastSend = 0
  lastReceive = 0

  constructor (private readonly conn: Conn, private readonly sealer: DatagramSealer, private readonly opener: DatagramOpener,
    private readonly limits: LinkLimits, private readonly stats: LinkStats, private readonly ev: CarrierEvents,
    private readonly now: () => number, private readonly onAuthenticated: () => void) {
    this.payload = conn.mtu - DATAGRAM_OVERHEAD
    this.arq = new Arq({ maxPacketPayload: this.payload, maxQueuedBytes: limits.maxQueuedBytes, messageOverhead: AMSG_HEADER, ackOverhead: BLOCK_HEADER, ackEvery: ACK_EVERY })
    this.writer = new BlockWriter(this.payload, Math.min(limits.padQuantum, this.payload))
    this.packetMessage = this.payload - AMSG_HEADER - BLOCK_HEADER - ACK_ROOM
    this.piece = this.packetMessage - FRAG_HEADER
    // Messages split up to MAX_SPLIT_MESSAGE (and a frame's size), unless the datagrams are too small to split into.
    const split = Math.min(MAX_SPLIT_MESSAGE, limits.maxFramePlaintext - BLOCK_HEADER, MAX_PIECES * this.piece)
    this.maxMessage = this.piece >= 64 ? Math.max(this.packetMessage, split) : this.packetMessage
    this.defrag = new Defragmenter({ maxMessage: this.maxMessage, maxPartial: MAX_PARTIAL, maxPartialBytes: MAX_PARTIAL_BYTES })
    this.lastSend = this.lastReceive = now()
    this.outer = {
      onBlock: (type, body) => {
        if (type === BlockType.AMSG && body.length >= 4) {
          const id = ((body[0]! << 24) | (body[1]! << 16) | (body[2]! << 8) | body[3]!) >>> 0
          this.pending.msgs.push({ id, data: keepOrCopy(body.subarray(4)) })
        } else if (type === BlockType.ACK) {
          this.pending.ack = body.slice()
        }
      }
    }
    this.inner = {
      onBlock: (type, body) => {
        if (this.closed) return
        if (type === BlockType.MSG) {
          this.stats.messagesReceived++
          this.ev.onMessage(keepOrCopy(body))
        } else if (type === BlockType.FRAG) {
          const whole = this.defrag.add(body)
          if (whole !== undefined) { this.stats.messagesReceived++; this.ev.onMessage(whole) }
        } else if (type === BlockType.CLOSE) {
          this.ev.onFail(peerClosed(body))
        } // PING: its ACK is the answer; unknown types are skipped
      }
    }
  }

  /** Bytes accepted and not yet acknowledged by the peer. */
  get queuedBytes (): number { return this.arq.stats.queuedBytes }

  /** Queues a message for reliable delivery. Returns false when the caller should wait for onDrain. */
  send (msg: Uint8Array): boolean {
    if (this.closed) throw new ClosedError('link is closed')
    if (msg.length > this.maxMessage) throw new LimitError(`message of ${msg.length} bytes exceeds the link's ${this.maxMessage}`)
    if (msg.length <= this.packetMessage) {
      this.arq.enqueue(wrap(BlockType.MSG, msg))
    } else {
      // All pieces or none: a message cut short would wait at the peer until evicted.
      const pieces = splitMessage(this.fragKey, msg, this.piece)
      const bytes = pieces.reduce((a, b) => a + BLOCK_HEADER + b.length, 0)
      if (this.arq.stats.queuedBytes + bytes > this.limits.maxQueuedBytes) throw new LimitError(`send queue full (${this.arq.stats.queuedBytes} bytes)`)
      this.fragKey = (this.fragKey + 1) >>> 0
      for (const p of pieces) this.arq.enqueue(wrap(BlockType.FRAG, p))
    }
    this.stats.messagesSent++
    this.schedule()
    if (this.arq.stats.queuedBytes >= this.limits.highWaterBytes) { this.wantDrain = true; return false }
    return true
  }

  /** Queues a control block (PING, CLOSE) as a reliable message. */
  sendControl (type: number, body: Uint8Array): void {
    if (this.closed) return
    try { this.arq.enqueue(wrap(type, body)) } catch { return }
    this.schedule()
  }

  /** One datagram from the Conn. Forged, replayed and stale packets are counted and dropped. */
  onData (d: Uint8Array): void {
    if (this.closed) return
    const r = this.opener.openFresh(d)
    if (r === undefined) { this.stats.packetsDropped = this.opener.dropped; return }
    this.onAuthenticated()
    const now = this.now()
    this.lastReceive = now
    this.stats.bytesReceived += d.length
    this.stats.framesReceived++
    this.pending = { msgs: [], ack: undefined }
    let units: Uint8Array[]
    try {
      parseBlocks(r.pt, this.outer)
      units = this.arq.onPacket(r.pn, this.pending.msgs, this.pending.ack, now)
    } catch {
      this.stats.packetsDropped++ // an authenticated but malformed packet: ignore it
      units = []
    }
    for (const u of units) {
      // One malformed message (a bad FRAG piece) never costs the others of its packet.
      try { parseBlocks(u, this.inner) } catch { this.stats.packetsDropped++ }
    }
    if (this.closed) return
    this.schedule()
    this.checkDrain()
  }

  /** No-op: datagram sends never block (the ARQ's window paces them). */
  onConnDrain (): void {}

  /** Timer housekeeping from the link (keys rotate by packet count, not time). */
  tick (_now: number): void { this.schedule() }

  /** Stops; with a reason, sends a final CLOSE first (best effort). */
  stop (closeReason?: number): void {
    if (this.closed) return
    if (closeReason !== undefined) {
      try { this.arq.enqueue(wrap(BlockType.CLOSE, Uint8Array.of(closeReason))); this.flush() } catch { /* closing anyway */ }
    }
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
  }

  private schedule (): void {
    if (this.scheduled || this.closed) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      if (!this.closed) this.safeFlush()
    })
  }

  /** flush() from a timer or setImmediate: a throw fails this link, never the process. */
  private safeFlush (): void {
    try { this.flush() } catch (err) { this.ev.onFail(err instanceof Error ? err : new Error(String(err))) }
  }

  private flush (): void {
    const now = this.now()
    for (let i = 0; i < 512; i++) {
      const pkt = this.arq.nextPacket(now)
      if (pkt === undefined) break
      const w = this.writer
      w.reset()
      if (pkt.ack !== undefined) w.add(BlockType.ACK, pkt.ack)
      for (const m of pkt.messages) w.addWithId(BlockType.AMSG, m.id, m.data)
      const pt = w.finish(this.payload)
      const n = pt.length + DATAGRAM_OVERHEAD
      try {
        if (this.conn.sendParts !== undefined && pt.length >= PARTS_MIN) {
          // The sealed parts are ours alone: the Conn sends them as one datagram, uncopied.
          this.conn.sendParts(this.sealer.sealParts(pkt.pn, pt))
        } else {
          const out = Buffer.allocUnsafe(n) // small ones come from Node's buffer pool
          this.sealer.seal(pkt.pn, pt, out, 0)
          this.conn.send(out)
        }
      } catch { break }
      this.stats.bytesSent += n
      this.stats.framesSent++
      this.lastSend = now
      if (i === 511) this.schedule()
    }
    const st = this.arq.stats
    this.stats.retransmits = st.retransmits
    if (this.arq.failed) { this.ev.onFail(new TimeoutError('peer unreachable: retransmissions exhausted')); return }
    this.armTimer()
    this.checkDrain()
  }

  private armTimer (): void {
    const at = this.arq.nextTimeout()
    if (at === undefined) return
    if (this.timer !== undefined && at >= this.timerAt) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timerAt = at
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.timerAt = Infinity
      if (this.closed) return
      try { this.arq.onTimer(this.now()) } catch (err) { this.ev.onFail(err instanceof Error ? err : new Error(String(err))); return }
      this.safeFlush()
    }, Math.max(0, at - this.now()))
  }

  private checkDrain (): void {
    if (this.wantDrain && this.arq.stats.queuedBytes < this.limits.highWaterBytes / 2) {
      this.wantDrain = false
      this.ev.onDrain()
    }
  }
}

function wrap (type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(BLOCK_HEADER + body.length)
  out[0] = type
  out[1] = body.length >>> 8
  out[2] = body.length & 0xff
  out.set(body, BLOCK_HEADER)
  return out
}
