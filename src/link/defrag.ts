/**
 * Messages too big for one datagram (docs/link.md, "FRAG"): a datagram link splits them into
 * FRAG blocks, each carried as its own ARQ message (so each arrives exactly once, in any order),
 * and the receiver joins them. Pure and bounded: no timers (a reliable link delivers every piece
 * or fails); at most `maxPartial` messages and `maxPartialBytes` bytes wait (each piece counted
 * with {@link PIECE_OVERHEAD} more, so tiny pieces cannot pile up), the oldest partial message is
 * dropped beyond that and its later pieces are ignored (its key is remembered), a message longer
 * than `maxMessage` is refused, and every piece but the last must be as long as the others of
 * its message and at least {@link MIN_PIECE} bytes (what a sender's split gives).
 *
 *   FRAG body = key u32 · index u8 · count u8 · piece      (2 ≤ count ≤ 255, index < count)
 */
import { DecodeError, LimitError } from '../util/errors.ts'
import { getU32, putU32 } from '../util/bytes.ts'

/** Bytes before a FRAG block's piece. */
export const FRAG_HEADER = 6
/** Most pieces a message is split into. */
export const MAX_PIECES = 255
/** Shortest piece but the last. */
export const MIN_PIECE = 64
/** Bytes each waiting piece is counted for beyond its own (its array and bookkeeping). */
export const PIECE_OVERHEAD = 64
/** Keys of dropped partial messages remembered, so their later pieces do not start new ones. */
const DROPPED_KEYS = 1024

/** FRAG bodies of `msg` split into pieces of at most `piece` bytes, under message key `key` (u32). */
export function splitMessage (key: number, msg: Uint8Array, piece: number): Uint8Array[] {
  if (!Number.isInteger(piece) || piece < MIN_PIECE) throw new LimitError(`FRAG piece size ${piece}, under ${MIN_PIECE}`)
  const count = Math.ceil(msg.length / piece)
  if (count < 2 || count > MAX_PIECES) throw new LimitError(`a message of ${msg.length} bytes in pieces of ${piece} is ${count} pieces, not 2..${MAX_PIECES}`)
  const out: Uint8Array[] = []
  for (let i = 0; i < count; i++) {
    const part = msg.subarray(i * piece, Math.min(msg.length, (i + 1) * piece))
    const b = new Uint8Array(FRAG_HEADER + part.length)
    putU32(b, 0, key)
    b[4] = i
    b[5] = count
    b.set(part, FRAG_HEADER)
    out.push(b)
  }
  return out
}

/** Bounds of a {@link Defragmenter}. */
export interface DefragLimits {
  /** Longest message joined. */
  maxMessage: number
  /** Most messages waiting for pieces. */
  maxPartial: number
  /** Most bytes of pieces waiting. */
  maxPartialBytes: number
}

interface Partial { pieces: Array<Uint8Array | undefined>, got: number, bytes: number, size: number, pieceLen: number }

/** Joins FRAG pieces into messages (see module doc). */
export class Defragmenter {
  private readonly partial = new Map<number, Partial>()
  private bytes = 0
  /** Keys of dropped partial messages, oldest first (a Set keeps insertion order). */
  private readonly dropped = new Set<number>()
  /** Partial messages dropped to stay within the bounds. */
  evicted = 0

  constructor (private readonly limits: DefragLimits) {}

  /** Messages waiting for pieces, and their bytes. */
  get waiting (): { messages: number, bytes: number } { return { messages: this.partial.size, bytes: this.bytes } }

  /** Takes one FRAG body; returns the whole message when this piece completes it. DecodeError if malformed. */
  add (body: Uint8Array): Uint8Array | undefined {
    if (body.length <= FRAG_HEADER) throw new DecodeError(`FRAG block of ${body.length} bytes`)
    const key = getU32(body, 0)
    const index = body[4]!
    const count = body[5]!
    if (count < 2 || index >= count) throw new DecodeError(`FRAG piece ${index} of ${count}`)
    const piece = body.subarray(FRAG_HEADER)
    if (this.dropped.has(key)) return undefined // the rest of a message dropped earlier
    let p = this.partial.get(key)
    if (p === undefined) {
      p = { pieces: new Array<Uint8Array | undefined>(count).fill(undefined), got: 0, bytes: 0, size: 0, pieceLen: 0 }
      this.partial.set(key, p)
    } else if (p.pieces.length !== count) {
      this.refuse(key, p, `FRAG message ${key}: ${count} pieces, earlier ${p.pieces.length}`)
    }
    if (p.pieces[index] !== undefined) return undefined // a repeat (honest links never send one)
    if (index < count - 1) {
      if (piece.length < MIN_PIECE || (p.pieceLen !== 0 && piece.length !== p.pieceLen)) this.refuse(key, p, `FRAG message ${key}: a piece of ${piece.length} bytes`)
      p.pieceLen = piece.length
    }
    if (p.size + piece.length > this.limits.maxMessage) this.refuse(key, p, `FRAG message ${key} exceeds ${this.limits.maxMessage} bytes`)
    p.pieces[index] = piece.slice()
    p.got++
    p.size += piece.length
    p.bytes += piece.length + PIECE_OVERHEAD
    this.bytes += piece.length + PIECE_OVERHEAD
    if (p.got === count) {
      this.drop(key, p)
      const out = new Uint8Array(p.size)
      let at = 0
      for (const x of p.pieces) { out.set(x!, at); at += x!.length }
      return out
    }
    while (this.partial.size > this.limits.maxPartial || this.bytes > this.limits.maxPartialBytes) {
      const [k, oldest] = this.partial.entries().next().value as [number, Partial]
      this.drop(k, oldest)
      this.remember(k)
      this.evicted++
    }
    return undefined
  }

  /** Drops message `key` (remembering it) and throws DecodeError. */
  private refuse (key: number, p: Partial, why: string): never {
    this.drop(key, p)
    this.remember(key)
    throw new DecodeError(why)
  }

  private remember (key: number): void {
    this.dropped.add(key)
    if (this.dropped.size > DROPPED_KEYS) this.dropped.delete(this.dropped.values().next().value!)
  }

  private drop (key: number, p: Partial): void {
    if (this.partial.delete(key)) this.bytes -= p.bytes
  }
}
