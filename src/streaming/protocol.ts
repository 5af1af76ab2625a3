/**
 * I2CP protocol numbers that say which layer a message between destinations belongs to (the
 * numbers I2P and SAM use), so the router can hand each one to the right handler.
 */

/** Protocol numbers: streaming 6, repliable (signed) datagram 17, raw datagram 18. */
export const Protocol = {
  /** Stream packets (packet.ts), handled by the StreamManager. */
  STREAMING: 6,
  /** Repliable datagrams: sender destination + signature + payload (datagram.ts). */
  REPLIABLE: 17,
  /** The same number under SAM's name for the style (`STYLE=DATAGRAM`). */
  DATAGRAM: 17,
  /** Raw datagrams: the payload alone. */
  RAW: 18
} as const

/** One of the {@link Protocol} numbers. */
export type ProtocolNumber = typeof Protocol[keyof typeof Protocol]
