/** Small helpers shared by the subcommands: argument parsing with clear errors, shutdown on signals. */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { ConfigError } from '../util/errors.ts'

/** parseArgs that turns Node's errors into a ConfigError naming the bad option. */
export function parse<T extends NonNullable<ParseArgsConfig['options']>> (argv: string[], options: T): ReturnType<typeof parseArgs<{ args: string[], options: T, allowPositionals: true, strict: true }>> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err))
  }
}

/** Resolves on the first SIGINT or SIGTERM (or when `signal` fires). */
export async function untilStopped (signal?: AbortSignal): Promise<string> {
  return await new Promise((resolve) => {
    const done = (why: string): void => {
      process.off('SIGINT', onInt)
      process.off('SIGTERM', onTerm)
      resolve(why)
    }
    const onInt = (): void => { done('SIGINT') }
    const onTerm = (): void => { done('SIGTERM') }
    process.on('SIGINT', onInt)
    process.on('SIGTERM', onTerm)
    signal?.addEventListener('abort', () => { done('abort') }, { once: true })
  })
}

/** Parses a positive integer option, or throws ConfigError. */
export function positiveInt (name: string, v: string | undefined, dflt: number, max = 1_000_000): number {
  if (v === undefined) return dflt
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1 || n > max) throw new ConfigError(`--${name} must be a whole number from 1 to ${max}, got '${v}'`)
  return n
}

/** Prints a one-line error; exit 2 for config errors, 1 otherwise. */
export function failure (cmd: string, err: unknown): number {
  const msg = err instanceof Error ? err.message : String(err)
  process.stderr.write(`umbra ${cmd}: ${msg.split('\n')[0]}\n`)
  return err instanceof ConfigError ? 2 : 1
}
