/**
 * AbortSignal helpers used on every async edge: throw a typed AbortError/TimeoutError,
 * combine a caller's signal with a deadline, share one among many concurrent operations, and
 * race a promise against a signal.
 */
import { setMaxListeners } from 'node:events'
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
 * A signal that fires when `signal` fires and takes any number of listeners, for a call that
 * hands one signal to many concurrent operations (each racing it with {@link raceSignal}): Node
 * warns past 10 listeners on one signal. `signal` itself gains no listener, as
 * `AbortSignal.any` follows it without one.
 */
export function fanOutSignal (signal: AbortSignal | undefined): AbortSignal | undefined {
  if (signal === undefined) return undefined
  const s = AbortSignal.any([signal])
  setMaxListeners(0, s)
  return s
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
