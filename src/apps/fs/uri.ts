/**
 * File-sharing URIs, after GNUnet's:
 *   umbra://fs/chk/<key>.<query>.<size>   a file: its root CHK (key and query in lowercase
 *                                          unpadded base32, 52 characters each) and its size in
 *                                          decimal bytes (no leading zeros, <= MAX_FILE_SIZE)
 *   umbra://fs/ksk/<kw>[+<kw>]*            a keyword search: each keyword encodeURIComponent'd
 *                                          (so '+' inside a keyword is %2B), none empty
 * The "umbra://fs/" prefix is matched case-insensitively; the rest is case-sensitive.
 */
import { ConfigError, DecodeError, LimitError } from '../../util/errors.ts'
import { base32Decode, base32Encode } from '../../wire/base32.ts'
import { HASH_BYTES, type Chk } from './chk.ts'
import { MAX_FILE_SIZE } from './tree.ts'

/** A parsed file-sharing URI. */
export type FsUri = { kind: 'chk', chk: Chk, size: number } | { kind: 'ksk', keywords: string[] }

/** The longest URI accepted or produced, in characters. */
export const MAX_URI_LENGTH = 4096

const PREFIX = 'umbra://fs/'
const HASH_CHARS = Math.ceil(HASH_BYTES * 8 / 5) // 52

/** `umbra://fs/chk/<base32 key>.<base32 query>.<size>`. ConfigError for a bad CHK or size. */
export function formatChkUri (chk: Chk, size: number): string {
  if (chk.key.length !== HASH_BYTES || chk.query.length !== HASH_BYTES) {
    throw new ConfigError(`a CHK's key and query must be ${HASH_BYTES} bytes each`)
  }
  if (!Number.isInteger(size) || size < 0 || size > MAX_FILE_SIZE) {
    throw new ConfigError(`file size must be an integer in 0..${MAX_FILE_SIZE}, got ${size}`)
  }
  return `${PREFIX}chk/${base32Encode(chk.key)}.${base32Encode(chk.query)}.${size}`
}

/**
 * `umbra://fs/ksk/<kw>+<kw>...`, each keyword encodeURIComponent'd. ConfigError for no keywords
 * an empty one or a lone surrogate; LimitError if the URI would exceed MAX_URI_LENGTH.
 */
export function formatKskUri (keywords: string[]): string {
  if (keywords.length === 0) throw new ConfigError('a keyword URI needs at least one keyword')
  if (keywords.some(k => k.length === 0)) throw new ConfigError('keywords must not be empty')
  let uri: string
  try {
    uri = `${PREFIX}ksk/${keywords.map(k => encodeURIComponent(k)).join('+')}`
  } catch (err) {
    throw new ConfigError('keywords must be well-formed Unicode (no lone surrogates)', { cause: err })
  }
  if (uri.length > MAX_URI_LENGTH) throw new LimitError(`keyword URI longer than ${MAX_URI_LENGTH} characters`)
  return uri
}

function parseHash (s: string, what: string): Uint8Array {
  if (s.length !== HASH_CHARS) throw new DecodeError(`bad CHK URI: ${what} must be ${HASH_CHARS} base32 characters, got ${s.length}`)
  try {
    return base32Decode(s)
  } catch (err) {
    throw new DecodeError(`bad CHK URI: ${what} is not valid lowercase base32`, { cause: err })
  }
}

function parseChk (rest: string): FsUri {
  const parts = rest.split('.')
  if (parts.length !== 3) throw new DecodeError('bad CHK URI: expected <key>.<query>.<size>')
  const [k, q, s] = parts as [string, string, string]
  const key = parseHash(k, 'key')
  const query = parseHash(q, 'query')
  if (!/^(0|[1-9][0-9]{0,15})$/.test(s)) {
    throw new DecodeError('bad CHK URI: size must be a decimal integer without leading zeros')
  }
  const size = Number(s)
  if (size > MAX_FILE_SIZE) throw new DecodeError(`bad CHK URI: size ${s} exceeds ${MAX_FILE_SIZE}`)
  return { kind: 'chk', chk: { key, query }, size }
}

function parseKsk (rest: string): FsUri {
  if (rest.length === 0) throw new DecodeError('bad keyword URI: no keywords')
  const keywords = rest.split('+').map((enc, i) => {
    if (enc.length === 0) throw new DecodeError(`bad keyword URI: keyword ${i + 1} is empty (leading, trailing or doubled '+')`)
    try {
      return decodeURIComponent(enc)
    } catch (err) {
      throw new DecodeError(`bad keyword URI: keyword ${i + 1} has an invalid percent-escape`, { cause: err })
    }
  })
  return { kind: 'ksk', keywords }
}

/**
 * Parses a chk or ksk URI (surrounding whitespace trimmed). LimitError for input longer than
 * MAX_URI_LENGTH; DecodeError saying what is wrong for anything else malformed: wrong scheme,
 * unknown kind, bad base32, bad size, empty keyword.
 */
export function parseUri (s: string): FsUri {
  if (typeof s !== 'string') throw new DecodeError('URI must be a string')
  if (s.length > MAX_URI_LENGTH) throw new LimitError(`URI longer than ${MAX_URI_LENGTH} characters`)
  const uri = s.trim()
  if (uri.slice(0, PREFIX.length).toLowerCase() !== PREFIX) {
    throw new DecodeError(`not a file-sharing URI: expected it to start with ${PREFIX}`)
  }
  const body = uri.slice(PREFIX.length)
  const slash = body.indexOf('/')
  const kind = slash < 0 ? body : body.slice(0, slash)
  const rest = slash < 0 ? '' : body.slice(slash + 1)
  if (kind === 'chk') return parseChk(rest)
  if (kind === 'ksk') return parseKsk(rest)
  throw new DecodeError(`unknown file-sharing URI kind '${kind.slice(0, 16)}' (expected chk or ksk)`)
}
