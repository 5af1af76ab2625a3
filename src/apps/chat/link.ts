/**
 * One stream between two chat peers (a thin driver over a Duplex, a SAM stream in production):
 * frames out, frame records in, with a bounded receive buffer (`wire/frames.ts`), a frame-rate
 * backstop (a peer sending faster than any honest relay would have its excess dropped), a
 * bounded send queue (a peer that does not read is cut off) and the rooms this link carries.
 */
import type { Duplex } from 'node:stream'
import { FrameSplitter, frameRecord } from '../../wire/frames.ts'
import type { PlainRecord } from '../../wire/msgpack.ts'
import { TokenBucket } from '../../util/token-bucket.ts'
import { FRAME_MAX_BYTES, frameRecordOf, type Frame } from './messages.ts'

/** Frames per second a link may bring, and burst. */
export const LINK_RATE = 100
export const LINK_BURST = 400
/** Bytes queued to a peer before it is cut off as not reading. */
export const MAX_QUEUED_BYTES = 1024 * 1024

/** What a link reports to its owner. */
export interface LinkHandlers {
  frame: (link: Link, record: PlainRecord) => void
  /** A frame dropped or the stream cut for `reason` (counted by the owner). */
  drop: (reason: 'link-rate' | 'malformed' | 'slow-peer') => void
  close: (link: Link) => void
}

/** See module doc. */
export class Link {
  /** Room ids (hex) this link carries. */
  readonly rooms = new Set<string>()
  /** Room ids (hex) → when we sent `join` on this link (until its welcome, or a timeout). */
  readonly joining = new Map<string, number>()
  /** Room ids (hex) → history frames still accepted on this link, and until when (after a join we sent). */
  readonly historyBudget = new Map<string, { left: number, until: number }>()
  lastActive: number
  private readonly splitter = new FrameSplitter(FRAME_MAX_BYTES)
  private readonly bucket: TokenBucket
  private closed = false

  constructor (
    private readonly socket: Duplex,
    /** The peer's base64 destination. */
    readonly remote: string,
    /** Hex of its destination hash. */
    readonly remoteHash: string,
    readonly outgoing: boolean,
    private readonly handlers: LinkHandlers,
    private readonly now: () => number
  ) {
    this.lastActive = now()
    this.bucket = new TokenBucket(LINK_RATE, LINK_BURST, this.lastActive)
    socket.on('data', (chunk: Uint8Array) => { this.onData(chunk) })
    socket.on('error', () => {})
    socket.on('close', () => { this.finish() })
    socket.on('end', () => { this.close() })
  }

  get isOpen (): boolean { return !this.closed }

  /** Queues a frame; false (and the link cut) if the peer is not reading or the link is closed. */
  send (frame: Frame): boolean {
    if (this.closed) return false
    if (this.socket.writableLength > MAX_QUEUED_BYTES) {
      this.handlers.drop('slow-peer')
      this.close()
      return false
    }
    let bytes: Uint8Array
    try {
      bytes = frameRecord(frameRecordOf(frame), FRAME_MAX_BYTES)
    } catch {
      // Cannot happen for frames built within the limits; never let it escape a data handler.
      return false
    }
    this.socket.write(bytes)
    this.lastActive = this.now()
    return true
  }

  close (): void {
    if (this.closed) return
    this.socket.destroy()
    this.finish()
  }

  private onData (chunk: Uint8Array): void {
    if (this.closed) return
    let records: PlainRecord[]
    try {
      records = this.splitter.push(chunk)
    } catch {
      // The framing is broken: nothing after this can be trusted.
      this.handlers.drop('malformed')
      this.close()
      return
    }
    const now = this.now()
    // Only whole frames count as activity: a trickle of bytes does not keep a link alive.
    if (records.length > 0) this.lastActive = now
    for (const r of records) {
      if (this.closed) return
      if (!this.bucket.take(1, now)) { this.handlers.drop('link-rate'); continue }
      this.handlers.frame(this, r)
    }
  }

  private finish (): void {
    if (this.closed) return
    this.closed = true
    this.handlers.close(this)
  }
}
