/**
 * The codec pattern: one `Codec<T>` per message family, pure and bounded (STYLE.md §2).
 * `encode`/`decode` wrap a codec with the checks every caller needs: an encoding over the
 * codec's `maxSize` is a LimitError; input over `maxSize` is refused before parsing, and input
 * must be consumed exactly (trailing bytes are a DecodeError).
 */
import { DecodeError } from '../util/errors.ts'
import { Reader } from './reader.ts'
import { Writer } from './writer.ts'

/** Encoder and decoder of one message type, with a hard size bound. */
export interface Codec<T> {
  /** Largest encoding this codec produces or accepts, in bytes. */
  maxSize: number
  /** Appends the encoding of `v` to `w`. */
  encode (w: Writer, v: T): void
  /** Reads one value from `r`; throws DecodeError on malformed input. */
  decode (r: Reader): T
}

/** Encodes `v` to bytes; throws LimitError if the encoding exceeds `codec.maxSize`. */
export function encode<T> (codec: Codec<T>, v: T): Uint8Array {
  const w = new Writer({ initialSize: Math.min(codec.maxSize, 1024), limit: codec.maxSize })
  codec.encode(w, v)
  return w.finish()
}

/**
 * Decodes exactly one value from `bytes`: input over `codec.maxSize` is rejected before parsing,
 * trailing bytes are rejected after. Throws DecodeError only.
 */
export function decode<T> (codec: Codec<T>, bytes: Uint8Array): T {
  if (bytes.length > codec.maxSize) {
    throw new DecodeError(`input of ${bytes.length} bytes exceeds maximum ${codec.maxSize}`)
  }
  const r = new Reader(bytes)
  const v = codec.decode(r)
  r.end()
  return v
}
