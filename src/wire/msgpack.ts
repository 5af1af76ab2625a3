/**
 * Safe MessagePack for structured records (control messages, stored state), over `msgpackr`.
 *
 * `unpackRecord` first walks the bytes itself (no allocation beyond key checks) and refuses,
 * with DecodeError: oversize input, truncation, trailing bytes, any extension type (msgpackr
 * would otherwise build Dates, Sets, Errors, typed arrays, records or structured-clone refs),
 * the never-used 0xc1 byte, non-string or duplicate map keys, `__proto__` keys, invalid UTF-8
 * and nesting deeper than {@link MAX_DEPTH}. Only then does msgpackr build the value, which is
 * checked again to be plain data. A record is a plain object at the top level.
 * Values allowed: null, boolean, number, bigint (64-bit), string, Uint8Array, arrays, plain
 * objects. This module is not a wire codec for hot paths: those use hand layouts (codec.ts).
 */
import { Packr, Unpackr } from 'msgpackr'
import { ConfigError, DecodeError, LimitError } from '../util/errors.ts'

/** Deepest nesting of arrays/maps accepted. */
export const MAX_DEPTH = 32

/** A plain-data record: what packRecord accepts and unpackRecord returns. */
export type RecordValue = null | boolean | number | bigint | string | Uint8Array | RecordValue[] | PlainRecord
/** A plain object of record values. */
export interface PlainRecord { [key: string]: RecordValue }

// `skipValues` and `int64AsType: 'auto'` are documented msgpackr options missing from its typings.
const packOptions = { useRecords: false, variableMapSize: true, skipValues: [undefined] }
const unpackOptions = { useRecords: false, mapsAsObjects: true, copyBuffers: true, int64AsType: 'auto' as 'bigint' }
const packr = new Packr(packOptions)
const unpackr = new Unpackr(unpackOptions)
const utf8 = new TextDecoder('utf-8', { fatal: true })

function isPlainObject (v: object): boolean {
  const p: unknown = Object.getPrototypeOf(v)
  return p === Object.prototype || p === null
}

/** Throws unless `v` is plain record data; `undefined` is allowed only as an object field. */
function checkPlain (v: unknown, depth: number, fail: (m: string) => Error, inObject = false): void {
  if (depth > MAX_DEPTH) throw fail(`nesting deeper than ${MAX_DEPTH}`)
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string') return
  if (v === undefined && inObject) return
  if (typeof v !== 'object') throw fail(`unsupported value of type ${typeof v}`)
  if (v instanceof Uint8Array) return
  if (Array.isArray(v)) { for (const x of v) checkPlain(x, depth + 1, fail); return }
  if (!isPlainObject(v)) throw fail('not a plain object')
  for (const k of Object.keys(v)) {
    if (k === '__proto__') throw fail('__proto__ key')
    checkPlain((v as Record<string, unknown>)[k], depth + 1, fail, true)
  }
}

/**
 * Packs a plain object as standard MessagePack (maps, no extensions). Fields whose value is
 * `undefined` are left out. Throws ConfigError for non-plain input, LimitError over `maxBytes`.
 */
