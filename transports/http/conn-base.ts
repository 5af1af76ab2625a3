/**
 * What every HTTP Conn shares, client or server side, stream or poll mode: the handler slot
 * (transports/handler-slot.ts: bounded early data, a close told exactly once), drain
 * notification, and closing on too much early data. Subclasses fill in `send`,
 * `bufferedAmount` and `teardown` (release their requests). It does no I/O itself.
 */
import type { Conn, ConnHandlers } from '../../src/link/transport.ts'
import { LimitError } from '../../src/util/errors.ts'
import { HandlerSlot } from '../handler-slot.ts'

/** Suggested chunk size of HTTP Conns. */
export const HTTP_MTU = 64 * 1024

/** Base class of the HTTP transport's Conns. */
export abstract class HttpConnBase implements Conn {
  readonly transport = 'http' as const
  readonly reliable = true
  readonly mtu = HTTP_MTU
  /** Called once after close, for the owner's bookkeeping. */
  onFinal: ((conn: HttpConnBase) => void) | undefined
  protected needDrain = false
  private readonly slot: HandlerSlot

  constructor (readonly remote: string, private readonly maxPending: number) {
    this.slot = new HandlerSlot(maxPending)
  }

  /** Whether the Conn is closed. */
  get closed (): boolean { return this.slot.closed }

  abstract get bufferedAmount (): number
  abstract send (data: Uint8Array): boolean
  /** Releases the mode's requests; `err` set means an abrupt close. */
  protected abstract teardown (err?: Error): void

  setHandlers (h: ConnHandlers): void { this.slot.attach(h) }

  close (err?: Error): void {
    this.slot.close(err, () => { this.teardown(err); this.onFinal?.(this) })
  }

  /** Hands received bytes to the owner (or buffers them, bounded, until handlers are set). */
  protected deliver (data: Uint8Array): void {
    if (data.byteLength === 0) return
    if (!this.slot.data(data)) this.close(new LimitError(`more than ${this.maxPending} bytes arrived before handlers were set`))
  }

  /** Fires onDrain if a `send` returned false since the last drain. */
  protected drained (): void {
    if (!this.needDrain || this.closed) return
    this.needDrain = false
    this.slot.drain()
  }
}
