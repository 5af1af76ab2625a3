/**
 * One UDP socket and the Conns it carries, demultiplexed by remote ip:port. A listening
 * endpoint creates a Conn for each new source address (up to `maxConns`) and hands it to
 * `onConn`; a dial-only endpoint drops datagrams from unknown sources. An idle sweep closes
 * Conns without traffic in either direction for `idleTimeoutMs`. The per-packet paths
 * (`onMessage`, `sendTo`) allocate nothing of their own and create no closures.
 * It does not resolve names: every address it sees is an IP literal.
 */
import dgram from 'node:dgram'
import { isIP } from 'node:net'
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns'
import { TransportError } from '../../src/util/errors.ts'
import { UdpConn, type UdpCarrier } from './conn.ts'
import { formatUdpAddr, isLoopback, isWildcard } from './addr.ts'

/** Tunables of one endpoint (see UdpTransportOptions for meanings and defaults). */
export interface EndpointOptions {
  mtu: number
  /** Undefined: chosen from the granted receive buffer ({@link autoLoopbackMtu}). */
  loopbackMtu: number | undefined
  maxConns: number
  idleTimeoutMs: number
  socketBufferBytes: number
  sendHighWater: number
  maxPending: number
}

/** Idle sweeps per idle timeout: a Conn closes after 100–125 % of the timeout without traffic. */
const SWEEPS_PER_TIMEOUT = 4

/**
 * A lookup for dgram that answers IP literals synchronously, so that `send` reaches libuv at
 * once (dgram's default defers every send through dns.lookup and process.nextTick).
 */
function fastLookup (host: string, family: number | LookupOneOptions, cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const f = isIP(host)
  if (f !== 0) cb(null, host, f)
  else dnsLookup(host, typeof family === 'number' ? { family } : family, cb)
}

/** A copy of a datagram (or of its parts) that may wait in the socket's queue. */
function copyOf (data: Uint8Array | readonly Uint8Array[]): Buffer {
  return data instanceof Uint8Array ? Buffer.from(data) : Buffer.concat(data as Uint8Array[])
}

/**
 * The loopback datagram size for a socket whose kernel receive buffer is `granted` bytes: 64
 * such datagrams fit in it, within 16384..65507 (see UdpTransportOptions.loopbackMtu); on IPv6
 * at most 65488, so that a datagram and its 48 bytes of headers fit `lo`'s 65536-byte MTU
 * unfragmented (IPv4's 28 bytes of headers leave room for 65507).
 */
export function autoLoopbackMtu (granted: number, ipv6 = false): number {
  return Math.min(ipv6 ? 65488 : 65507, Math.max(16384, Math.floor(granted / 64)))
}

/** A bound UDP socket plus its Conn table. */
export class UdpEndpoint implements UdpCarrier {
  tick = 0
  closed = false
  /** Datagrams dropped because they came from an unknown source or past `maxConns`. */
  dropped = 0
  /** Called when the last Conn closes (used for single-purpose dial sockets). */
  onEmpty: (() => void) | undefined
  private readonly conns = new Map<string, Map<number, UdpConn>>()
  private count = 0
  private readonly drainWaiters = new Set<UdpConn>()
  private readonly lowWater: number
  private readonly sweepTimer: NodeJS.Timeout
  private closing: Promise<void> | undefined
  /** Largest datagram to a loopback peer. */
  readonly loopbackMtu: number

  private constructor (
    private readonly socket: dgram.Socket,
    /** The address the socket is bound to. */
    readonly bindIp: string,
    /** The bound port. */
    readonly port: number,
    private readonly opts: EndpointOptions,
    private readonly onConn: ((c: UdpConn) => void) | undefined
  ) {
    this.lowWater = opts.sendHighWater >>> 1
    this.loopbackMtu = opts.loopbackMtu ?? autoLoopbackMtu(this.recvBufferSize(), isIP(bindIp) === 6)
    socket.on('message', this.onMessage)
    socket.on('error', (err) => { void this.close(new TransportError('udp socket error', { cause: err })) })
    const period = Math.max(10, Math.floor(opts.idleTimeoutMs / SWEEPS_PER_TIMEOUT))
    this.sweepTimer = setInterval(() => { this.sweep() }, period)
    this.sweepTimer.unref()
  }

