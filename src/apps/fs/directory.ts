/**
 * Directory listings for the anonymous file sharing app. A published directory is stored as an
 * ordinary file whose plaintext is a listing: the 9-byte magic 'UMBRADIR' || version 1, then
 * packRecord({ entries: [{ path, uri, size, type? }, ...] }). The listing is flat: every file of
 * the tree, recursively, under a relative '/'-separated path. A downloader joins these paths onto
 * an output directory, so {@link safeRelativePath} is the path-traversal guard and is strict.
 */
import { ConfigError, DecodeError, LimitError, UmbraError } from '../../util/errors.ts'
import { packRecord, unpackRecord } from '../../wire/msgpack.ts'
import { META_LIMITS, utf8Length } from './meta.ts'

/** One file of a directory: its relative path, URI, size in bytes and optional MIME type. */
export interface DirEntry { path: string, uri: string, size: number, type?: string }

/** The start of every listing: UTF-8 'UMBRADIR' followed by the version byte 1. */
export const DIRECTORY_MAGIC: Uint8Array = Uint8Array.of(...new TextEncoder().encode('UMBRADIR'), 1)
/** The most entries a listing may hold. */
export const MAX_DIR_ENTRIES = 100_000
/** The largest listing, magic included: 64 MiB. */
export const MAX_DIR_BYTES = 64 * 1024 * 1024
/** The longest entry URI, in UTF-16 code units. */
export const MAX_DIR_URI_CHARS = 2048
/** The longest path segment, in UTF-8 bytes. */
export const MAX_SEGMENT_BYTES = 255
/** The longest whole path, in UTF-8 bytes. */
export const MAX_PATH_BYTES = 4096

/**
 * Returns `p` if it is a safe relative path, else throws DecodeError. Refused: a non-string,
 * the empty path, an absolute path (leading '/', or a drive prefix such as 'C:'), any backslash,
 * an empty, '.' or '..' segment (so also a trailing '/' and '//'), a segment of only dots and
 * spaces (Windows strips trailing dots and spaces, turning '.. ' into '..'), control characters
 * (NUL included) or lone surrogates, a segment over 255 UTF-8 bytes, a path over 4096 bytes.
 */
export function safeRelativePath (p: string): string {
  if (typeof p !== 'string') throw new DecodeError('path is not a string')
  if (p === '') throw new DecodeError('empty path')
  if (/[\p{Cc}\p{Cs}]/u.test(p)) throw new DecodeError('path contains control characters')
  if (p.includes('\\')) throw new DecodeError('path contains a backslash')
  if (p.startsWith('/')) throw new DecodeError('absolute path')
  if (/^[A-Za-z]:/.test(p)) throw new DecodeError('path has a drive prefix')
  if (utf8Length(p) > MAX_PATH_BYTES) throw new DecodeError(`path exceeds ${MAX_PATH_BYTES} bytes`)
  for (const seg of p.split('/')) {
    if (seg === '' || /^[. ]+$/.test(seg)) throw new DecodeError('path has an empty, dot-only or ".." segment')
    if (utf8Length(seg) > MAX_SEGMENT_BYTES) throw new DecodeError(`path segment exceeds ${MAX_SEGMENT_BYTES} bytes`)
  }
  return p
}

/** Validates one entry (DecodeError) and returns a clean copy. */
function checkEntry (e: unknown): DirEntry {
  if (e === null || typeof e !== 'object' || Array.isArray(e)) throw new DecodeError('directory entry is not a map')
  const { path, uri, size, type } = e as Record<string, unknown>
  const out: DirEntry = { path: safeRelativePath(path as string), uri: '', size: 0 }
  if (typeof uri !== 'string' || uri === '' || uri.length > MAX_DIR_URI_CHARS) {
    throw new DecodeError(`entry uri is not a non-empty string of at most ${MAX_DIR_URI_CHARS} characters`)
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new DecodeError('entry size is not a safe integer >= 0')
  out.uri = uri
  out.size = size
  if (type !== undefined) {
    if (typeof type !== 'string' || utf8Length(type) > META_LIMITS.type || /\p{Cs}/u.test(type)) {
      throw new DecodeError(`entry type is not a string of at most ${META_LIMITS.type} bytes`)
    }
    out.type = type
  }
  return out
}

/**
 * Validates a whole list of entries (DecodeError; LimitError over {@link MAX_DIR_ENTRIES}):
 * each entry, unique paths, and no path that is both a file and a parent directory of another
 * (such as 'a' and 'a/b', which could not both be written).
 */
function checkEntries (entries: unknown): DirEntry[] {
  if (!Array.isArray(entries)) throw new DecodeError('directory entries is not an array')
  if (entries.length > MAX_DIR_ENTRIES) throw new LimitError(`directory of ${entries.length} entries exceeds ${MAX_DIR_ENTRIES}`)
  const out = entries.map(checkEntry)
  const files = new Set<string>()
  const dirs = new Set<string>()
  for (const { path } of out) {
    if (files.has(path)) throw new DecodeError(`duplicate path ${JSON.stringify(path)}`)
    files.add(path)
    for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) dirs.add(path.slice(0, i))
  }
  for (const f of files) if (dirs.has(f)) throw new DecodeError(`path ${JSON.stringify(f)} is both a file and a directory`)
  return out
}

/**
 * Encodes a listing: {@link DIRECTORY_MAGIC} || packRecord({ entries }). Entries are checked as
 * decodeDirectory would (ConfigError naming the problem); LimitError over
 * {@link MAX_DIR_ENTRIES} entries or {@link MAX_DIR_BYTES} bytes.
 */
export function encodeDirectory (entries: DirEntry[]): Uint8Array {
  let clean: DirEntry[]
  try {
    clean = checkEntries(entries)
  } catch (err) {
    if (err instanceof DecodeError) throw new ConfigError(`invalid directory: ${err.message}`, { cause: err })
    throw err
  }
  const body = packRecord({ entries: clean.map(e => ({ ...e })) }, MAX_DIR_BYTES - DIRECTORY_MAGIC.length)
  const out = new Uint8Array(DIRECTORY_MAGIC.length + body.length)
  out.set(DIRECTORY_MAGIC)
  out.set(body, DIRECTORY_MAGIC.length)
  return out
}

/** Whether `plainStart` (the first bytes of a file's plaintext) starts with the magic. */
export function isDirectory (plainStart: Uint8Array): boolean {
  if (plainStart.length < DIRECTORY_MAGIC.length) return false
  for (let i = 0; i < DIRECTORY_MAGIC.length; i++) if (plainStart[i] !== DIRECTORY_MAGIC[i]) return false
  return true
}

/**
 * Decodes a listing made by {@link encodeDirectory}. Throws LimitError for input over
 * {@link MAX_DIR_BYTES} or more than {@link MAX_DIR_ENTRIES} entries, DecodeError for anything
 * else wrong (missing magic, malformed record, an unsafe or duplicate path, a bad uri or size).
 */
export function decodeDirectory (bytes: Uint8Array): DirEntry[] {
  if (bytes.length > MAX_DIR_BYTES) throw new LimitError(`directory of ${bytes.length} bytes exceeds ${MAX_DIR_BYTES}`)
  if (!isDirectory(bytes)) throw new DecodeError('not a directory listing (bad magic)')
  try {
    return checkEntries(unpackRecord(bytes.subarray(DIRECTORY_MAGIC.length), MAX_DIR_BYTES).entries)
  } catch (err) {
    if (err instanceof UmbraError) throw err
    throw new DecodeError('malformed directory listing', { cause: err })
  }
}
