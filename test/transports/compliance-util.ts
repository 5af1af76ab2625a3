/**
 * Helpers of the transport compliance suite (compliance.ts): a {@link Peer} that records what
 * arrives on a Conn, a {@link Side} that collects a listener's inbound conns, and bounded
 * waits. Every wait has a deadline (a bound against hangs, not a speed assertion).
 */
import { createHash, type Hash } from 'node:crypto'
import type { Conn, Transport } from '../../src/link/transport.ts'

/** Upper bound of any single wait in the suite, in ms. */
export const BOUND_MS = 20_000

/** The datagram an unreliable dialer sends until its listener has accepted it. */
export const HELLO = new TextEncoder().encode('umbra-compliance-hello')

const isHello = (d: Uint8Array): boolean => d.length === HELLO.length && Buffer.from(d).equals(HELLO)

export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Something a test can wait on; `wake()` re-checks every waiting condition. */
export class Waitable {
  private waiters: Array<() => void> = []

  protected wake (): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  /** Resolves once `cond()` holds; rejects after `ms`. */
  async until (cond: () => boolean, what: string, ms = BOUND_MS): Promise<void> {
    const deadline = Date.now() + ms
    while (!cond()) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }
}

/** How a {@link Peer} treats what it receives. */
export interface PeerMode {
  /** Send every received chunk back. */
  echo?: boolean
  /** Keep received chunks (default true); a running hash and byte count are always kept. */
  keep?: boolean
  /** Call `setHandlers` only after this many ms (tests buffering before setHandlers). */
  deferMs?: number
}

/** Records what arrives on one Conn. On unreliable conns {@link HELLO} datagrams are ignored. */
export class Peer extends Waitable {
  readonly chunks: Uint8Array[] = []
  readonly closes: Array<Error | undefined> = []
  readonly hash: Hash = createHash('sha256')
  bytes = 0
  drains = 0
  sendErrors = 0

  constructor (readonly conn: Conn, readonly mode: PeerMode = {}) {
    super()
    if (mode.deferMs === undefined) this.attach()
    else setTimeout(() => { this.attach() }, mode.deferMs)
  }

  private attach (): void {
    this.conn.setHandlers({
      onData: d => {
        if (!this.conn.reliable && isHello(d)) return
        if (this.mode.keep !== false) this.chunks.push(Uint8Array.from(d))
        this.hash.update(d)
        this.bytes += d.length
        if (this.mode.echo === true) {
          try { this.conn.send(d) } catch { this.sendErrors++ }
        }
        this.wake()
      },
      onDrain: () => { this.drains++; this.wake() },
      onClose: err => { this.closes.push(err); this.wake() }
    })
  }

  get closed (): boolean { return this.closes.length > 0 }

  /** Everything received so far, concatenated. */
  received (): Buffer { return Buffer.concat(this.chunks) }

  /** Whether one received chunk (datagram) equals `d` exactly. */
  hasDatagram (d: Uint8Array): boolean { return this.chunks.some(c => Buffer.from(c).equals(d)) }

  /** Waits for the next onDrain (or close). Call right after `send` returned false. */
  async drained (): Promise<void> {
    const n = this.drains
    await this.until(() => this.drains > n || this.closed, 'onDrain')
  }

  /** Waits until this conn's onClose has fired. */
  async waitClosed (): Promise<void> { await this.until(() => this.closed, 'onClose') }

  /** Sends `data` from this peer's conn, respecting back-pressure, in chunks of `chunk` bytes. */
  async pump (data: Uint8Array, chunk: (i: number) => number): Promise<void> {
    for (let off = 0, i = 0; off < data.length; i++) {
      const n = Math.max(1, chunk(i))
      if (!this.conn.send(data.subarray(off, off + n))) await this.drained()
      off += n
    }
  }
}

/**
 * Gets `data` from `from` to `to`: once on reliable conns; on unreliable ones, resent (as a
 * fresh copy) until `to` has it, at most 40 times.
 */
export async function deliver (from: Conn, to: Peer, data: Uint8Array): Promise<void> {
  if (from.reliable) {
    const before = to.bytes
    from.send(data)
    await to.until(() => to.bytes >= before + data.length, `${data.length} bytes`)
    return
  }
  for (let i = 0; i < 40 && !to.hasDatagram(data); i++) {
    from.send(Uint8Array.from(data))
    await to.until(() => to.hasDatagram(data), 'datagram', 250).catch(() => {})
  }
  if (!to.hasDatagram(data)) throw new Error(`a datagram of ${data.length} bytes never arrived in 40 tries`)
}

/** Collects the Peers of one listener's inbound conns. */
export class Side extends Waitable {
  readonly peers: Peer[] = []

  constructor (private readonly mode: () => PeerMode) { super() }

  /** The listener's `onConn`. */
  readonly onConn = (c: Conn): void => {
    this.peers.push(new Peer(c, this.mode()))
    this.wake()
  }

  /** Waits until the listener has accepted at least `n` conns. */
  async atLeast (n: number, ms = BOUND_MS): Promise<void> {
    await this.until(() => this.peers.length >= n, `${n} inbound conns`, ms)
  }
}

/**
 * Dials `addr` and returns the client Peer and the listener's Peer for that conn. Unreliable
 * dialers send {@link HELLO} until the listener has a conn for them. Not for concurrent use.
 */
export async function connect (dialer: Transport, addr: string, side: Side, mode: PeerMode = {}): Promise<{ client: Peer, server: Peer }> {
  const n = side.peers.length
  const conn = await dialer.dial(addr, { signal: AbortSignal.timeout(BOUND_MS) })
  const client = new Peer(conn, mode)
  if (conn.reliable) {
    await side.atLeast(n + 1)
  } else {
    for (let i = 0; i < 40 && side.peers.length <= n; i++) {
      conn.send(HELLO)
      await side.atLeast(n + 1, 250).catch(() => {})
    }
    await side.atLeast(n + 1, 1)
  }
  return { client, server: side.peers[n] as Peer }
}

/** SHA-256 of `b` as hex. */
export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