  /** Binds a socket on `ip:port` (port 0: any). Rejects with TransportError if binding fails. */
  static async open (ip: string, port: number, opts: EndpointOptions, onConn?: (c: UdpConn) => void): Promise<UdpEndpoint> {
    const socket = dgram.createSocket({ type: isIP(ip) === 6 ? 'udp6' : 'udp4', lookup: fastLookup })
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => { socket.close(); reject(new TransportError(`cannot bind ${formatUdpAddr(ip, port)}`, { cause: err })) }
      socket.once('error', onError)
      socket.bind({ address: ip, port, exclusive: true }, () => { socket.off('error', onError); resolve() })
    })
    // Bigger kernel buffers: the 208 KiB default loses datagrams under load. The OS may cap it.
    try { socket.setRecvBufferSize(opts.socketBufferBytes) } catch {}
    try { socket.setSendBufferSize(opts.socketBufferBytes) } catch {}
    return new UdpEndpoint(socket, ip, socket.address().port, opts, onConn)
  }

  /** The bound address as a URL. */
  get addr (): string { return formatUdpAddr(this.bindIp, this.port) }

  /** Number of live Conns. */
  get size (): number { return this.count }

  /** Whether the kernel receive buffer size actually granted (for diagnostics). */
  recvBufferSize (): number {
    try { return this.socket.getRecvBufferSize() } catch { return 0 }
  }

  /** Whether this socket can send to `ip` (same family; a loopback bind reaches only loopback). */
  canReach (ip: string): boolean {
    if (this.closed || this.count >= this.opts.maxConns) return false
    if ((isIP(ip) === 6) !== (isIP(this.bindIp) === 6)) return false
    return isWildcard(this.bindIp) || isLoopback(this.bindIp) === isLoopback(ip)
  }

  /** Whether a Conn to ip:port exists here. */
  has (ip: string, port: number): boolean {
    return this.conns.get(ip)?.has(port) === true
  }

  /** Creates the Conn for an outbound dial. The caller checked `canReach` and `has`. */
  dialConn (ip: string, port: number): UdpConn {
    return this.add(ip, port, false)
  }

  sendTo (conn: UdpConn, data: Uint8Array | readonly Uint8Array[], owned = false): boolean {
    const s = this.socket
    // Usually the datagram leaves synchronously (fastLookup + libuv's try-send), so `data` is
    // free again when send returns. A non-empty queue means the kernel buffer is full and this
    // datagram will wait in it: copy it unless it was handed over (the caller may reuse its
    // buffer) and ask for its completion so that drain waiters learn when the queue empties.
    const msg = data as Uint8Array | Uint8Array[]
    if (s.getSendQueueSize() === 0) s.send(msg, conn.port, conn.ip)
    else s.send(owned ? msg : copyOf(data), conn.port, conn.ip, this.onSent)
    if (s.getSendQueueSize() <= this.opts.sendHighWater) return true
    this.drainWaiters.add(conn)
    return false
  }

  queuedBytes (): number {
    return this.closed ? 0 : this.socket.getSendQueueSize()
  }

  remove (conn: UdpConn): void {
    const byPort = this.conns.get(conn.ip)
    if (byPort?.get(conn.port) !== conn) return
    byPort.delete(conn.port)
    if (byPort.size === 0) this.conns.delete(conn.ip)
    this.count--
    this.drainWaiters.delete(conn)
    if (this.count === 0 && !this.closed) this.onEmpty?.()
  }

  /**
   * Closes the socket and every Conn on it, with `err` if given. `dialedErr` is for Conns this
   * side dialed, which close only because they shared a listener's socket.
   */
  async close (err?: Error, dialedErr?: Error): Promise<void> {
    if (this.closing !== undefined) return await this.closing
    this.closed = true
    clearInterval(this.sweepTimer)
    for (const byPort of [...this.conns.values()]) {
      for (const c of [...byPort.values()]) c.close(err ?? (c.inbound ? undefined : dialedErr))
    }
    this.closing = new Promise<void>(resolve => {
      try { this.socket.close(() => { resolve() }) } catch { resolve() }
    })
    return await this.closing
  }

  private add (ip: string, port: number, inbound: boolean): UdpConn {
    // The path MTU: a loopback peer's datagrams never leave `lo` (MTU 65536); others get the configured MTU.
    const mtu = isLoopback(ip) ? Math.max(this.opts.mtu, this.loopbackMtu) : this.opts.mtu
    const conn = new UdpConn(this, ip, port, mtu, inbound, this.opts.maxPending)
    let byPort = this.conns.get(ip)
    if (byPort === undefined) this.conns.set(ip, byPort = new Map())
    byPort.set(port, conn)
    this.count++
    return conn
  }

  private readonly onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    let conn = this.conns.get(rinfo.address)?.get(rinfo.port)
    if (conn === undefined) {
      if (this.onConn === undefined || this.closed || this.count >= this.opts.maxConns) {
        this.dropped++
        return
      }
      conn = this.add(rinfo.address, rinfo.port, true)
      try {
        this.onConn(conn)
      } catch (err) {
        conn.close(err instanceof Error ? err : new Error(String(err)))
      }
      if (conn.closed) return
    }
    conn.receive(msg)
  }

  private readonly onSent = (): void => {
    if (this.drainWaiters.size === 0 || this.closed) return
    if (this.socket.getSendQueueSize() > this.lowWater) return
    const waiters = [...this.drainWaiters]
    this.drainWaiters.clear()
    for (const c of waiters) c.drained()
  }

  private sweep (): void {
    const t = ++this.tick
    for (const byPort of [...this.conns.values()]) {
      for (const c of [...byPort.values()]) {
        if (t - c.seen > SWEEPS_PER_TIMEOUT) c.close()
      }
    }
  }
}
