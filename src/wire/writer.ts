/**
 * A growable big-endian byte writer: the one way Umbra encoders produce bytes, mirroring
 * {@link Reader}. Values out of range and lengths over their maximum throw LimitError (the
 * caller tried to encode something the matching decoder would refuse). An optional `limit`
 * stops an encoding as soon as it grows past a codec's maximum size.
 */
import { LimitError } from '../util/errors.ts'
import type { LengthBytes, LengthOptions } from './reader.ts'

/** Options of {@link Writer}. */
export interface WriterOptions {
  /** Initial capacity in bytes (default 256). */
  initialSize?: number
  /** Maximum total size; writing past it throws LimitError. */
  limit?: number
}

const utf8 = new TextEncoder()
const LIMITS: Record<LengthBytes, number> = { 1: 0xff, 2: 0xffff, 4: 0xffff_ffff }

/** A growable big-endian writer. Methods chain; `finish()` returns the bytes. */
export class Writer {
  private buf: Uint8Array
  private view: DataView
  private len = 0
  private readonly limit: number

  constructor (opts: WriterOptions = {}) {
    this.buf = new Uint8Array(opts.initialSize ?? 256)
    this.view = new DataView(this.buf.buffer)
    this.limit = opts.limit ?? Number.MAX_SAFE_INTEGER
  }

  /** Bytes written so far. */
  get length (): number { return this.len }

  /** Makes room for `n` bytes and returns their offset. May replace `buf`/`view`: call first. */
  private reserve (n: number): number {
    const need = this.len + n
    if (need > this.limit) throw new LimitError(`encoding exceeds ${this.limit} bytes`)
    if (need > this.buf.length) {
      const next = new Uint8Array(Math.max(need, this.buf.length * 2))
      next.set(this.buf.subarray(0, this.len))
      this.buf = next
      this.view = new DataView(next.buffer)
    }
    const at = this.len
    this.len = need
    return at
  }

  private static check (v: number, max: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > max) throw new LimitError(`${what} value ${v} out of range`)
  }

  /** One unsigned byte. */
  u8 (v: number): this { Writer.check(v, 0xff, 'u8'); const at = this.reserve(1); this.view.setUint8(at, v); return this }
  /** A big-endian u16. */
  u16 (v: number): this { Writer.check(v, 0xffff, 'u16'); const at = this.reserve(2); this.view.setUint16(at, v); return this }
  /** A big-endian u32. */
  u32 (v: number): this { Writer.check(v, 0xffff_ffff, 'u32'); const at = this.reserve(4); this.view.setUint32(at, v); return this }
  /** A big-endian u64 from a bigint or a safe non-negative integer. */
  u64 (v: bigint | number): this {
    if (typeof v === 'number') { Writer.check(v, Number.MAX_SAFE_INTEGER, 'u64'); v = BigInt(v) }
    if (v < 0n || v > 0xffff_ffff_ffff_ffffn) throw new LimitError(`u64 value ${v} out of range`)
    const at = this.reserve(8)
    this.view.setBigUint64(at, v)
    return this
  }

  /** Raw bytes, no prefix. */
  bytes (b: Uint8Array): this { const at = this.reserve(b.length); this.buf.set(b, at); return this }

  /** A length prefix (u8, u16 or u32) checked against `max`. */
  lengthPrefix (n: number, max: number, opts: LengthOptions = {}): this {
    const lb = opts.lengthBytes ?? 2
    if (n > max) throw new LimitError(`length ${n} exceeds maximum ${max}`)
    Writer.check(n, LIMITS[lb], `u${lb * 8} length`)
    return lb === 1 ? this.u8(n) : lb === 2 ? this.u16(n) : this.u32(n)
  }

  /** Length-prefixed bytes (u16 prefix unless `lengthBytes` says otherwise), at most `max`. */
  varBytes (b: Uint8Array, max: number, opts: LengthOptions = {}): this {
    return this.lengthPrefix(b.length, max, opts).bytes(b)
  }

  /** A length-prefixed UTF-8 string of at most `max` bytes. */
  string (s: string, max: number, opts: LengthOptions = {}): this {
    return this.varBytes(utf8.encode(s), max, opts)
  }

  /** The bytes written, as a new array of exactly that length. */
  finish (): Uint8Array { return this.buf.slice(0, this.len) }
}
