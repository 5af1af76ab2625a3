/**
 * Errors of the streaming layer that the shared set in src/util/errors.ts does not cover: the
 * peer refused a connection, or reset an open one. Both have stable names (match `err.name`).
 * Timeouts, aborts, limits and a closed manager use the shared TimeoutError, AbortError,
 * LimitError and ClosedError.
 */
import { UmbraError } from '../util/errors.ts'

/**
 * The peer answered our SYN with a reset: nothing listens on that port, or it is at its limit
 * of streams. Retrying later (or another port) may succeed.
 */
export class ConnectionRefusedError extends UmbraError {
  static override readonly name = 'ConnectionRefusedError'
  override readonly name = 'ConnectionRefusedError'
  override readonly retry = true
}

/** The peer reset an established stream (RST): data in flight in either direction is lost. */
export class ConnectionResetError extends UmbraError {
  static override readonly name = 'ConnectionResetError'
  override readonly name = 'ConnectionResetError'
  override readonly retry = true
}