export function packRecord (obj: object, maxBytes = Number.MAX_SAFE_INTEGER): Uint8Array {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new ConfigError('packRecord takes a plain object')
  checkPlain(obj, 0, m => new ConfigError(`packRecord: ${m}`))
  const out = packr.pack(obj)
  if (out.length > maxBytes) throw new LimitError(`record of ${out.length} bytes exceeds maximum ${maxBytes}`)
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

/** A strict structural walk over one MessagePack value; returns the offset after it. */
class Scanner {
  private readonly view: DataView
  constructor (private readonly b: Uint8Array) { this.view = new DataView(b.buffer, b.byteOffset, b.byteLength) }

  private need (at: number, n: number): void {
    if (at + n > this.b.length) throw new DecodeError(`truncated: need ${n} bytes at offset ${at}`)
  }

  private uint (at: number, n: 1 | 2 | 4): number {
    this.need(at, n)
    return n === 1 ? this.view.getUint8(at) : n === 2 ? this.view.getUint16(at) : this.view.getUint32(at)
  }

  /** If the token `t` at `at` is a str: checks its UTF-8 and returns [end, start of data]. */
  private str (at: number, t: number): [number, number] | undefined {
    let len: number
    let start: number
    if (t >= 0xa0 && t <= 0xbf) {
      len = t & 0x1f
      start = at + 1
    } else if (t === 0xd9 || t === 0xda || t === 0xdb) {
      const w = t === 0xd9 ? 1 : t === 0xda ? 2 : 4
      len = this.uint(at + 1, w)
      start = at + 1 + w
    } else {
      return undefined
    }
    this.need(start, len)
    try { utf8.decode(this.b.subarray(start, start + len)) } catch { throw new DecodeError(`invalid UTF-8 at offset ${start}`) }
    return [start + len, start]
  }

  value (at: number, depth: number): number {
    if (depth > MAX_DEPTH) throw new DecodeError(`nesting deeper than ${MAX_DEPTH}`)
    this.need(at, 1)
    const t = this.b[at] as number
    if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) return at + 1
    const s = this.str(at, t)
    if (s !== undefined) return s[0]
    if (t >= 0x80 && t <= 0x8f) return this.map(at + 1, t & 0x0f, depth)
    if (t >= 0x90 && t <= 0x9f) return this.array(at + 1, t & 0x0f, depth)
    switch (t) {
      case 0xc4: case 0xc5: case 0xc6: {
        const w = t === 0xc4 ? 1 : t === 0xc5 ? 2 : 4
        const len = this.uint(at + 1, w)
        this.need(at + 1 + w, len)
        return at + 1 + w + len
      }
      case 0xca: this.need(at + 1, 4); return at + 5
      case 0xcb: this.need(at + 1, 8); return at + 9
      case 0xcc: case 0xd0: this.need(at + 1, 1); return at + 2
      case 0xcd: case 0xd1: this.need(at + 1, 2); return at + 3
      case 0xce: case 0xd2: this.need(at + 1, 4); return at + 5
      case 0xcf: case 0xd3: this.need(at + 1, 8); return at + 9
      case 0xdc: return this.array(at + 3, this.uint(at + 1, 2), depth)
      case 0xdd: return this.array(at + 5, this.uint(at + 1, 4), depth)
      case 0xde: return this.map(at + 3, this.uint(at + 1, 2), depth)
      case 0xdf: return this.map(at + 5, this.uint(at + 1, 4), depth)
    }
    if (t === 0xc1) throw new DecodeError(`invalid MessagePack byte 0xc1 at offset ${at}`)
    throw new DecodeError(`MessagePack extension type at offset ${at} not allowed`)
  }

  private array (at: number, n: number, depth: number): number {
    for (let i = 0; i < n; i++) at = this.value(at, depth + 1)
    return at
  }

  private map (at: number, n: number, depth: number): number {
    const keys = new Set<string>()
    for (let i = 0; i < n; i++) {
      this.need(at, 1)
      const s = this.str(at, this.b[at] as number)
      if (s === undefined) throw new DecodeError(`non-string map key at offset ${at}`)
      const key = utf8.decode(this.b.subarray(s[1], s[0]))
      if (key === '__proto__') throw new DecodeError(`__proto__ key at offset ${at}`)
      if (keys.has(key)) throw new DecodeError(`duplicate map key at offset ${at}`)
      keys.add(key)
      at = this.value(s[0], depth + 1)
    }
    return at
  }
}

/**
 * Unpacks one record packed by {@link packRecord} (or any standard MessagePack map of plain
 * data). Throws DecodeError, and only DecodeError, for anything else; see the module header.
 */
export function unpackRecord (bytes: Uint8Array, maxBytes: number): PlainRecord {
  if (bytes.length > maxBytes) throw new DecodeError(`record of ${bytes.length} bytes exceeds maximum ${maxBytes}`)
  const t = bytes[0]
  if (t === undefined || !((t >= 0x80 && t <= 0x8f) || t === 0xde || t === 0xdf)) throw new DecodeError('record is not a MessagePack map')
  const end = new Scanner(bytes).value(0, 0)
  if (end !== bytes.length) throw new DecodeError(`${bytes.length - end} trailing bytes after record`)
  let v: unknown
  try {
    v = unpackr.unpack(bytes)
  } catch (err) {
    throw new DecodeError('malformed MessagePack record', { cause: err })
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DecodeError('record is not a map')
  checkPlain(v, 0, m => new DecodeError(`record: ${m}`))
  return v as PlainRecord
}
