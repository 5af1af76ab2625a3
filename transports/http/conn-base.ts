/**
 * What every HTTP Conn shares, client or server side, stream or poll mode: the handler
 * slot, a bounded buffer for data that arrives before `setHandlers`, drain notification and
 * a close that runs once and tells the owner exactly once. Subclasses fill in `send`,
 * `bufferedAmount` and `teardown` (release their requests). It does no I/O itself.
 */
import type { Conn, ConnHandlers } from '../../src/link/transport.ts'
import { LimitError } from '../../src/util/errors.ts'

/** Suggested chunk size of HTTP Conns. */
export const HTTP_MTU = 64 * 1024

/** Base class of the HTTP transport's Conns. */
export abstract class HttpConnBase implements Conn {
  readonly transport = 'http' as const
  readonly reliable = true
  readonly mtu = HTTP_MTU
  closed = false
  /** Called once after close, for the owner's bookkeeping. */
  onFinal: ((conn: HttpConnBase) => void) | undefined
  protected needDrain = false
  private handlers: ConnHandlers | undefined
  private pending: Uint8Array[] | undefined
  private pendingBytes = 0
  private closeErr: Error | undefined
  private closeNotified = false

  constructor (readonly remote: string, private readonly maxPending: number) {}

  abstract get bufferedAmount (): number
  abstract send (data: Uint8Array): boolean
  /** Releases the mode's requests; `err` set means an abrupt close. */
  protected abstract teardown (err?: Error): void

  setHandlers (h: ConnHandlers): void {
    if (this.handlers !== undefined) throw new Error('setHandlers called twice')
    this.handlers = h
    const pending = this.pending
    this.pending = undefined
    this.pendingBytes = 0
    if (pending !== undefined) for (const d of pending) if (!this.closed) h.onData(d)
    if (this.closed) this.notifyClose()
  }

  close (err?: Error): void {
    if (this.closed) return
    this.closed = true
    this.closeErr = err
    this.pending = undefined
    this.teardown(err)
    this.onFinal?.(this)
    if (this.handlers !== undefined) this.notifyClose()
  }

  /** Hands received bytes to the owner (or buffers them, bounded, until handlers are set). */
  protected deliver (data: Uint8Array): void {
    if (this.closed || data.byteLength === 0) return
    const h = this.handlers
    if (h !== undefined) {
      h.onData(data)
      return
    }
    this.pendingBytes += data.byteLength
    if (this.pendingBytes > this.maxPending) {
      this.close(new LimitError(`more than ${this.maxPending} bytes arrived before handlers were set`))
      return
    }
    (this.pending ??= []).push(data)
  }

  /** Fires onDrain if a `send` returned false since the last drain. */
  protected drained (): void {
    if (!this.needDrain || this.closed) return
    this.needDrain = false
    this.handlers?.onDrain?.()
  }

  private notifyClose (): void {
    if (this.closeNotified) return
    this.closeNotified = true
    this.handlers?.onClose?.(this.closeErr)
  }
}
