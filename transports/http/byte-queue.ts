/**
 * A FIFO of byte chunks addressed by absolute stream offset, for poll mode: the server keeps
 * sent-but-unacked bytes in one (dropping them on ack, re-reading them on a repeated poll) and
 * the client queues bytes for its next POST in another. `push` copies (callers may reuse
 * their buffers); reads concatenate into one Buffer. Pure data structure.
 */

/** Bytes [start, end) of a stream, in pushed chunks. */
export class ByteQueue {
  private chunks: Uint8Array[] = []
  /** Offset in `chunks[0]` of the first live byte. */
  private head = 0
  /** Absolute offset of the first byte held. */
  start = 0
  /** Number of bytes held. */
  length = 0

  /** Absolute offset just past the last byte held. */
  get end (): number { return this.start + this.length }

  /** Appends a copy of `data`. */
  push (data: Uint8Array): void {
    if (data.byteLength === 0) return
    this.chunks.push(Buffer.from(data))
    this.length += data.byteLength
  }

  /** Forgets every byte before absolute offset `offset` (clamped to what is held). */
  dropTo (offset: number): void {
    let n = Math.min(offset, this.end) - this.start
    if (n <= 0) return
    this.start += n
    this.length -= n
    while (n > 0) {
      const c = this.chunks[0] as Uint8Array
      const left = c.byteLength - this.head
      if (n < left) { this.head += n; return }
      n -= left
      this.chunks.shift()
      this.head = 0
    }
  }

  /** Copies up to `max` bytes from absolute offset `from` (≥ start) into one Buffer. */
  read (from: number, max: number): Buffer {
    let skip = from - this.start
    const n = Math.max(0, Math.min(max, this.end - from))
    const out = Buffer.allocUnsafe(n)
    let w = 0
    for (let i = 0; i < this.chunks.length && w < n; i++) {
      const c = this.chunks[i] as Uint8Array
      let off = i === 0 ? this.head : 0
      const avail = c.byteLength - off
      if (skip >= avail) { skip -= avail; continue }
      off += skip
      skip = 0
      const k = Math.min(c.byteLength - off, n - w)
      out.set(c.subarray(off, off + k), w)
      w += k
    }
    return out
  }

  /** Removes and returns up to `max` bytes from the front. */
  take (max: number): Buffer {
    const out = this.read(this.start, max)
    this.dropTo(this.start + out.length)
    return out
  }
}
