/**
 * Drives one Connection for the StreamManager: hands its events to its socket (and to a
 * pending `connect`), sends every packet `pollTransmit` returns in one go, and keeps one
 * unref'd timer, re-armed from `pollTimeout`. The timer is kept when it fires no later than
 * needed (firing early just re-arms it), so most calls touch no timer at all.
 */
import type { Clock } from '../util/clock.ts'
import { ClosedError } from '../util/errors.ts'
import type { Connection, ConnectionEvent } from './connection.ts'
import { StreamSocket, type SocketInfo } from './socket.ts'

/** What a driver needs from its manager. */
export interface DriverHost {
  readonly clock: Clock
  /** Sends the connection's packets (in order, in one go). */
  transmit (d: Driver, packets: Uint8Array[]): void
  /** Services `d` soon (coalescing many kicks into one service). */
  schedule (d: Driver): void
  /** After each service: the manager updates its counts and forgets `d` once its connection is done (then stops it). */
  serviced (d: Driver): void
}

/** The settle functions of a `connect` still waiting for the handshake. */
export interface PendingConnect { resolve: (s: StreamSocket) => void, reject: (e: Error) => void }

const MAX_EVENTS_PER_SERVICE = 64

/** One connection's driver (see module doc). */
export class Driver {
  readonly socket: StreamSocket
  /** A `connect` waiting for the handshake, if any. */
  connecting: PendingConnect | undefined
  /** Accepted, handshake not yet complete (counts against maxPendingAccepts). */
  pendingAccept = false
  stopped = false
  private timer: NodeJS.Timeout | undefined
  private timerAt = 0

  constructor (
    readonly conn: Connection,
    /** The peer; the ports on the packets we send (ours, then the peer's); the peer-ID index key if accepted. */
    readonly remote: string,
    readonly ourPort: number,
    readonly peerPort: number,
    readonly remoteKey: string | undefined,
    info: SocketInfo,
    private readonly host: DriverHost
  ) {
    this.socket = new StreamSocket({ conn, now: () => host.clock.now(), kick: () => { host.schedule(this) } }, info)
  }

  /** Hands out events, sends every packet due, re-arms the timer, reports when done. */
  service (): void {
    if (this.stopped) return
    this.dispatchEvents()
    const pkts = this.conn.pollTransmit(this.host.clock.now())
    if (pkts.length > 0) this.host.transmit(this, pkts)
    this.dispatchEvents()
    this.host.serviced(this)
    if (!this.stopped) this.arm()
  }

  /** Stops the timer; a `connect` still waiting fails with ClosedError. */
  stop (): void {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    const c = this.connecting
    this.connecting = undefined
    c?.reject(new ClosedError('streams: manager closed'))
  }

  private dispatchEvents (): void {
    for (let i = 0; i < MAX_EVENTS_PER_SERVICE; i++) {
      const ev = this.conn.pollEvent()
      if (ev === undefined) return
      this.dispatch(ev)
    }
    this.host.schedule(this) // more than one turn's worth: go on next turn
  }

  private dispatch (ev: ConnectionEvent): void {
    const c = this.connecting
    if (c !== undefined && ev.type === 'connected') {
      this.connecting = undefined
      c.resolve(this.socket)
    } else if (c !== undefined && ev.type === 'closed') {
      this.connecting = undefined
      c.reject(ev.error ?? new ClosedError('streams: closed before connecting'))
      this.socket.destroy() // no 'error' event: the caller has no socket yet
      return
    }
    this.socket.onEvent(ev)
  }

  private arm (): void {
    const t = this.conn.pollTimeout()
    if (t === undefined) {
      if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
      return
    }
    if (this.timer !== undefined && this.timerAt <= t) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timerAt = t
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (this.stopped) return
      this.conn.handleTimeout(this.host.clock.now())
      this.service()
    }, Math.max(1, Math.ceil(t - this.host.clock.now())))
    this.timer.unref()
  }
}
