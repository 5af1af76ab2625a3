/**
 * Carries messages over an established link on a reliable (byte-stream) Conn.
 *
 * Sending batches: messages queued during one turn of the event loop are packed into frames of
 * up to `maxFramePlaintext` bytes, and the frames into one `conn.sendParts` (one writev: the
 * ciphertexts are not copied again) or one `conn.send`; once 128 KiB are queued, they go at
 * once. This, not the cipher, is what makes 150k msgs/s possible in Node.
 * Receiving: the StreamOpener reassembles frames; blocks are dispatched by type.
 * Does not do the handshake (link.ts) or pick transports (manager.ts).
 */
import type { Conn } from './transport.ts'
import { ClosedError, FrameError, LimitError } from '../util/errors.ts'
import { BlockType, BlockWriter, BLOCK_HEADER, keepOrCopy, parseBlocks, type BlockSink } from './blocks.ts'
import { peerClosed, type Carrier, type CarrierEvents } from './carrier.ts'
import type { StreamOpener, StreamSealer } from './stream-codec.ts'
import type { LinkLimits, LinkStats } from './types.ts'

/** Bytes of frames one flush writes at most (the rest goes in the next turn). */
const FLUSH_MAX = 256 * 1024
/**
 * Queued bytes that are written at once rather than at the end of the turn. One turn can read
 * megabytes from a busy socket (libuv reads up to 32 times 64 KiB per wakeup); without this, all
 * of it would wait for the turn to end and move along the path as one burst, each hop idle
 * while the one before it works (bench tunnel: 9.8 -> 11.8 MB/s one stream, median of 5).
 */
const FLUSH_AT = 128 * 1024

/** The stream carrier: batching sender, frame-reassembling receiver. */
export class StreamCarrier implements Carrier, BlockSink {
  private queue: Uint8Array[] = []
  private head = 0
  private queued = 0
  private scheduled = false
  private flushing = false
  private blocked = false
  private wantDrain = false
  private closed = false
  private control: Array<[number, Uint8Array]> = []
  /** The token of the one PONG owed (only the latest PING is answered). */
  private pong: Uint8Array | undefined
  private rekeyPending = false
  private readonly writer: BlockWriter
  lastSend = 0
  lastReceive = 0
  private lastRekey = 0

  constructor (private readonly conn: Conn, private readonly sealer: StreamSealer, private readonly opener: StreamOpener,
    private readonly limits: LinkLimits, private readonly stats: LinkStats, private readonly ev: CarrierEvents,
    private readonly now: () => number) {
    this.writer = new BlockWriter(limits.maxFramePlaintext, limits.padQuantum)
    this.lastSend = this.lastReceive = this.lastRekey = now()
  }

  /** Largest message this carrier takes. */
  get maxMessage (): number { return this.limits.maxFramePlaintext - BLOCK_HEADER }

  /** Every message travels whole in one frame. */
  get packetMessage (): number { return this.maxMessage }

  /** Bytes of messages queued and not yet sealed. */
  get queuedBytes (): number { return this.queued }

  /**
   * Queues a message. Returns false when the caller should wait for onDrain. Once 128 KiB are
   * queued it writes them before returning, so `onDrain` (or `onFail`) may run inside this call.
   */
  send (msg: Uint8Array): boolean {
    if (this.closed) throw new ClosedError('link is closed')
    if (msg.length > this.maxMessage) throw new LimitError(`message of ${msg.length} bytes exceeds the link's ${this.maxMessage}`)
    if (this.queued + msg.length > this.limits.maxQueuedBytes) throw new LimitError('link send queue is full')
    this.queue.push(msg)
    this.queued += msg.length
    if (this.queued >= FLUSH_AT && !this.blocked && !this.flushing) {
      // Errors here fail the link, as on the scheduled path; `onDrain` may run before we return.
      try { this.flush() } catch (err) { this.ev.onFail(err instanceof Error ? err : new Error(String(err))) }
    } else {
      this.schedule()
    }
    if (this.queued >= this.limits.highWaterBytes) { this.wantDrain = true; return false }
    return true
  }

  /** Queues a control block (PING, CLOSE, REKEY) to go out with the next frame (at most 16 pending). */
  sendControl (type: number, body: Uint8Array): void {
    if (this.closed || this.control.length >= 16) return
    this.control.push([type, body])
    this.schedule()
  }

  /** Time-based rekey: every `rekeyIntervalMs`, our sending key rotates after the next frame. */
  tick (now: number): void {
    if (now - this.lastRekey <= this.limits.rekeyIntervalMs) return
    this.lastRekey = now
    this.rekeyPending = true
    this.sendControl(BlockType.REKEY, new Uint8Array(0))
  }

