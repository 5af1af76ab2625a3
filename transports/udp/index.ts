/**
 * The UDP transport: unreliable datagrams over node:dgram, addresses `udp://host:port`.
 * One socket per listener, its inbound Conns demultiplexed by source ip:port (bounded in
 * number, idle ones expire). `dial` sends from a listening socket when there is a suitable
 * one (so replies come back to it and reach the dialed Conn), otherwise from one shared
 * ephemeral socket per bind address. No packet is exchanged on dial and close is not
 * signalled: the link layer above does handshakes, encryption, ARQ and keepalives.
 */
import { lookup } from 'node:dns/promises'
import type { Conn, DialOptions, Listener, ListenOptions, Transport } from '../../src/link/transport.ts'
import { ClosedError, ConfigError, TransportError } from '../../src/util/errors.ts'
import { raceSignal, throwIfAborted } from '../../src/util/abort.ts'
import { parseUdpAddr, isLoopback } from './addr.ts'
import { UdpEndpoint, type EndpointOptions } from './endpoint.ts'
import type { UdpConn } from './conn.ts'

export { UdpConn } from './conn.ts'

/** Options of {@link UdpTransport}. */
export interface UdpTransportOptions {
  /** Largest datagram payload; larger sends throw LimitError. Default 1472 (IPv4 1500 − 28). */
  mtu?: number
  /**
   * Largest datagram to a loopback peer (127.0.0.0/8, ::1), whose path never leaves the `lo`
   * interface (MTU 65536): one datagram then carries many 1 KiB cells, cutting the per-datagram
   * costs (syscalls, cipher setup) that dominate UDP's cost in Node. Default: what lets the
   * socket's granted receive buffer hold 64 of them, between 16384 and 65507 (65507 where the OS
   * grants the 8 MiB asked for, 16384 under Linux's default 208 KiB cap). Set equal to `mtu` to
   * disable. Receivers take any datagram size, so peers with different values interoperate.
   */
  loopbackMtu?: number
  /** Most Conns per socket; datagrams from further new sources are dropped. Default 4096. */
  maxConns?: number
  /** A Conn with no traffic either way for this long is closed. Default 120 000 ms. */
  idleTimeoutMs?: number
  /** Kernel receive and send buffer size asked for (the OS may cap it). Default 8 MiB. */
  socketBufferBytes?: number
  /** `send` returns false once the socket's send queue holds more than this. Default 1 MiB. */
  sendHighWater?: number
  /** Datagrams kept for a Conn before its handlers are set. Default 256. */
  maxPending?: number
}

/** Cost bid for udp:// addresses: the cheapest transport. */
export const UDP_BID = 10

/** The UDP transport (see module doc). */
export class UdpTransport implements Transport {
  readonly name = 'udp' as const
  readonly reliable = false
  readonly mtu: number
  private readonly opts: EndpointOptions
  private readonly listeners = new Set<UdpEndpoint>()
  private readonly shared = new Map<string, Promise<UdpEndpoint>>()
  private readonly extra = new Set<UdpEndpoint>()
  private closed = false

  constructor (options: UdpTransportOptions = {}) {
    const mtu = options.mtu ?? 1472
    if (!Number.isInteger(mtu) || mtu < 1 || mtu > 65507) throw new ConfigError(`udp mtu must be 1..65507, got ${mtu}`)
    this.mtu = mtu
    const loopbackMtu = options.loopbackMtu
    if (loopbackMtu !== undefined && (!Number.isInteger(loopbackMtu) || loopbackMtu < 1 || loopbackMtu > 65507)) throw new ConfigError(`udp loopbackMtu must be 1..65507, got ${loopbackMtu}`)
    this.opts = {
      mtu,
      loopbackMtu,
      maxConns: options.maxConns ?? 4096,
      idleTimeoutMs: options.idleTimeoutMs ?? 120_000,
      socketBufferBytes: options.socketBufferBytes ?? 8 * 1024 * 1024,
      sendHighWater: Math.max(options.sendHighWater ?? 1024 * 1024, mtu),
      maxPending: options.maxPending ?? 256
    }
  }

