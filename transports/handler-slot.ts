/**
 * What every Conn shares, whatever carries it (STYLE.md §5): the handlers installed once by
 * `setHandlers`, a bounded buffer for data that arrives before them, and a close that happens
 * once and is told to the owner exactly once (at close, or when the handlers arrive).
 * A graceful close keeps the buffered data for the owner; a close with an error drops it.
 * It does no I/O; each Conn decides what an over-full buffer means (close, or drop a datagram).
 */
import type { ConnHandlers } from '../src/link/transport.ts'
import { ConfigError } from '../src/util/errors.ts'

/** The handler slot of one Conn. */
export class HandlerSlot {
  private handlers: ConnHandlers | undefined
  private pending: Uint8Array[] = []
  private pendingBytes = 0
  private closeErr: Error | undefined
  private notified = false
  /** Whether `close` has run. */
  closed = false

  /** @param maxBytes bytes kept before the handlers arrive; @param maxItems chunks kept */
  constructor (private readonly maxBytes: number, private readonly maxItems = Infinity) {}

  /** Conn.setHandlers: installs `h`, delivers what was kept, then a close that already happened. */
  attach (h: ConnHandlers): void {
    if (this.handlers !== undefined) throw new ConfigError('setHandlers called twice')
    this.handlers = h
    const pending = this.pending
    this.pending = []
    this.pendingBytes = 0
    for (const d of pending) {
      if (this.notified) return
      h.onData(d)
    }
    if (this.closed) this.notify()
  }

  /**
   * Received data: to the handlers, or kept until they arrive. Returns false when it could not
   * be kept (the bound is reached); data after close is ignored.
   */
  data (d: Uint8Array): boolean {
    if (this.closed) return true
    const h = this.handlers
    if (h !== undefined) { h.onData(d); return true }
    if (this.pendingBytes + d.byteLength > this.maxBytes || this.pending.length >= this.maxItems) return false
    this.pending.push(d)
    this.pendingBytes += d.byteLength
    return true
  }

  /** Tells the handlers that sending may resume (unless closed). */
  drain (): void {
    if (!this.closed) this.handlers?.onDrain?.()
  }

  /**
   * Closes once: returns false if already closed. `bookkeeping` runs after the state changes
   * and before the owner is told (the Conn releases its resources there).
   */
  close (err: Error | undefined, bookkeeping?: () => void): boolean {
    if (this.closed) return false
    this.closed = true
    this.closeErr = err
    if (err !== undefined) { this.pending = []; this.pendingBytes = 0 }
    bookkeeping?.()
    if (this.handlers !== undefined) this.notify()
    return true
  }

  private notify (): void {
    if (this.notified) return
    this.notified = true
    this.handlers?.onClose?.(this.closeErr)
  }
}
