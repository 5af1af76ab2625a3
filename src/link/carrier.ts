/**
 * The contract between a Link and the carrier that moves its messages once the handshake is
 * done: stream-carrier.ts (reliable Conns) and datagram-carrier.ts (datagram Conns).
 */
import { ClosedError, stackless } from '../util/errors.ts'

/**
 * What a carrier reports when the peer sends a CLOSE block (`body[0]`: its reason). An ordinary
 * end of a link, so the error carries no stack (capturing one costs ~30 us per closed link).
 */
export function peerClosed (body: Uint8Array): ClosedError {
  return stackless(() => new ClosedError(`peer closed the link (reason ${body[0] ?? 0})`))
}

/** Callbacks from a carrier to its link. */
export interface CarrierEvents {
  /**
   * A message received. It may be a view (non-zero `byteOffset`) of a larger array, at most four
   * times its size (`keepOrCopy` in blocks.ts): copy what is kept for long.
   */
  onMessage (msg: Uint8Array): void
  /** The peer closed the link (CLOSE block) or the link failed. */
  onFail (err?: Error): void
  /** Queued bytes fell below the high-water mark after `send` returned false. */
  onDrain (): void
}

/** What a Link asks of its carrier. */
export interface Carrier {
  /** Largest message `send` takes. */
  readonly maxMessage: number
  /**
   * Largest message sent whole: in one datagram on a datagram carrier (bigger ones are split
   * into pieces), `maxMessage` on a stream carrier. Batch up to this size where it matters.
   */
  readonly packetMessage: number
  /** Bytes accepted and not yet sent (stream) or acknowledged (datagram). */
  readonly queuedBytes: number
  /** Clock ms of the last send and the last authenticated receive (keepalive, idle timeout). */
  readonly lastSend: number
  readonly lastReceive: number
  /** Queues a message; false means wait for onDrain. */
  send (msg: Uint8Array): boolean
  /** Queues a control block (PING, CLOSE). */
  sendControl (type: number, body: Uint8Array): void
  /** Bytes (a chunk or one datagram) from the Conn. */
  onData (data: Uint8Array): void
  /** The Conn's send buffer drained. */
  onConnDrain (): void
  /** Periodic housekeeping: timers and time-based key rotation. */
  tick (now: number): void
  /** Stops; with a reason, a final CLOSE goes to the peer first. */
  stop (closeReason?: number): void
}
