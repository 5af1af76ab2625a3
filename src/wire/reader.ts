/**
 * A bounded cursor over a byte array: the one way Umbra decoders read bytes.
 *
 * Integers are big-endian. Every read past the end throws DecodeError ("truncated: need N bytes
 * at offset M"); every length prefix over its caller-given maximum throws DecodeError before any
 * bytes are taken. `bytes()` returns views (no copy): copy if you keep them beyond the input's
 * lifetime. It does no I/O and never allocates more than the input it was given.
 */
import { DecodeError } from '../util/errors.ts'

/** Width of a length prefix in bytes. */
export type LengthBytes = 1 | 2 | 4

/** Options of {@link Reader.varBytes} and {@link Reader.string}. */
export interface LengthOptions {
  /** Width of the big-endian length prefix; default 2 (u16). */
  lengthBytes?: LengthBytes
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** A bounded big-endian cursor over `buf`. */
export class Reader {
  private readonly view: DataView
  private pos = 0

  constructor (private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  /** Bytes consumed so far. */
  get offset (): number { return this.pos }

  /** Bytes not yet consumed. */
  get remaining (): number { return this.buf.length - this.pos }

  private need (n: number): number {
    if (n > this.buf.length - this.pos) {
      throw new DecodeError(`truncated: need ${n} bytes at offset ${this.pos}`)
    }
    const at = this.pos
    this.pos += n
    return at
  }

  /** One unsigned byte. */
  u8 (): number { return this.view.getUint8(this.need(1)) }
  /** A big-endian u16. */
  u16 (): number { return this.view.getUint16(this.need(2)) }
  /** A big-endian u32. */
  u32 (): number { return this.view.getUint32(this.need(4)) }
  /** A big-endian u64, as a bigint. */
  u64 (): bigint { return this.view.getBigUint64(this.need(8)) }

  /** A big-endian u64 that must fit a JS safe integer (e.g. a millisecond timestamp). */
  u64Number (): number {
    const at = this.pos
    const v = this.u64()
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError(`u64 at offset ${at} exceeds 2^53-1`)
    return Number(v)
  }

  /** The next `n` bytes as a view into the input (no copy). */
  bytes (n: number): Uint8Array {
    const at = this.need(n)
    return this.buf.subarray(at, at + n)
  }

  /** The bytes consumed from offset `start` up to now, as a view (e.g. the signed part). */
  since (start: number): Uint8Array {
    if (start < 0 || start > this.pos) throw new RangeError('start outside the consumed span')
    return this.buf.subarray(start, this.pos)
  }

  /** A length prefix (u8, u16 or u32) checked against `max`. */
  lengthPrefix (max: number, opts: LengthOptions = {}): number {
    const at = this.pos
    const lb = opts.lengthBytes ?? 2
    const n = lb === 1 ? this.u8() : lb === 2 ? this.u16() : this.u32()
    if (n > max) throw new DecodeError(`length ${n} at offset ${at} exceeds maximum ${max}`)
    return n
  }

  /** Length-prefixed bytes (u16 prefix unless `lengthBytes` says otherwise), at most `max`. */
  varBytes (max: number, opts: LengthOptions = {}): Uint8Array {
    return this.bytes(this.lengthPrefix(max, opts))
  }

  /** A length-prefixed UTF-8 string of at most `max` bytes; invalid UTF-8 is a DecodeError. */
  string (max: number, opts: LengthOptions = {}): string {
    const at = this.pos
    const b = this.varBytes(max, opts)
    try {
      return utf8.decode(b)
    } catch {
      throw new DecodeError(`invalid UTF-8 in string at offset ${at}`)
    }
  }

  /** Asserts every byte was consumed; throws DecodeError on trailing bytes. */
  end (): void {
    if (this.remaining !== 0) throw new DecodeError(`${this.remaining} trailing bytes at offset ${this.pos}`)
  }
}