  bid (addr: string): number | undefined {
    try {
      parseUdpAddr(addr)
      return UDP_BID
    } catch {
      return undefined
    }
  }

  async dial (addr: string, opts: DialOptions): Promise<Conn> {
    throwIfAborted(opts.signal)
    if (this.closed) throw new ClosedError('udp transport is closed')
    const a = parseUdpAddr(addr)
    if (a.port === 0) throw new ConfigError(`cannot dial port 0: ${addr}`)
    let ip = a.host
    if (a.family === 0) {
      try {
        ip = (await raceSignal(lookup(a.host), opts.signal)).address
      } catch (err) {
        if (opts.signal.aborted) throw err
        throw new TransportError(`cannot resolve ${a.host}`, { cause: err })
      }
    }
    if (ip.startsWith('::ffff:') && ip.includes('.')) ip = ip.slice(7) // IPv4-mapped: dial as IPv4
    // Binding a local socket is quick and not worth racing: a raced bind would leak it.
    const conn = await this.dialFrom(ip, a.port)
    if (opts.signal.aborted || this.closed || conn.closed) {
      conn.close()
      throwIfAborted(opts.signal)
      throw new ClosedError('udp transport is closed')
    }
    return conn
  }

  async listen (addr: string, onConn: (conn: Conn) => void, opts: ListenOptions = {}): Promise<Listener> {
    throwIfAborted(opts.signal)
    if (this.closed) throw new ClosedError('udp transport is closed')
    const a = parseUdpAddr(addr)
    if (a.family === 0) throw new ConfigError(`udp listen address must be an IP literal: ${addr}`)
    const ep = await UdpEndpoint.open(a.host, a.port, this.opts, onConn as (c: UdpConn) => void)
    if (this.closed || opts.signal?.aborted === true) {
      await ep.close()
      throwIfAborted(opts.signal)
      throw new ClosedError('udp transport is closed')
    }
    this.listeners.add(ep)
    const close = async (): Promise<void> => {
      this.listeners.delete(ep)
      opts.signal?.removeEventListener('abort', onAbort)
      await ep.close(undefined, new ClosedError('the listening socket this conn was dialed from closed'))
    }
    const onAbort = (): void => { void close() }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    return { addr: ep.addr, close }
  }

  async close (): Promise<void> {
    this.closed = true
    const eps: Array<Promise<UdpEndpoint>> = [...this.shared.values()]
    this.shared.clear()
    const all = [...this.listeners, ...this.extra]
    this.listeners.clear()
    this.extra.clear()
    await Promise.all([
      ...all.map(async ep => { await ep.close() }),
      ...eps.map(async p => { try { await (await p).close() } catch {} })
    ])
  }

  /**
   * Makes a Conn to ip:port on the right socket (see module doc), opening one if needed.
   * The check for a free slot and the Conn's creation run without an await in between, so
   * concurrent dials never share a socket for the same remote.
   */
  private async dialFrom (ip: string, port: number): Promise<UdpConn> {
    for (const ep of this.listeners) if (ep.canReach(ip) && !ep.has(ip, port)) return ep.dialConn(ip, port)
    const v6 = ip.includes(':')
    const bindIp = isLoopback(ip) ? (v6 ? '::1' : '127.0.0.1') : (v6 ? '::' : '0.0.0.0')
    let p = this.shared.get(bindIp)
    if (p === undefined) {
      p = UdpEndpoint.open(bindIp, 0, this.opts)
      this.shared.set(bindIp, p)
      p.catch(() => { if (this.shared.get(bindIp) === p) this.shared.delete(bindIp) })
    }
    const shared = await p
    if (shared.canReach(ip) && !shared.has(ip, port)) return shared.dialConn(ip, port)
    // A second Conn to the same remote needs its own source port: a private socket that
    // closes with its last Conn.
    const ep = await UdpEndpoint.open(bindIp, 0, this.opts)
    this.extra.add(ep)
    ep.onEmpty = () => { this.extra.delete(ep); void ep.close() }
    return ep.dialConn(ip, port)
  }
}
