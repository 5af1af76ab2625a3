/**
 * SAM v3 lines: parsing a command (or reply) line into its words and KEY=VALUE pairs, formatting
 * one, and splitting a byte stream into bounded lines (with binary payloads in between, as
 * DATAGRAM SEND and RAW RECEIVED carry). Pure; used by the bridge and by the client.
 *
 * Line grammar (shared/reference/sam-v3.md §0; docs/sam.md):
 * ```
 * line    = word [SP word] *(1*SP pair) [SP] LF        (CR before LF is tolerated)
 * pair    = KEY | KEY "=" | KEY "=" value
 * value   = 1*(any but SP, '"') | '"' *(any but '"' and '\', or '\"', or '\\') '"'
 * ```
 * `PING text` / `PONG text` keep the rest of the line as text. Command words are case-folded to
 * upper case; keys and values are kept as they are.
 */
import { UmbraError } from '../../util/errors.ts'

/** Longest line accepted (bytes, LF included): a private key is 908 characters, options add more. */
export const MAX_LINE_BYTES = 16 * 1024
/** Most KEY=VALUE pairs in one line. */
export const MAX_PAIRS = 128

/** A line that does not parse, or is too long. The bridge answers it with I2P_ERROR. */
export class SamSyntaxError extends UmbraError {
  static override readonly name = 'SamSyntaxError'
  override readonly name = 'SamSyntaxError'
}

/** One parsed line. */
export interface SamLine {
  /** First word, upper case (`HELLO`, `SESSION`, `PING`, …). */
  readonly verb: string
  /** Second word, upper case, if it is not a pair (`VERSION`, `CREATE`, …); '' if absent. */
  readonly sub: string
  /** The pairs; a bare KEY or `KEY=` maps to ''. When a key repeats, the last wins. */
  readonly args: ReadonlyMap<string, string>
  /** For PING/PONG: everything after the first space ('' if none). */
  readonly text: string
}

const TEXT_VERBS = new Set(['PING', 'PONG'])

/** Parses one line (without its LF). Throws SamSyntaxError. */
export function parseLine (line: string): SamLine {
  if (line.endsWith('\r')) line = line.slice(0, -1)
  if (line.length > MAX_LINE_BYTES) throw new SamSyntaxError(`line longer than ${MAX_LINE_BYTES} bytes`)
  let i = 0
  const n = line.length
  const skipSpaces = (): void => { while (i < n && (line[i] === ' ' || line[i] === '\t')) i++ }
  const bareWord = (): string => {
    const start = i
    while (i < n && line[i] !== ' ' && line[i] !== '\t') i++
    return line.slice(start, i)
  }
  skipSpaces()
  const verb = bareWord().toUpperCase()
  if (verb === '') throw new SamSyntaxError('empty line')
  if (TEXT_VERBS.has(verb)) {
    return { verb, sub: '', args: new Map(), text: i < n ? line.slice(i + 1) : '' }
  }
  skipSpaces()
  let sub = ''
  const wordStart = i
  const second = bareWord()
  if (second !== '' && !second.includes('=') && !second.includes('"') && /^[A-Za-z]+$/.test(second)) sub = second.toUpperCase()
  else i = wordStart
  const args = new Map<string, string>()
  for (;;) {
    skipSpaces()
    if (i >= n) break
    if (args.size >= MAX_PAIRS) throw new SamSyntaxError(`more than ${MAX_PAIRS} KEY=VALUE pairs`)
    const keyStart = i
    while (i < n && line[i] !== '=' && line[i] !== ' ' && line[i] !== '\t') {
      if (line[i] === '"') throw new SamSyntaxError(`quote inside key at column ${i + 1}`)
      i++
    }
    const key = line.slice(keyStart, i)
    if (key === '') throw new SamSyntaxError(`empty key at column ${i + 1}`)
    if (i >= n || line[i] !== '=') { args.set(key, ''); continue }
    i++ // '='
    if (line[i] === '"') {
      i++
      let value = ''
      let closed = false
      while (i < n) {
        const c = line[i]!
        if (c === '\\' && i + 1 < n && (line[i + 1] === '"' || line[i + 1] === '\\')) { value += line[i + 1]; i += 2; continue }
        if (c === '"') { closed = true; i++; break }
        value += c
        i++
      }
      if (!closed) throw new SamSyntaxError(`unterminated quoted value of ${key}`)
      if (i < n && line[i] !== ' ' && line[i] !== '\t') throw new SamSyntaxError(`text after the closing quote of ${key}`)
      args.set(key, value)
    } else {
      const start = i
      while (i < n && line[i] !== ' ' && line[i] !== '\t') {
        if (line[i] === '"') throw new SamSyntaxError(`stray quote in the value of ${key}`)
        i++
      }
      args.set(key, line.slice(start, i))
    }
  }
  return { verb, sub, args, text: '' }
}

