/**
 * The writers behind the {@link Logger} interface: one record per line, either JSON
 * (`{"t":"2024-05-01T12:00:00.000Z","level":"info","msg":"link up","peer":"ab12…"}`) for
 * machines, or text (`12:00:00.000 INFO  link up peer=ab12…`, local time) for people.
 *
 * Logging never throws and never crashes the process: a field that does not serialize (a
 * bigint, a cyclic object, a function) is written as a string; a write to a closed stream is
 * dropped. Messages and values are escaped so that a peer-supplied string cannot forge a line.
 */
import type { Writable } from 'node:stream'
import { systemClock, type Clock } from './clock.ts'
import { ConfigError } from './errors.ts'
import type { LogFields, Logger, LogLevel } from './log.ts'

/** Every level, lowest first. */
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']
/** Output formats. */
export type LogFormat = 'json' | 'text'
/** Every format. */
const LOG_FORMATS: readonly LogFormat[] = ['json', 'text']

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Records below this level are dropped. */
  level: LogLevel
  /** `json` (one JSON object per line) or `text` (`HH:MM:SS.mmm LEVEL msg k=v`). */
  format: LogFormat
  /** Where lines go. Default `process.stderr`. */
  stream?: Writable
  /** Source of timestamps (wall clock). Default the system clock. */
  clock?: Clock
}

/** Parses a log level name (case-insensitive); throws ConfigError on anything else. */
export function parseLogLevel (s: string): LogLevel {
  const v = s.trim().toLowerCase()
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LogLevel
  throw new ConfigError(`log level must be one of ${LOG_LEVELS.join(', ')}, got '${s}'`)
}

/** Parses a log format name (case-insensitive); throws ConfigError on anything else. */
export function parseLogFormat (s: string): LogFormat {
  const v = s.trim().toLowerCase()
  if ((LOG_FORMATS as readonly string[]).includes(v)) return v as LogFormat
  throw new ConfigError(`log format must be one of ${LOG_FORMATS.join(', ')}, got '${s}'`)
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }
const TEXT_LEVEL: Record<LogLevel, string> = { debug: 'DEBUG', info: 'INFO ', warn: 'WARN ', error: 'ERROR' }
/** Keys a JSON record uses itself; a field of that name is written as `_<name>`. */
const RESERVED = new Set(['t', 'level', 'msg'])
const guarded = new WeakSet<Writable>()

/** A leveled logger writing JSON lines or text lines to `stream`. */
export function createLogger (opts: LoggerOptions): Logger {
  const stream = opts.stream ?? process.stderr
  const clock = opts.clock ?? systemClock
  const min = RANK[opts.level]
  const format = opts.format === 'json' ? formatJson : formatText
  if (!guarded.has(stream)) {
    // A closed pipe (EPIPE) emits 'error' later; without a listener that would kill the process.
    guarded.add(stream)
    stream.on('error', () => {})
  }
  const write = (level: LogLevel, base: LogFields, msg: string, fields: LogFields | undefined): void => {
    if (RANK[level] < min) return
    try {
      stream.write(format(clock.wall(), level, msg, fields === undefined ? base : { ...base, ...fields }) + '\n')
    } catch {
      // Logging must never take the router down.
    }
  }
  const make = (base: LogFields): Logger => ({
    debug: (msg, fields) => { write('debug', base, msg, fields) },
    info: (msg, fields) => { write('info', base, msg, fields) },
    warn: (msg, fields) => { write('warn', base, msg, fields) },
    error: (msg, fields) => { write('error', base, msg, fields) },
    child: (fields) => make({ ...base, ...fields })
  })
  return make({})
}

/** A value as a JSON-safe primitive (never throws). Exported for tests. */
export function safeValue (v: unknown): string | number | boolean | null | undefined {
  switch (typeof v) {
    case 'string': case 'boolean': case 'undefined': return v
    case 'number': return Number.isFinite(v) ? v : String(v)
    case 'bigint': return v.toString()
    case 'symbol': return v.toString()
    case 'function': return '[function]'
  }
  if (v === null) return null
  if (v instanceof Error) return `${v.name}: ${v.message}`
  // Byte arrays may hold key material: say how big, never what.
  if (v instanceof Uint8Array) return `[${v.length} bytes]`
  try {
    const s = JSON.stringify(v)
    return typeof s === 'string' ? s : String(s)
  } catch {
    return '[unserializable]'
  }
}

function formatJson (wall: number, level: LogLevel, msg: string, fields: LogFields): string {
  const rec: Record<string, unknown> = { t: isoTime(wall), level, msg: String(msg) }
  for (const [k, v] of Object.entries(fields)) {
    const val = safeValue(v)
    if (val !== undefined) rec[RESERVED.has(k) ? `_${k}` : k] = val
  }
  try {
    return JSON.stringify(rec)
  } catch {
    return JSON.stringify({ t: rec.t, level, msg: String(msg), logError: 'fields not serializable' })
  }
}

function formatText (wall: number, level: LogLevel, msg: string, fields: LogFields): string {
  const d = new Date(wall)
  const time = Number.isFinite(d.getTime())
    ? `${pad(d.getHours(), 2)}:${pad(d.getMinutes(), 2)}:${pad(d.getSeconds(), 2)}.${pad(d.getMilliseconds(), 3)}`
    : '??:??:??.???'
  let line = `${time} ${TEXT_LEVEL[level]} ${escapeText(String(msg))}`
  for (const [k, v] of Object.entries(fields)) {
    const val = safeValue(v)
    if (val === undefined) continue
    line += ` ${escapeKey(k)}=${textValue(val)}`
  }
  return line
}

function isoTime (wall: number): string {
  const d = new Date(wall)
  return Number.isFinite(d.getTime()) ? d.toISOString() : String(wall)
}

function pad (n: number, width: number): string { return String(n).padStart(width, '0') }

const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/** Control characters (newlines included) escaped, so one record is always one line. */
function escapeText (s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, c => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

function escapeKey (k: string): string {
  return /^[A-Za-z0-9_.-]+$/.test(k) ? k : escapeText(JSON.stringify(k))
}

/** A value bare when it is unambiguous, else JSON-quoted. */
function textValue (v: string | number | boolean | null): string {
  if (typeof v !== 'string') return String(v)
  return v !== '' && /^[\w.:/@+\-[\]]+$/.test(v) ? v : escapeText(JSON.stringify(v))
}
