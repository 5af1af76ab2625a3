/**
 * AbortSignal helpers used on every async edge: throw a typed AbortError/TimeoutError,
 * combine a caller's signal with a deadline, and race a promise against a signal.
 */
import { AbortError, TimeoutError } from './errors.ts'

/** Throws AbortError (or the TimeoutError that caused the abort) if `signal` has fired. */
export function throwIfAborted (signal?: AbortSignal): void {
  if (signal?.aborted === true) throw abortReason(signal)
}

/** The typed error that describes why `signal` fired. */
export function abortReason (signal: AbortSignal): Error {
  const r: unknown = signal.reason
  if (r instanceof TimeoutError || r instanceof AbortError) return r
  if (r instanceof Error && r.name === 'TimeoutError') return new TimeoutError('operation timed out', { cause: r })
  return new AbortError('operation aborted', { cause: r })
}

/** A signal that fires when `signal` fires or `ms` passes (with a TimeoutError reason). */
export function withTimeout (ms: number, signal?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(ms)
  return signal === undefined ? timeout : AbortSignal.any([signal, timeout])
}

/**
 * Resolves or rejects like `p`, but rejects with a typed error as soon as `signal` fires.
 * `onAbort` runs once if the signal wins, to release whatever `p` was waiting on.
 */
export async function raceSignal<T> (p: Promise<T>, signal: AbortSignal | undefined, onAbort?: () => void): Promise<T> {
  if (signal === undefined) return await p
  throwIfAborted(signal)
  let listener: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    listener = () => { onAbort?.(); reject(abortReason(signal)) }
    signal.addEventListener('abort', listener, { once: true })
  })
  try {
    return await Promise.race([p, aborted])
  } finally {
    if (listener !== undefined) signal.removeEventListener('abort', listener)
  }
}
