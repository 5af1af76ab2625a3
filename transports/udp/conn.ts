/**
 * One UDP Conn: the traffic with one remote ip:port over one socket ({@link UdpEndpoint}).
 * It checks the datagram size, hands datagrams to the endpoint's socket and delivers received
 * ones to the owner. It does no I/O of its own, keeps no timers and allocates nothing per
 * packet; close is local only (never signalled to the peer).
 */
import type { Conn, ConnHandlers } from '../../src/link/transport.ts'
import { ClosedError, LimitError } from '../../src/util/errors.ts'
import { HandlerSlot } from '../handler-slot.ts'
import { formatUdpAddr } from './addr.ts'

/** What a UdpConn needs from the socket that carries it. */
export interface UdpCarrier {
  /** The carrier's coarse clock: a counter advanced by its idle sweep. */
  readonly tick: number
  /**
   * Sends one datagram (`data`, or the concatenation of its parts); returns false above the
   * send high-water mark. `owned`: the arrays are handed over and need no copy if they must wait.
   */
  sendTo (conn: UdpConn, data: Uint8Array | readonly Uint8Array[], owned?: boolean): boolean
  /** Bytes queued in the socket, not yet handed to the OS. */
  queuedBytes (): number
  /** Forgets a closed conn. */
  remove (conn: UdpConn): void
}

/** A {@link Conn} over UDP. Created only by the UDP transport. */
export class UdpConn implements Conn {
  readonly transport = 'udp' as const
  readonly reliable = false
  readonly remote: string
  /** Carrier tick of the last datagram sent or received (read by the idle sweep). */
  seen: number
  private readonly slot: HandlerSlot

  constructor (
    private readonly carrier: UdpCarrier,
    /** Remote IP literal. */
    readonly ip: string,
    /** Remote port. */
    readonly port: number,
    readonly mtu: number,
    /** Whether the peer opened this Conn (its first datagram created it). */
    readonly inbound: boolean,
    maxPending: number
  ) {
    // Before setHandlers: a bounded number of datagrams is kept, the rest dropped (it is UDP).
    this.slot = new HandlerSlot(Infinity, maxPending)
    this.remote = formatUdpAddr(ip, port)
    this.seen = carrier.tick
  }

  /** The send queue of the whole socket (shared with its other Conns); 0 when the OS keeps up. */
  get bufferedAmount (): number {
    return this.closed ? 0 : this.carrier.queuedBytes()
  }

  /** Set once close() ran. */
  get closed (): boolean { return this.slot.closed }

  setHandlers (h: ConnHandlers): void { this.slot.attach(h) }

  send (data: Uint8Array): boolean {
    if (this.closed) throw new ClosedError('udp conn is closed')
    if (data.byteLength > this.mtu) throw new LimitError(`datagram of ${data.byteLength} bytes exceeds mtu ${this.mtu}`)
    this.seen = this.carrier.tick
    return this.carrier.sendTo(this, data, false)
  }

  /** Sends the concatenation of `parts` (handed over, not copied) as one datagram. */
  sendParts (parts: readonly Uint8Array[]): boolean {
    if (this.closed) throw new ClosedError('udp conn is closed')
    let n = 0
    for (const p of parts) n += p.byteLength
    if (n > this.mtu) throw new LimitError(`datagram of ${n} bytes exceeds mtu ${this.mtu}`)
    this.seen = this.carrier.tick
    return this.carrier.sendTo(this, parts, true)
  }

  close (err?: Error): void {
    this.slot.close(err, () => { this.carrier.remove(this) })
  }

  /** Called by the carrier for each datagram from this remote. */
  receive (data: Uint8Array): void {
    this.seen = this.carrier.tick
    this.slot.data(data)
  }

  /** Called by the carrier when its send queue fell below the low-water mark. */
  drained (): void { this.slot.drain() }
}
