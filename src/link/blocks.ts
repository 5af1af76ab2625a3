/**
 * Blocks: the units inside a decrypted link frame (stream transports) or packet (datagram
 * transports). Pure codec, no I/O.
 *
 *   block = type u8 | len u16 (big-endian) | body (len bytes)
 *
 * Types: PAD (type 0: everything from it to the end of the frame is padding), MSG (one message), AMSG (id u32 | message: ARQ-tracked, datagram
 * links), ACK (ARQ acknowledgement, layout in docs/link-arq.md), PING / PONG (8-byte token),
 * CLOSE (reason u8), REKEY (empty: the sender switches keys after this frame).
 * Unknown block types are skipped (forward compatibility); a block overrunning its frame is a
 * FrameError. `BlockWriter` fills a reusable buffer and pads the result to a size quantum, so
 * frame sizes say little about what they carry.
 */
import { FrameError } from '../util/errors.ts'

export const BlockType = {
  PAD: 0,
  MSG: 1,
  AMSG: 2,
  ACK: 3,
  PING: 4,
  PONG: 5,
  CLOSE: 6,
  REKEY: 7,
  FRAG: 8
} as const

/** Bytes of a block header. */
export const BLOCK_HEADER = 3

/** Close reasons carried in a CLOSE block. */
export const CloseReason = { NORMAL: 0, ERROR: 1, LIMIT: 2, REPLACED: 3, IDLE: 4 } as const

/**
 * Receives the blocks of one frame or packet. `body` is a view into the plaintext (both carriers
 * give a fresh one per frame or packet): pass it on or copy it, as {@link keepOrCopy} decides.
 */
export interface BlockSink {
  onBlock (type: number, body: Uint8Array): void
}

/** Walks the blocks of a frame plaintext; throws FrameError on a block overrunning the frame. */
export function parseBlocks (pt: Uint8Array, sink: BlockSink): void {
  let off = 0
  const n = pt.length
  while (off < n) {
    const type = pt[off]!
    if (type === BlockType.PAD) return // padding runs to the end of the frame
    if (off + BLOCK_HEADER > n) throw new FrameError('truncated block header')
    const len = (pt[off + 1]! << 8) | pt[off + 2]!
    const start = off + BLOCK_HEADER
    const end = start + len
    if (end > n) throw new FrameError('block overruns its frame')
    sink.onBlock(type, pt.subarray(start, end))
    off = end
  }
}

/** Builds one frame plaintext in a reusable buffer. */
export class BlockWriter {
  /** Grows (doubling, up to `capacity`) as frames need it, so idle links stay small. */
  buf: Uint8Array
  len = 0

  /** @param capacity largest frame plaintext; @param quantum pad every frame to a multiple of this */
  constructor (readonly capacity: number, readonly quantum: number) {
    this.buf = new Uint8Array(Math.min(capacity, 2048))
  }

  /** Makes room for `n` bytes in all. */
  private fit (n: number): void {
    if (n <= this.buf.length) return
    const next = new Uint8Array(Math.min(this.capacity, Math.max(n, 2 * this.buf.length)))
    next.set(this.buf.subarray(0, this.len))
    this.buf = next
  }

  /** Bytes still free for a block body (after its header). */
  room (): number { return this.capacity - this.len - BLOCK_HEADER }

  reset (): void { this.len = 0 }

  /** Appends a block; the caller checks `room()` first. */
  add (type: number, body: Uint8Array): void {
    const o = this.len
    const n = body.length
    this.fit(o + BLOCK_HEADER + n)
    this.buf[o] = type
    this.buf[o + 1] = n >>> 8
    this.buf[o + 2] = n & 0xff
    this.buf.set(body, o + BLOCK_HEADER)
    this.len = o + BLOCK_HEADER + n
  }

  /** Appends a block whose body is `id u32 | body`. */
  addWithId (type: number, id: number, body: Uint8Array): void {
    const o = this.len
    const n = body.length + 4
    this.fit(o + BLOCK_HEADER + n)
    const b = this.buf
    b[o] = type
    b[o + 1] = n >>> 8
    b[o + 2] = n & 0xff
    b[o + 3] = id >>> 24
    b[o + 4] = (id >>> 16) & 0xff
    b[o + 5] = (id >>> 8) & 0xff
    b[o + 6] = id & 0xff
    b.set(body, o + 7)
    this.len = o + 7 + body.length
  }

  /**
   * Pads to the next multiple of the quantum (capped at capacity and `max`) and returns the
   * frame plaintext (a view of the internal buffer, valid until the next reset).
   */
  finish (max = this.capacity): Uint8Array {
    const cap = Math.min(this.capacity, max)
    let target = Math.ceil(this.len / this.quantum) * this.quantum
    if (target === 0) target = Math.min(this.quantum, cap)
    if (target > cap) target = cap
    if (target > this.len) {
      this.fit(target)
      // A PAD block runs to the end of the frame; a 1–2 byte gap is zero bytes (type PAD too).
      this.buf.fill(0, this.len, target)
      this.len = target
    }
    return this.buf.subarray(0, this.len)
  }
}

/**
 * A received block body (a view of a fresh frame or packet plaintext the receiver owns) as the
 * message handed on: the view itself when it is at least a quarter of the array it views, so a
 * kept message holds at most four times its size alive; otherwise a copy of its own.
 */
export function keepOrCopy (body: Uint8Array): Uint8Array {
  return body.length * 4 >= body.buffer.byteLength ? body : body.slice()
}