/** A value as it must appear on a line: bare if it can be, else quoted with `\"` and `\\`. */
export function formatValue (v: string): string {
  if (v !== '' && !/[\s"\\]/.test(v)) return v
  return '"' + v.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"'
}

/**
 * One line, LF included: the words, then `KEY=VALUE` for every pair whose value is not
 * undefined (in the given order). Values with spaces, quotes or backslashes are quoted;
 * line breaks in values are replaced by spaces so that one call is always one line.
 */
export function formatLine (words: readonly string[], pairs: ReadonlyArray<readonly [string, string | number | boolean | undefined]> = []): string {
  let s = words.join(' ')
  for (const [k, v] of pairs) {
    if (v === undefined) continue
    s += ` ${k}=${formatValue(String(v).replace(/[\r\n]/g, ' '))}`
  }
  return s + '\n'
}

/**
 * Splits incoming bytes into lines and binary payloads, bounded: it holds at most one line
 * (MAX_LINE_BYTES) or one announced payload plus what arrived after it in the same chunk.
 */
export class LineSplitter {
  private chunks: Buffer[] = []
  private size = 0

  constructor (private readonly maxLine = MAX_LINE_BYTES) {}

  /** Adds received bytes. */
  push (chunk: Buffer): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.size += chunk.length
  }

  /** Bytes buffered. */
  get buffered (): number { return this.size }

  private flat (): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks, this.size)]
    return this.chunks[0] ?? Buffer.alloc(0)
  }

  /**
   * The next complete line (UTF-8, without LF), or undefined if none is complete yet. Throws
   * SamSyntaxError when more than `maxLine` bytes arrived without a LF (the caller then answers
   * and closes: the stream cannot be resynchronised).
   */
  nextLine (): string | undefined {
    if (this.size === 0) return undefined
    const buf = this.flat()
    const nl = buf.indexOf(10)
    if (nl < 0) {
      if (this.size > this.maxLine) throw new SamSyntaxError(`line longer than ${this.maxLine} bytes`)
      return undefined
    }
    if (nl + 1 > this.maxLine) throw new SamSyntaxError(`line longer than ${this.maxLine} bytes`)
    const line = buf.subarray(0, nl).toString('utf8')
    this.consume(buf, nl + 1)
    return line
  }

  /** The next `n` bytes if they have all arrived (the payload of a SIZE=n line), else undefined. */
  nextBytes (n: number): Buffer | undefined {
    if (this.size < n) return undefined
    const buf = this.flat()
    const out = Buffer.from(buf.subarray(0, n))
    this.consume(buf, n)
    return out
  }

  /** Everything buffered, emptied (when the connection turns into a raw byte pipe). */
  takeRest (): Buffer {
    const buf = this.flat()
    this.chunks = []
    this.size = 0
    return buf
  }

  private consume (buf: Buffer, n: number): void {
    const rest = buf.subarray(n)
    this.chunks = rest.length > 0 ? [rest] : []
    this.size = rest.length
  }
}
