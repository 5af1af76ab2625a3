/**
 * Length-prefixed MessagePack records on a byte stream: each frame is a u32 big-endian length,
 * then one record (`packRecord`). Used by the apps' peer protocols over SAM streams (fs, chat).
 * Pure: `FrameSplitter.push` takes chunks and returns the records they complete, holding at most
 * one unfinished frame; a frame over the bound is a LimitError, a bad body a DecodeError.
 */
import { packRecord, unpackRecord, type PlainRecord } from './msgpack.ts'
import { LimitError } from '../util/errors.ts'

/** Frames `record`: `u32 length || msgpack`. Throws LimitError if the body exceeds `maxBytes`. */
export function frameRecord (record: PlainRecord, maxBytes: number): Uint8Array {
  const body = packRecord(record, maxBytes)
  const out = new Uint8Array(4 + body.length)
  new DataView(out.buffer).setUint32(0, body.length)
  out.set(body, 4)
  return out
}

/** Splits a byte stream into records of at most `maxBytes` each. */
export class FrameSplitter {
  private buf: Uint8Array = new Uint8Array(0)

  constructor (private readonly maxBytes: number) {}

  /** The records completed by `chunk`. Throws LimitError or DecodeError; the stream is then unusable. */
  push (chunk: Uint8Array): PlainRecord[] {
    this.buf = this.buf.length === 0 ? chunk : concat(this.buf, chunk)
    const out: PlainRecord[] = []
    let at = 0
    while (this.buf.length - at >= 4) {
      const len = new DataView(this.buf.buffer, this.buf.byteOffset + at, 4).getUint32(0)
      if (len > this.maxBytes) throw new LimitError(`frame of ${len} bytes exceeds ${this.maxBytes}`)
      if (this.buf.length - at - 4 < len) break
      out.push(unpackRecord(this.buf.subarray(at + 4, at + 4 + len), this.maxBytes))
      at += 4 + len
    }
    this.buf = at === this.buf.length ? new Uint8Array(0) : this.buf.slice(at)
    return out
  }

  /** Bytes of an unfinished frame held. */
  get buffered (): number { return this.buf.length }
}

function concat (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}
