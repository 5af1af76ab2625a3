/**
 * The ACK block codec of the link ARQ (docs/link-arq.md): which packet numbers a receiver got,
 * as a largest number, an ack delay and at most {@link MAX_ACK_RANGES} ranges, QUIC-style.
 * Pure and bounded: decoding never allocates more than {@link MAX_ACK_RANGES} ranges and
 * rejects truncated, trailing, oversized or inconsistent input with DecodeError. It does not
 * decide what to acknowledge (see arq-recv.ts) nor act on an ACK (see arq.ts).
 *
 *   ack   = largest varint | delay varint (ms) | extra varint (0..31) | first varint
 *           | extra × (gap varint | len varint)
 *
 * The first range is [largest − first, largest]. Each further range lies below the previous
 * one (whose smallest number is `lo`): hi = lo − gap − 2, lo' = hi − len. Varints are QUIC's
 * (RFC 9000 §16): the top two bits of the first byte give the length 1, 2, 4 or 8 bytes;
 * values above 2^53 − 1 are refused.
 */
import { ConfigError, DecodeError, LimitError } from '../util/errors.ts'

/** Most ranges one ACK block carries (and decodes). */
export const MAX_ACK_RANGES = 32

/** An inclusive range of packet numbers, `lo <= hi`. */
export interface AckRange { lo: number, hi: number }

/** A decoded ACK block. `ranges` are disjoint, non-adjacent and in descending order. */
export interface AckBlock {
  /** Largest acknowledged packet number (`ranges[0].hi`). */
  largest: number
  /** Milliseconds the receiver held the largest packet before acknowledging it. */
  ackDelayMs: number
  /** Received packet numbers, highest range first; never empty. */
  ranges: AckRange[]
}

/** Encoded length of `v` as a QUIC varint. */
export function varintSize (v: number): number {
  return v < 0x40 ? 1 : v < 0x4000 ? 2 : v < 0x4000_0000 ? 4 : 8
}

function putVarint (out: Uint8Array, o: number, v: number): number {
  if (v < 0x40) { out[o] = v; return o + 1 }
  if (v < 0x4000) { out[o] = 0x40 | (v >>> 8); out[o + 1] = v & 0xff; return o + 2 }
  const dv = new DataView(out.buffer, out.byteOffset)
  if (v < 0x4000_0000) { dv.setUint32(o, (v | 0x8000_0000) >>> 0); return o + 4 }
  dv.setUint32(o, (Math.floor(v / 2 ** 32) | 0xc000_0000) >>> 0)
  dv.setUint32(o + 4, v % 2 ** 32)
  return o + 8
}

/** A bounded cursor reading QUIC varints; short input or a value over 2^53 − 1 is DecodeError. */
class VarintReader {
  pos = 0
  constructor (private readonly b: Uint8Array) {}
  get done (): boolean { return this.pos === this.b.length }
  next (): number {
    const b = this.b
    const first = b[this.pos]
    if (first === undefined) throw new DecodeError(`ack: truncated at offset ${this.pos}`)
    const n = 1 << (first >>> 6)
    if (this.pos + n > b.length) throw new DecodeError(`ack: truncated varint at offset ${this.pos}`)
    let hi = first & 0x3f
    let v = 0
    if (n === 8) {
      for (let i = 1; i < 4; i++) hi = hi * 256 + b[this.pos + i]!
      if (hi >= 2 ** 21) throw new DecodeError(`ack: varint at offset ${this.pos} exceeds 2^53-1`)
      v = hi
      for (let i = 4; i < 8; i++) v = v * 256 + b[this.pos + i]!
    } else {
      v = hi
      for (let i = 1; i < n; i++) v = v * 256 + b[this.pos + i]!
    }
    this.pos += n
    return v
  }
}

function checkRanges (block: AckBlock): void {
  const r = block.ranges
  if (r.length === 0) throw new ConfigError('ack: no ranges')
  if (r[0]!.hi !== block.largest) throw new ConfigError('ack: largest must equal ranges[0].hi')
  if (!Number.isSafeInteger(block.ackDelayMs) || block.ackDelayMs < 0) throw new ConfigError('ack: bad delay')
  let prevLo = Infinity
  for (const { lo, hi } of r) {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || lo < 0 || lo > hi || hi > prevLo - 2) {
      throw new ConfigError('ack: ranges must be descending, disjoint and non-adjacent')
    }
    prevLo = lo
  }
}

/**
 * Encodes an ACK block. Ranges past {@link MAX_ACK_RANGES}, or past what fits in `maxBytes`,
 * are left off (lowest first). Throws ConfigError on invalid ranges and LimitError when not even
 * the first range fits in `maxBytes`.
 */
export function encodeAck (block: AckBlock, maxBytes = Infinity): Uint8Array {
  checkRanges(block)
  const r = block.ranges
  const first = r[0]!
  let size = varintSize(block.largest) + varintSize(block.ackDelayMs) + 1 + varintSize(first.hi - first.lo)
  if (size > maxBytes) throw new LimitError(`ack: ${size} bytes do not fit in ${maxBytes}`)
  let n = 1
  for (; n < r.length && n < MAX_ACK_RANGES; n++) {
    const add = varintSize(r[n - 1]!.lo - r[n]!.hi - 2) + varintSize(r[n]!.hi - r[n]!.lo)
    if (size + add > maxBytes) break
    size += add
  }
  const out = new Uint8Array(size)
  let o = putVarint(out, 0, block.largest)
  o = putVarint(out, o, block.ackDelayMs)
  o = putVarint(out, o, n - 1)
  o = putVarint(out, o, first.hi - first.lo)
  for (let i = 1; i < n; i++) {
    o = putVarint(out, o, r[i - 1]!.lo - r[i]!.hi - 2)
    o = putVarint(out, o, r[i]!.hi - r[i]!.lo)
  }
  return out
}

/** Decodes an ACK block; anything truncated, trailing, oversized or inconsistent is DecodeError. */
export function decodeAck (bytes: Uint8Array): AckBlock {
  const rd = new VarintReader(bytes)
  const largest = rd.next()
  const ackDelayMs = rd.next()
  const extra = rd.next()
  if (extra >= MAX_ACK_RANGES) throw new DecodeError(`ack: ${extra + 1} ranges exceed ${MAX_ACK_RANGES}`)
  const firstLen = rd.next()
  if (firstLen > largest) throw new DecodeError('ack: first range below zero')
  const ranges: AckRange[] = [{ lo: largest - firstLen, hi: largest }]
  let lo = largest - firstLen
  for (let i = 0; i < extra; i++) {
    const gap = rd.next()
    const len = rd.next()
    const hi = lo - gap - 2
    if (hi < 0 || len > hi) throw new DecodeError('ack: range below zero')
    lo = hi - len
    ranges.push({ lo, hi })
  }
  if (!rd.done) throw new DecodeError(`ack: ${bytes.length - rd.pos} trailing bytes`)
  return { largest, ackDelayMs, ranges }
}
