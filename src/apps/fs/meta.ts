/**
 * File metadata for the anonymous file sharing app: the record carried next to a file's URI in
 * keyword blocks (and anywhere else a file is described). A decoded record is untrusted: it is
 * checked field by field against {@link META_LIMITS} and copied into a clean object. The name is
 * display text only; it is never a path (directory listings validate their own paths).
 */
import type { PlainRecord } from '../../wire/msgpack.ts'
import { DecodeError } from '../../util/errors.ts'

/** What a publisher says about a file. `size` is the file's length in bytes. */
export interface FileMeta {
  name?: string
  size: number
  type?: string
  description?: string
  extra?: Record<string, string>
}

/** Bounds on {@link FileMeta}: string fields in UTF-8 bytes, `extraEntries` in entries. */
export const META_LIMITS = {
  name: 255,
  type: 127,
  description: 1024,
  extraEntries: 16,
  extraKey: 32,
  extraValue: 256
} as const

/** The largest file size accepted (1 PiB). */
export const MAX_FILE_SIZE = 2 ** 50

const encoder = new TextEncoder()

/** The UTF-8 length of `s` in bytes. */
export function utf8Length (s: string): number {
  return encoder.encode(s).length
}

function isPlainObject (v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false
  const p: unknown = Object.getPrototypeOf(v)
  return p === Object.prototype || p === null
}

/** `v` as a string of at most `max` UTF-8 bytes (lone surrogates refused), or DecodeError. */
function boundedString (v: unknown, max: number, what: string): string {
  if (typeof v !== 'string') throw new DecodeError(`${what} is not a string`)
  if (/\p{Cs}/u.test(v)) throw new DecodeError(`${what} has a lone surrogate`)
  if (utf8Length(v) > max) throw new DecodeError(`${what} exceeds ${max} UTF-8 bytes`)
  return v
}

/** An optional string field: undefined if absent, else a bounded string. */
function optionalString (v: unknown, max: number, what: string): string | undefined {
  return v === undefined ? undefined : boundedString(v, max, what)
}

/**
 * Validates a decoded metadata record and returns a clean copy holding only the known fields
 * (unknown fields are dropped, for forward compatibility). `size` must be a safe integer in
 * [0, {@link MAX_FILE_SIZE}]; `name`, `type`, `description` optional strings within
 * {@link META_LIMITS}; `extra` an optional plain map of at most `extraEntries` string → string
 * entries with non-empty keys (`__proto__` refused). Throws DecodeError otherwise.
 */
export function checkMeta (m: unknown): FileMeta {
  if (!isPlainObject(m)) throw new DecodeError('metadata is not a map')
  const size = m.size
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || size > MAX_FILE_SIZE) {
    throw new DecodeError('metadata size is not an integer in [0, 2^50]')
  }
  const out: FileMeta = { size }
  const name = optionalString(m.name, META_LIMITS.name, 'metadata name')
  const type = optionalString(m.type, META_LIMITS.type, 'metadata type')
  const description = optionalString(m.description, META_LIMITS.description, 'metadata description')
  if (name !== undefined) out.name = name
  if (type !== undefined) out.type = type
  if (description !== undefined) out.description = description
  if (m.extra !== undefined) {
    if (!isPlainObject(m.extra)) throw new DecodeError('metadata extra is not a map')
    const keys = Object.keys(m.extra)
    if (keys.length > META_LIMITS.extraEntries) throw new DecodeError(`metadata extra has more than ${META_LIMITS.extraEntries} entries`)
    const extra: Record<string, string> = {}
    for (const k of keys) {
      boundedString(k, META_LIMITS.extraKey, 'metadata extra key')
      if (k === '' || k === '__proto__') throw new DecodeError('metadata extra key is empty or __proto__')
      extra[k] = boundedString(m.extra[k], META_LIMITS.extraValue, `metadata extra value of ${k}`)
    }
    out.extra = extra
  }
  return out
}

/** `m` as a plain record for packRecord, leaving out undefined fields. Does not validate. */
export function metaToRecord (m: FileMeta): PlainRecord {
  const r: PlainRecord = { size: m.size }
  if (m.name !== undefined) r.name = m.name
  if (m.type !== undefined) r.type = m.type
  if (m.description !== undefined) r.description = m.description
  if (m.extra !== undefined) r.extra = { ...m.extra }
  return r
}
