/**
 * The file-sharing node protocol's messages (pure codec; byte layout in docs/fs.md). Nodes talk
 * over SAM streams: each frame is a u32 big-endian length, then one MessagePack record. A request
 * record carries `i` (u32 request id, chosen by the asker) and `op`; the answer carries the same
 * `i`. Every decoder bounds what it accepts and throws DecodeError (or LimitError for an
 * oversized frame); nothing here touches a socket.
 */
import type { PlainRecord } from '../../wire/msgpack.ts'
import { FrameSplitter, frameRecord } from '../../wire/frames.ts'
import { DecodeError } from '../../util/errors.ts'
import { bytesField, uintField } from '../../wire/fields.ts'

/** Protocol version sent in `hello`. */
export const PROTOCOL_VERSION = 1
/** Largest frame body: a 32 KiB block plus its envelope. */
export const MAX_FRAME_BYTES = 40 * 1024
/** Contacts in one answer at most. */
export const MAX_NODES = 16
/** KBlocks in one search answer at most. */
export const MAX_KBLOCKS = 32
/** A destination's bytes: 387 (I2P layout with an empty certificate) to this many. */
export const MAX_DEST_BYTES = 1024
const MIN_DEST_BYTES = 387
const MAX_BLOCK_BYTES = 32 * 1024
const MAX_ERROR_CHARS = 200

/** What a stored block is: a content-hash block or a keyword block. */
export type BlockKind = 'chk' | 'kblock'
/** What a node answers to a put. */
export type PutOutcome = 'stored' | 'exists' | 'full' | 'invalid'

/** A request, after validation. */
export type Request =
  | { op: 'hello', v: number, node: boolean }
  | { op: 'find', target: Uint8Array }
  | { op: 'get', query: Uint8Array }
  | { op: 'search', query: Uint8Array }
  | { op: 'put', kind: BlockKind, query: Uint8Array, block: Uint8Array, expires: number, priority: number }

/** An answer, after validation. Every field is optional; which are set depends on the request. */
export interface Response {
  /** Contacts (destination bytes) closer to the target that the node knows. */
  nodes?: Uint8Array[]
  /** The block asked for by `get`. */
  block?: Uint8Array
  /** KBlocks under the query of `search`. */
  kblocks?: Uint8Array[]
  /** The outcome of `put`. */
  result?: PutOutcome
  /** The request failed; text for logs, never parsed. */
  error?: string
}

/** Frames `record` (with `i` = `id`): `u32 length || msgpack`. Throws LimitError if too big. */
export function encodeFrame (id: number, record: PlainRecord): Uint8Array {
  return frameRecord({ i: id, ...record }, MAX_FRAME_BYTES)
}

/** The record of a request (for {@link encodeFrame}). */
export function requestRecord (r: Request): PlainRecord {
  return { ...r } as unknown as PlainRecord
}

/** The record of an answer (for {@link encodeFrame}); undefined fields are left out. */
export function responseRecord (r: Response): PlainRecord {
  const out: PlainRecord = {}
  if (r.nodes !== undefined) out.nodes = r.nodes.slice(0, MAX_NODES)
  if (r.block !== undefined) out.block = r.block
  if (r.kblocks !== undefined) out.kblocks = r.kblocks.slice(0, MAX_KBLOCKS)
  if (r.result !== undefined) out.result = r.result
  // Lone surrogates (from the cut, or in the text) become U+FFFD: msgpackr would pack a short
  // string's lone surrogate as invalid UTF-8, which the peer's decoder rejects (closing the stream).
  if (r.error !== undefined) out.error = r.error.slice(0, MAX_ERROR_CHARS).replace(/\p{Surrogate}/gu, '\ufffd')
  return out
}

/**
 * Splits a byte stream into frame records. `push` returns the records completed by a chunk;
 * a partial frame waits for more bytes (at most one frame is buffered). Throws LimitError for a
 * frame over {@link MAX_FRAME_BYTES}, DecodeError for a body that is not a record with a u32 `i`.
 */
export class FrameReader {
  private readonly frames = new FrameSplitter(MAX_FRAME_BYTES)

  /** The records completed by `chunk`, each with its id. */
  push (chunk: Uint8Array): Array<{ id: number, record: PlainRecord }> {
    return this.frames.push(chunk).map((record) => {
      const id = record.i
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new DecodeError('frame without a u32 request id')
      return { id, record }
    })
  }

  /** Bytes of an unfinished frame held. */
  get buffered (): number { return this.frames.buffered }
}


function list (v: unknown, what: string, maxItems: number, minBytes: number, maxBytes: number): Uint8Array[] {
  if (!Array.isArray(v)) throw new DecodeError(`${what} is not a list`)
  if (v.length > maxItems) throw new DecodeError(`${what} has ${v.length} items (at most ${maxItems})`)
  return v.map((x, i) => bytesField(x, `${what}[${i}]`, minBytes, maxBytes))
}

/** Validates a request record. Throws DecodeError for an unknown op or a bad field. */
export function decodeRequest (r: PlainRecord): Request {
  switch (r.op) {
    case 'hello':
      return { op: 'hello', v: uintField(r.v, 'v', 0xffff), node: r.node === true }
    case 'find':
      return { op: 'find', target: bytesField(r.target, 'target', 32, 32) }
    case 'get':
      return { op: 'get', query: bytesField(r.query, 'query', 32, 32) }
    case 'search':
      return { op: 'search', query: bytesField(r.query, 'query', 32, 32) }
    case 'put': {
      if (r.kind !== 'chk' && r.kind !== 'kblock') throw new DecodeError('put: kind must be chk or kblock')
      return {
        op: 'put',
        kind: r.kind,
        query: bytesField(r.query, 'query', 32, 32),
        block: bytesField(r.block, 'block', 0, MAX_BLOCK_BYTES),
        expires: uintField(r.expires, 'expires', 0xffffffff),
        priority: uintField(r.priority, 'priority', 0xffff)
      }
    }
    default:
      throw new DecodeError(`unknown op ${typeof r.op === 'string' ? r.op.slice(0, 16) : typeof r.op}`)
  }
}

/** Validates an answer record. Throws DecodeError for a bad field. */
export function decodeResponse (r: PlainRecord): Response {
  const out: Response = {}
  if (r.nodes !== undefined) out.nodes = list(r.nodes, 'nodes', MAX_NODES, MIN_DEST_BYTES, MAX_DEST_BYTES)
  if (r.block !== undefined) out.block = bytesField(r.block, 'block', 0, MAX_BLOCK_BYTES)
  if (r.kblocks !== undefined) out.kblocks = list(r.kblocks, 'kblocks', MAX_KBLOCKS, 1, 4096)
  if (r.result !== undefined) {
    if (r.result !== 'stored' && r.result !== 'exists' && r.result !== 'full' && r.result !== 'invalid') throw new DecodeError('put result unknown')
    out.result = r.result
  }
  if (r.error !== undefined) {
    if (typeof r.error !== 'string') throw new DecodeError('error is not text')
    out.error = r.error.slice(0, MAX_ERROR_CHARS)
  }
  return out
}
