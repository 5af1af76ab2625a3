/**
 * The closed set of errors Umbra throws. Callers match on `err.name` (stable, pinned here)
 * or `instanceof`, never on message text. Each error carries a `retry` hint: whether doing the
 * same thing again (perhaps elsewhere) might succeed.
 */

/** Base class of every error Umbra throws on purpose. */
export class UmbraError extends Error {
  /** Whether repeating the operation (perhaps on another peer or transport) may succeed. */
  readonly retry: boolean = false
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** Input bytes did not decode: truncated, oversized, or malformed. Never retried. */
export class DecodeError extends UmbraError {
  static override readonly name = 'DecodeError'
  override readonly name = 'DecodeError'
}

/** A size, count or rate limit was exceeded (frame too large, buffer full, too many peers). */
export class LimitError extends UmbraError {
  static override readonly name = 'LimitError'
  override readonly name = 'LimitError'
}

/** Authentication failed: bad MAC, bad signature, wrong key. */
export class CryptoError extends UmbraError {
  static override readonly name = 'CryptoError'
  override readonly name = 'CryptoError'
}

/** A link handshake failed (wrong responder key, malformed message, timeout). */
export class HandshakeError extends UmbraError {
  static override readonly name = 'HandshakeError'
  override readonly name = 'HandshakeError'
  override readonly retry = true
}

/** A frame on an established link was rejected (replayed, reordered, forged, oversized). */
export class FrameError extends UmbraError {
  static override readonly name = 'FrameError'
  override readonly name = 'FrameError'
}

/** A transport could not dial, listen or carry bytes. Another transport may work. */
export class TransportError extends UmbraError {
  static override readonly name = 'TransportError'
  override readonly name = 'TransportError'
  override readonly retry = true
}

/** A connection or link was closed (locally or by the peer) while an operation was pending. */
export class ClosedError extends UmbraError {
  static override readonly name = 'ClosedError'
  override readonly name = 'ClosedError'
  override readonly retry = true
}

/** A deadline passed. */
export class TimeoutError extends UmbraError {
  static override readonly name = 'TimeoutError'
  override readonly name = 'TimeoutError'
  override readonly retry = true
}

/** The caller's AbortSignal fired. */
export class AbortError extends UmbraError {
  static override readonly name = 'AbortError'
  override readonly name = 'AbortError'
}

/** Configuration or arguments are invalid; the message says what to fix. */
export class ConfigError extends UmbraError {
  static override readonly name = 'ConfigError'
  override readonly name = 'ConfigError'
}

/** What was looked up does not exist (or could not be found within the lookup's bounds). */
export class NotFoundError extends UmbraError {
  static override readonly name = 'NotFoundError'
  override readonly name = 'NotFoundError'
  override readonly retry = true
}

/**
 * Makes an error without capturing a stack: for ordinary events reported as errors (a peer
 * closing its link), where the stack says nothing and capturing it costs tens of microseconds.
 */
export function stackless<E extends Error> (make: () => E): E {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try { return make() } finally { Error.stackTraceLimit = limit }
}