  /** Bytes from the Conn. */
  onData (data: Uint8Array): void {
    if (this.closed) return
    this.lastReceive = this.now()
    this.stats.bytesReceived += data.length
    try {
      this.opener.push(data)
    } catch (err) {
      this.ev.onFail(err instanceof Error ? err : new FrameError(String(err)))
    }
  }

  /** Called by the opener for each frame plaintext. */
  onFrame (pt: Uint8Array): void {
    if (this.closed) return
    this.stats.framesReceived++
    parseBlocks(pt, this)
  }

  onBlock (type: number, body: Uint8Array): void {
    if (this.closed) return // nothing is delivered after CLOSE or a failure
    switch (type) {
      case BlockType.MSG:
        this.stats.messagesReceived++
        // The frame is ours (a fresh array): a big message is handed over as a view of it;
        // a small one is copied, so it never keeps a much larger frame alive.
        this.ev.onMessage(keepOrCopy(body))
        break
      case BlockType.PING:
        // One PONG owed at most, however many PINGs a peer packs into its frames.
        this.pong = body.slice(0, 8)
        this.schedule()
        break
      case BlockType.PONG:
        break
      case BlockType.REKEY:
        this.opener.rotate()
        this.stats.rekeys++
        break
      case BlockType.CLOSE:
        this.ev.onFail(peerClosed(body))
        break
      default:
        break // unknown block types are skipped
    }
  }

  /** Conn drained: resume flushing. */
  onConnDrain (): void {
    this.blocked = false
    this.schedule()
  }

  /** Stops sending; frees the queue. If `flushClose`, one final frame with CLOSE is written first. */
  stop (closeReason?: number): void {
    if (this.closed) return
    if (closeReason !== undefined) {
      this.control.push([BlockType.CLOSE, Uint8Array.of(closeReason)])
      try { this.flush() } catch { /* closing anyway */ }
    }
    this.closed = true
    this.queue = []
    this.queued = 0
  }

  private schedule (): void {
    if (this.scheduled || this.blocked) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      if (!this.closed) {
        try { this.flush() } catch (err) { this.ev.onFail(err instanceof Error ? err : new Error(String(err))) }
      }
    })
  }

  /** Packs queued control blocks and messages into frames and writes them in one send. */
  private flush (): void {
    // Not again from inside a flush (a Conn that closes itself within send() calls stop()).
    if (this.blocked || this.flushing) return
    this.flushing = true
    try { this.flushNow() } finally { this.flushing = false }
  }

  private flushNow (): void {
    const frameMax = this.limits.maxFramePlaintext + 18
    const parts: Uint8Array[] = []
    let off = 0
    const w = this.writer
    if (this.pong !== undefined) { this.control.push([BlockType.PONG, this.pong]); this.pong = undefined }
    while ((this.head < this.queue.length || this.control.length > 0) && off + frameMax <= FLUSH_MAX) {
      w.reset()
      let rekey = false
      let ci = 0
      while (ci < this.control.length && w.room() >= this.control[ci]![1].length) {
        const [type, body] = this.control[ci++]!
        w.add(type, body)
        if (type === BlockType.REKEY) rekey = true
      }
      if (ci > 0) this.control = this.control.slice(ci)
      while (this.head < this.queue.length) {
        const m = this.queue[this.head]!
        if (w.room() < m.length) break
        w.add(BlockType.MSG, m)
        this.head++
        this.queued -= m.length
        this.stats.messagesSent++
      }
      off += this.sealer.sealParts(w.finish(), parts)
      this.stats.framesSent++
      if (rekey && this.rekeyPending) { this.sealer.rotate(); this.rekeyPending = false; this.stats.rekeys++ }
    }
    if (this.head > 1024 || this.head === this.queue.length) { this.queue = this.queue.slice(this.head); this.head = 0 }
    if (off > 0) {
      this.stats.bytesSent += off
      this.lastSend = this.now()
      // The frames' parts are ours alone: a Conn that can take them writes them without a copy.
      const ok = this.conn.sendParts !== undefined ? this.conn.sendParts(parts) : this.conn.send(Buffer.concat(parts, off))
      if (!ok) this.blocked = true
    }
    if (!this.blocked && (this.head < this.queue.length || this.control.length > 0)) this.schedule()
    if (this.wantDrain && this.queued < this.limits.highWaterBytes / 2) {
      this.wantDrain = false
      this.ev.onDrain()
    }
  }
}
