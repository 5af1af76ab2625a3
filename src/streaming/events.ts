/**
 * What a stream state machine reports to its driver: its phase, its events and its counters.
 * Types only (connection.ts produces them, socket.ts and manager.ts consume them).
 */

/** Where a stream is in its life (docs/streaming.md, "State machine"). */
export type Phase = 'syn-sent' | 'syn-received' | 'open' | 'time-wait' | 'closed'

/** What the driver learns from `Connection.pollEvent`. */
export type ConnectionEvent =
  /** Our SYN was acknowledged (initiator only). */
  | { type: 'connected' }
  /** In-order bytes (or the end of the peer's data) can be read. */
  | { type: 'readable' }
  /** The send buffer has room again after a write was cut short. */
  | { type: 'writable' }
  /** Our FIN was acknowledged: the peer has every byte we wrote. */
  | { type: 'finished' }
  /** The stream is over; `error` is undefined after a clean close (or a local reset without one). */
  | { type: 'closed', error: Error | undefined }

/** Counters and estimates of one stream. */
export interface ConnectionStats {
  srttMs: number
  rtoMs: number
  /** Congestion window and slow-start threshold, in packets. */
  cwnd: number
  ssthresh: number
  /** Packets in flight, unacknowledged payload bytes, bytes waiting to be sent. */
  pipe: number
  unackedBytes: number
  queuedBytes: number
  /** The window the peer advertised (bytes beyond its cumulative ACK). */
  peerWindow: number
  /** Bytes received in order and not yet read. */
  unreadBytes: number
  /** Packets sent again; of those declared lost, how many by later ACKs (fast retransmit); RTO expiries. */
  retransmits: number
  fastLosses: number
  timeouts: number
  packetsSent: number
  packetsReceived: number
  /** Received packets dropped: outside the window, over the buffer, or for another stream. */
  rejected: number
  duplicates: number
}
