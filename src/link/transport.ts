/**
 * The transport interface: a transport moves bytes between two routers and nothing else.
 * It knows nothing of keys, frames or peers' identities. The link layer owns this interface
 * (transports/ plug into it, DESIGN.md) and runs an encrypted session over any {@link Conn}.
 *
 * Two kinds of transport exist:
 * - reliable (`reliable: true`: tcp, http, memory in stream mode): a Conn is an ordered,
 *   reliable byte stream. `send` chunks may be split or merged on the way; the receiver sees
 *   the same bytes in the same order.
 * - unreliable (`reliable: false`: udp, memory in lossy mode): a Conn carries datagrams of at
 *   most `mtu` bytes. Each `send` is one datagram; each `onData` is one whole datagram.
 *   Datagrams may be lost, duplicated or reordered. Close is not signalled to the peer.
 *
 * Addresses are URL strings: `tcp://127.0.0.1:7001`, `udp://127.0.0.1:7002`,
 * `http://127.0.0.1:7003/umbra`, `memory://name`. Port 0 in `listen` picks a free port;
 * `Listener.addr` then tells the real one.
 */

/** Names of the transports Umbra ships. */
export type TransportName = 'udp' | 'tcp' | 'http' | 'memory'

/** Callbacks a Conn's owner installs with {@link Conn.setHandlers}. */
export interface ConnHandlers {
  /** Bytes arrived: a stream chunk (reliable) or one whole datagram (unreliable). */
  onData (data: Uint8Array): void
  /** The send buffer drained after `send` returned false. */
  onDrain? (): void
  /** The Conn is closed, by either side or by an error (`err` set). Called exactly once. */
  onClose? (err?: Error): void
}

/** One connection (or, for datagram transports, one remote address) of a transport. */
export interface Conn {
  /** The transport that made this Conn. */
  readonly transport: TransportName
  /** The remote address, as a URL string (for inbound conns, the peer's source address). */
  readonly remote: string
  /** Whether this is a reliable byte stream (see module doc). */
  readonly reliable: boolean
  /** Largest `send` payload: one datagram for unreliable conns; a suggested chunk size for reliable ones. */
  readonly mtu: number
  /** Bytes accepted by `send` but not yet handed to the OS / peer. */
  readonly bufferedAmount: number
  /**
   * Installs the callbacks. Data that arrived before this call is buffered (bounded) and
   * delivered when handlers are set. Must be called once.
   */
  setHandlers (h: ConnHandlers): void
  /**
   * Sends bytes. Returns false when the caller should wait for `onDrain` before sending more
   * (the bytes were still accepted). Throws ClosedError after close, LimitError when an
   * unreliable datagram exceeds `mtu`.
   */
  send (data: Uint8Array): boolean
  /**
   * Optional: sends the concatenation of `parts` as `send` would (one datagram on an unreliable
   * Conn), taking ownership of the arrays (the caller never touches them again), so they need
   * not be copied.
   */
  sendParts? (parts: readonly Uint8Array[]): boolean
  /** Closes the Conn and frees its resources. Idempotent. `onClose` fires (once). */
  close (err?: Error): void
}

/** A bound listening endpoint. */
export interface Listener {
  /** The bound address, with the real port when 0 was asked for. */
  readonly addr: string
  /** Stops accepting, closes the socket and every Conn it produced. Idempotent. */
  close (): Promise<void>
}

/** Options of {@link Transport.dial}. */
export interface DialOptions {
  /** Required: dial rejects with AbortError/TimeoutError when it fires. */
  signal: AbortSignal
}

/** Options of {@link Transport.listen}. */
export interface ListenOptions {
  /** Closing the signal closes the listener. */
  signal?: AbortSignal
}

/** A byte carrier behind one small interface (STYLE.md §4). */
export interface Transport {
  readonly name: TransportName
  /** Whether Conns of this transport are reliable byte streams. */
  readonly reliable: boolean
  /** Default `mtu` of its Conns. */
  readonly mtu: number
  /**
   * The cost of reaching `addr` with this transport, lower is better (cheap and fast ~10,
   * costly ~100); undefined when this transport cannot reach `addr` at all (other scheme).
   */
  bid (addr: string): number | undefined
  /**
   * Opens a Conn to `addr`. Rejects with AbortError/TimeoutError on `signal`, with
   * TransportError when the address is unreachable or refused. For unreliable transports no
   * packet is exchanged: the Conn is ready at once and reachability shows in the link handshake.
   */
  dial (addr: string, opts: DialOptions): Promise<Conn>
  /**
   * Listens on `addr`; each new inbound Conn is handed to `onConn`. For unreliable transports
   * a new Conn appears on the first datagram from a new source address (bounded in number,
   * idle ones expire).
   */
  listen (addr: string, onConn: (conn: Conn) => void, opts?: ListenOptions): Promise<Listener>
  /** Closes every listener and Conn of this transport. */
  close (): Promise<void>
}
