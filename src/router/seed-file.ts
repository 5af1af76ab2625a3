/**
 * Seed files: how a new router learns its first peers. A seed file is UTF-8 text, one
 * RouterInfo per line in standard padded base64 (the `info` line `umbra router` prints, or what
 * `umbra router export-info` writes). Blank lines and lines starting with `#` are comments;
 * leading and trailing whitespace (CR included) is ignored.
 *
 * ```
 * # umbra seed file
 * # router 3f2a… exported 2024-05-01T12:00:00.000Z
 * AQAgAAAA…==
 * ```
 *
 * Pure and bounded: at most {@link SEED_FILE_LIMITS}.lines lines of at most
 * {@link SEED_FILE_LIMITS}.lineBytes bytes each. Each RouterInfo is parsed (layout and bounds)
 * but not verified: its signature and age are checked by whoever uses it (parse, then verify).
 * Errors are {@link SeedFileError}s (a DecodeError) naming the line.
 */
import { parseRouterInfo, type UncheckedRouterInfo } from '../identity/index.ts'
import { ConfigError, DecodeError } from '../util/errors.ts'

/** Bounds on a seed file. */
export const SEED_FILE_LIMITS = {
  /** Lines, comments included. */
  lines: 1000,
  /** Bytes per line (a RouterInfo is at most 5085 bytes, 6780 in base64). */
  lineBytes: 8 * 1024
} as const

/** Largest seed file: every line at its longest. */
export const MAX_SEED_FILE_BYTES = SEED_FILE_LIMITS.lines * (SEED_FILE_LIMITS.lineBytes + 2)

/** A seed file did not parse; `line` is 1-based (0 for the file as a whole). */
export class SeedFileError extends DecodeError {
  constructor (message: string, readonly line: number, options?: { cause?: unknown }) {
    super(line > 0 ? `line ${line}: ${message}` : message, options)
  }
}

/** One RouterInfo from a seed file (unverified). */
export interface SeedEntry {
  /** 1-based line number in the file (0 when the entry did not come from a file). */
  readonly line: number
  /** The RouterInfo's exact bytes. */
  readonly bytes: Uint8Array
  /** Its parsed (not verified) fields. */
  readonly info: UncheckedRouterInfo
}

/**
 * Parses seed-file text. Exact duplicates are kept once. Throws SeedFileError on the first bad
 * line, or when the file exceeds its bounds.
 */
export function parseSeedFile (text: string): SeedEntry[] {
  if (Buffer.byteLength(text, 'utf8') > MAX_SEED_FILE_BYTES) throw new SeedFileError(`seed file larger than ${MAX_SEED_FILE_BYTES} bytes`, 0)
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  if (lines.length > SEED_FILE_LIMITS.lines) throw new SeedFileError(`seed file has more than ${SEED_FILE_LIMITS.lines} lines`, SEED_FILE_LIMITS.lines + 1)
  const out: SeedEntry[] = []
  const seen = new Set<string>()
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!
    if (Buffer.byteLength(raw, 'utf8') > SEED_FILE_LIMITS.lineBytes) throw new SeedFileError(`line longer than ${SEED_FILE_LIMITS.lineBytes} bytes`, i + 1)
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    if (seen.has(line)) continue
    seen.add(line)
    out.push(decodeSeedInfo(line, i + 1))
  }
  return out
}

/**
 * Decodes one base64 RouterInfo (a seed-file line, a `seeds.infos` entry, a `--peer` value).
 * `line` only labels errors. Throws SeedFileError.
 */
export function decodeSeedInfo (b64: string, line = 0): SeedEntry {
  if (b64.length > SEED_FILE_LIMITS.lineBytes) throw new SeedFileError(`RouterInfo longer than ${SEED_FILE_LIMITS.lineBytes} characters`, line)
  const bytes = decodeBase64Strict(b64, line)
  let info: UncheckedRouterInfo
  try {
    info = parseRouterInfo(bytes)
  } catch (err) {
    throw new SeedFileError(`not a RouterInfo: ${err instanceof Error ? err.message : String(err)}`, line, { cause: err })
  }
  return { line, bytes: info.raw, info }
}

/**
 * Formats a seed file: optional comment lines (each prefixed `# `, newlines removed), then one
 * base64 RouterInfo per line. Throws SeedFileError when the result would exceed the bounds.
 */
export function formatSeedFile (infos: readonly Uint8Array[], comments: readonly string[] = []): string {
  const lines = [
    ...comments.map(c => `# ${c.replace(/[\r\n]+/g, ' ')}`.slice(0, SEED_FILE_LIMITS.lineBytes)),
    ...infos.map(b => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64'))
  ]
  if (lines.length > SEED_FILE_LIMITS.lines) throw new SeedFileError(`a seed file holds at most ${SEED_FILE_LIMITS.lines} lines`, 0)
  const long = lines.findIndex(l => Buffer.byteLength(l, 'utf8') > SEED_FILE_LIMITS.lineBytes)
  if (long >= 0) throw new SeedFileError(`line longer than ${SEED_FILE_LIMITS.lineBytes} bytes`, long + 1)
  return lines.map(l => l + '\n').join('')
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/

/** Standard padded base64, canonical (so one RouterInfo has exactly one spelling). */
function decodeBase64Strict (s: string, line: number): Uint8Array {
  if (s.length === 0 || s.length % 4 !== 0 || !B64.test(s)) throw new SeedFileError('not padded standard base64', line)
  const bytes = new Uint8Array(Buffer.from(s, 'base64'))
  if (Buffer.from(bytes).toString('base64') !== s) throw new SeedFileError('non-canonical base64', line)
  return bytes
}

/**
 * Decodes a list of base64 RouterInfos (each trimmed); ConfigError naming the bad entry by
 * `label(i)` (e.g. `--peer #2`, `seeds.infos[1]`).
 */
export function decodeInfos (list: readonly string[], label: (i: number) => string): SeedEntry[] {
  return list.map((b64, i) => {
    try {
      return decodeSeedInfo(b64.trim())
    } catch (err) {
      throw new ConfigError(`${label(i)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
  })
}
