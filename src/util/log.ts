/**
 * The logging interface handed to every component that logs (STYLE.md §8). Structured: a short
 * message plus fields. Never pass secrets (keys, passwords, tokens) as fields.
 * The writers (JSON lines, text) live in `src/util/log-writer.ts`.
 */

/** Severity, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** Structured fields of one log record. */
export type LogFields = Record<string, string | number | boolean | null | undefined>

/** A leveled, structured logger. `child` adds fields to every record (e.g. a component name). */
export interface Logger {
  debug (msg: string, fields?: LogFields): void
  info (msg: string, fields?: LogFields): void
  warn (msg: string, fields?: LogFields): void
  error (msg: string, fields?: LogFields): void
  child (fields: LogFields): Logger
}

/** A logger that drops everything (the default in tests and libraries). */
export const silentLogger: Logger = {
  debug () {},
  info () {},
  warn () {},
  error () {},
  child () { return silentLogger }
}
