/**
 * The TCP transport over node:net: `tcp://host:port`, one socket per Conn, Nagle off.
 * Dialing honours its AbortSignal (the socket is destroyed if the signal fires mid-connect);
 * a refused or unreachable address rejects with TransportError. Listeners bind exactly the
 * address asked for, report the real port after listening on port 0, and accept at most
 * `maxConns` inbound conns at a time (further sockets are destroyed at once).
 *
 * It moves bytes only: no framing, no TLS, no proxying. The per-chunk path is one Buffer
 * copy on send and none on receive.
 */
import * as net from 'node:net'
import type { Conn, DialOptions, Listener, ListenOptions, Transport } from '../../src/link/transport.ts'
import { ClosedError, TransportError } from '../../src/util/errors.ts'
import { abortReason, throwIfAborted } from '../../src/util/abort.ts'
import { formatTcpAddr, parseTcpAddr } from './addr.ts'
import { TcpConn, type TcpConnOptions } from './conn.ts'

export { TcpConn } from './conn.ts'
export { parseTcpAddr, formatTcpAddr, type TcpAddr } from './addr.ts'

/** Options of {@link TcpTransport}. */
export interface TcpTransportOptions {
  /** Inbound conns a listener keeps at once; more are destroyed on arrival. Default 1024. */
  maxConns?: number
  /** Bytes buffered per conn before `setHandlers`; past it the conn closes with LimitError. Default 1 MiB. */
  maxPendingBytes?: number
  /** Suggested chunk size (`mtu`). Default 64 KiB. */
  mtu?: number
  /** How long a gracefully closed socket may flush before it is destroyed, in ms. Default 5000. */
  lingerMs?: number
}

/** Reasons a connect fails that mean "not reachable here" (all become TransportError). */
function describe (addr: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return `tcp dial ${addr} failed: ${code ?? (err instanceof Error ? err.message : String(err))}`
}

class TcpListener implements Listener {
  readonly conns = new Set<TcpConn>()
  private closing: Promise<void> | undefined

  constructor (readonly addr: string, private readonly server: net.Server, private readonly onClosed: (l: TcpListener) => void) {}

  async close (): Promise<void> {
    this.closing ??= new Promise<void>(resolve => {
      this.onClosed(this)
      this.server.close(() => { resolve() })
      for (const c of [...this.conns]) c.close()
    })
    await this.closing
  }

  get isClosing (): boolean { return this.closing !== undefined }
}

/** The TCP transport; see the module doc. */
export class TcpTransport implements Transport {
  readonly name = 'tcp' as const
  readonly reliable = true
  readonly mtu: number
  private readonly maxConns: number
  private readonly connOpts: Omit<TcpConnOptions, 'onClosed'>
  private readonly listeners = new Set<TcpListener>()
  private readonly conns = new Set<TcpConn>()
  private closed = false

  constructor (opts: TcpTransportOptions = {}) {
    this.mtu = opts.mtu ?? 64 * 1024
    this.maxConns = opts.maxConns ?? 1024
    this.connOpts = { mtu: this.mtu, maxPendingBytes: opts.maxPendingBytes ?? 1024 * 1024, lingerMs: opts.lingerMs ?? 5000 }
  }

  bid (addr: string): number | undefined {
    return parseTcpAddr(addr) !== undefined ? 20 : undefined
  }

  async dial (addr: string, opts: DialOptions): Promise<Conn> {
    const signal = opts.signal
    throwIfAborted(signal)
    if (this.closed) throw new ClosedError('tcp transport is closed')
    const a = parseTcpAddr(addr)
    if (a === undefined || a.port === 0) throw new TransportError(`tcp transport cannot dial ${addr}`)
    return await new Promise<Conn>((resolve, reject) => {
      const socket = net.connect({ host: a.host, port: a.port, noDelay: true })
      const done = (): void => {
        signal.removeEventListener('abort', onAbort)
        socket.off('error', onError)
        socket.off('connect', onConnect)
        socket.on('error', () => {}) // a late error of an abandoned socket must not crash us
      }
      const onAbort = (): void => {
        done()
        socket.destroy()
        reject(abortReason(signal))
      }
      const onError = (err: Error): void => {
        done()
        socket.destroy()
        reject(new TransportError(describe(addr, err), { cause: err }))
      }
      const onConnect = (): void => {
        done()
        if (this.closed) {
          socket.destroy()
          reject(new ClosedError('tcp transport is closed'))
          return
        }
        const conn = new TcpConn(socket, addr, { ...this.connOpts, onClosed: c => this.conns.delete(c) })
        this.conns.add(conn)
        resolve(conn)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      socket.once('error', onError)
      socket.once('connect', onConnect)
    })
  }

  async listen (addr: string, onConn: (conn: Conn) => void, opts?: ListenOptions): Promise<Listener> {
    throwIfAborted(opts?.signal)
    if (this.closed) throw new ClosedError('tcp transport is closed')
    const a = parseTcpAddr(addr)
    if (a === undefined) throw new TransportError(`tcp transport cannot listen on ${addr}`)
    const server = net.createServer({ noDelay: true })
    await new Promise<void>((resolve, reject) => {
      server.once('error', err => { reject(new TransportError(`tcp listen ${addr} failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err })) })
      server.listen({ host: a.host, port: a.port }, () => { resolve() })
    })
    const bound = server.address() as net.AddressInfo
    const listener = new TcpListener(formatTcpAddr(a.host, bound.port), server, l => this.listeners.delete(l))
    server.removeAllListeners('error')
    server.on('error', () => { void listener.close() })
    server.on('connection', socket => { this.accept(listener, socket, onConn) })
    this.listeners.add(listener)
    if (this.closed) await listener.close()
    opts?.signal?.addEventListener('abort', () => { void listener.close() }, { once: true })
    return listener
  }

  private accept (listener: TcpListener, socket: net.Socket, onConn: (conn: Conn) => void): void {
    if (listener.isClosing || listener.conns.size >= this.maxConns) {
      socket.destroy()
      return
    }
    const remote = formatTcpAddr(socket.remoteAddress ?? 'unknown', socket.remotePort ?? 0)
    const conn = new TcpConn(socket, remote, { ...this.connOpts, onClosed: c => listener.conns.delete(c) })
    listener.conns.add(conn)
    try {
      onConn(conn)
    } catch (err) {
      conn.close(new TransportError('tcp listener: onConn threw', { cause: err }))
    }
  }

  async close (): Promise<void> {
    this.closed = true
    for (const c of [...this.conns]) c.close()
    await Promise.all([...this.listeners].map(async l => { await l.close() }))
  }
}

/** Creates a {@link TcpTransport}. */
export function createTcpTransport (opts?: TcpTransportOptions): TcpTransport {
  return new TcpTransport(opts)
}
