/**
 * A SAM session on the bridge: one destination (a DestinationSession on the router) owned by the
 * control connection that created it, with one data "sub" (STREAM, DATAGRAM or RAW) or, for a
 * PRIMARY session, any number of subsessions. It routes what arrives at the destination:
 * streams to a pending ACCEPT, a FORWARD target, or a short bounded queue; datagrams to the
 * client's UDP port or its control socket. Closing it closes every connection attached to it.
 */
import * as dgram from 'node:dgram'
import { destinationToBase64, privateKeyToBase64, type Destination } from '../../identity/destination.ts'
import type { DestinationSession, Datagram } from '../../router/session.ts'
import type { StreamSocket } from '../../streaming/socket.ts'
import type { Logger } from '../../util/log.ts'
import { spliceToTcp } from '../splice.ts'
import { formatLine } from './line.ts'
import type { SubSpec } from './options.ts'
import { Protocol } from '../../streaming/protocol.ts'

/** Per-session bounds. */
export interface SessionLimits {
  /** ACCEPTs waiting at once on one session (all its subs). */
  maxPendingAccepts: number
  /** Incoming streams held while no ACCEPT or FORWARD is there, and for how long (ms). */
  maxQueuedStreams: number
  queuedStreamMs: number
  /** Bytes a control socket may have unsent before datagrams for it are dropped. */
  maxControlBacklog: number
  /** A FORWARD target must accept the TCP connection within this (ms). */
  forwardConnectMs: number
}

/** What an ACCEPT connection offers: take one stream. */
export interface AcceptWaiter {
  /** Takes the stream and starts relaying (writes the peer line unless silent). */
  deliver (stream: StreamSocket, peerLine: string): void
}

/** Where a FORWARD sends incoming streams. */
/**
 * Where a FORWARD sends incoming streams. The peer line carries ports only when the client
 * speaks 3.2+ and a port is set: clients that read the first line as the destination
 * (shared/reference/sam-v3.md §9) never see them otherwise.
 */
export interface ForwardTarget { host: string, port: number, silent: boolean, version32: boolean }

/** What the session needs of its control connection. */
export interface ControlSink {
  /** Negotiated version allows ports in DATAGRAM RECEIVED lines (3.2+). */
  readonly ports: boolean
  /** Bytes not yet sent. */
  readonly backlog: number
  write (bytes: Uint8Array | string): void
}

/** One data session or subsession. */
export class Sub {
  readonly accepts: AcceptWaiter[] = []
  forward: ForwardTarget | undefined
  /** Streams waiting for an ACCEPT, with their expiry timers. */
  readonly queued: Array<{ stream: StreamSocket, timer: NodeJS.Timeout }> = []
  constructor (readonly id: string, readonly spec: SubSpec, readonly session: SamSession) {}

  /** Stops taking streams: queued ones are reset, waiting ACCEPTs and the FORWARD dropped. */
  close (): void {
    for (const q of this.queued.splice(0)) { clearTimeout(q.timer); q.stream.destroy() }
    this.accepts.length = 0
    this.forward = undefined
  }
}

/** One SAM session (see module doc). */
export class SamSession {
  readonly subs = new Map<string, Sub>()
  /** Connections (CONNECT, ACCEPT, FORWARD) that die with the session. */
  readonly attached = new Set<{ destroy: () => void }>()
  readonly stats = { streamsIn: 0, streamsRefused: 0, datagramsIn: 0, datagramsDropped: 0 }
  private closed = false
  /** Made when the first datagram is forwarded to a client's UDP port. */
  private udp: dgram.Socket | undefined
  private readonly b64: string

  constructor (
    readonly id: string,
    readonly primary: boolean,
    readonly dest: DestinationSession,
    readonly control: ControlSink,
    private readonly limits: SessionLimits,
    private readonly log: Logger
  ) {
    this.b64 = destinationToBase64(dest.destination)
    dest.listen('any', (s) => { this.incomingStream(s) })
    dest.onDatagram = (d) => { this.incomingDatagram(d) }
  }

  /** The public destination, I2P base64. */
  get publicB64 (): string { return this.b64 }
  /** The private key, I2P base64 (what SESSION STATUS answers). */
  get privateB64 (): string { return privateKeyToBase64(this.dest.keys) }
  get isClosed (): boolean { return this.closed }

  /** Base64 of a remote destination the session has heard from. */
  remoteB64 (key: string): string | undefined {
    const d: Destination | undefined = this.dest.remoteDestination(key)
    return d === undefined ? undefined : destinationToBase64(d)
  }

  /** The sub that takes traffic of `style` to `port` (and `protocol` for RAW), if any. */
  route (style: SubSpec['style'], port: number, protocol?: number): Sub | undefined {
    let fallback: Sub | undefined
    for (const s of this.subs.values()) {
      if (s.spec.style !== style) continue
      if (style === 'RAW' && protocol !== undefined && s.spec.listenProtocol !== protocol && s.spec.listenProtocol !== 0) continue
      if (!this.primary) return s
      if (s.spec.listenPort === port) return s
      if (s.spec.listenPort === 0) fallback = s
    }
    return fallback
  }

  // ---- streams ----

  private incomingStream (s: StreamSocket): void {
    this.stats.streamsIn++
    const sub = this.route('STREAM', s.toPort)
    const peer = this.remoteB64(s.remote)
    if (sub === undefined || peer === undefined || this.closed) { this.refuse(s); return }
    if (sub.forward !== undefined) { this.forwardStream(sub.forward, s, peer); return }
    const waiter = sub.accepts.shift()
    if (waiter !== undefined) { waiter.deliver(s, peer); return }
    if (sub.queued.length >= this.limits.maxQueuedStreams) { this.refuse(s); return }
    const entry = {
      stream: s,
      timer: setTimeout(() => {
        const i = sub.queued.indexOf(entry)
        if (i >= 0) sub.queued.splice(i, 1)
        this.refuse(s)
      }, this.limits.queuedStreamMs)
    }
    entry.timer.unref()
    s.on('error', () => {})
    sub.queued.push(entry)
  }

  /** A stream waiting for `sub`, if one is queued (for a new ACCEPT). */
  takeQueued (sub: Sub): { stream: StreamSocket, peer: string } | undefined {
    for (;;) {
      const e = sub.queued.shift()
      if (e === undefined) return undefined
      clearTimeout(e.timer)
      const peer = this.remoteB64(e.stream.remote)
      if (!e.stream.destroyed && peer !== undefined) return { stream: e.stream, peer }
    }
  }

  private refuse (s: StreamSocket): void {
    this.stats.streamsRefused++
    s.on('error', () => {})
    s.destroy()
  }

  private forwardStream (f: ForwardTarget, s: StreamSocket, peer: string): void {
    const head = f.silent ? undefined : peerLine(peer, s, f.version32 && (s.fromPort !== 0 || s.toPort !== 0))
    const c = spliceToTcp(s, { host: f.host, port: f.port, connectTimeoutMs: this.limits.forwardConnectMs, ...(head !== undefined ? { head } : {}) })
    const handle = { destroy: () => { c.destroy(); s.destroy() } }
    this.attached.add(handle)
    c.once('close', () => { this.attached.delete(handle) })
  }

  // ---- datagrams ----

  private incomingDatagram (d: Datagram): void {
    if (this.closed) return
    this.stats.datagramsIn++
    const repliable = d.from !== undefined
    const sub = repliable && d.protocol === Protocol.REPLIABLE ? this.route('DATAGRAM', d.toPort) : this.route('RAW', d.toPort, d.protocol)
    if (sub === undefined) { this.stats.datagramsDropped++; return }
    const payload = Buffer.from(d.payload.buffer, d.payload.byteOffset, d.payload.byteLength)
    const from = d.from !== undefined ? destinationToBase64(d.from) : undefined
    const f = sub.spec.forward
    if (f !== undefined) {
      // Repliable: the sender alone on the first line (clients split on it); raw: as is, or
      // with a port/protocol header line when HEADER=true.
      const head = from !== undefined
        ? `${from}\n`
        : sub.spec.header ? `FROM_PORT=${d.fromPort} TO_PORT=${d.toPort} PROTOCOL=${d.protocol}\n` : ''
      this.udpSocket().send(head === '' ? payload : Buffer.concat([Buffer.from(head), payload]), f.port, f.host)
      return
    }
    if (this.control.backlog > this.limits.maxControlBacklog) { this.stats.datagramsDropped++; return }
    const ports = this.control.ports
    const line = from !== undefined
      ? formatLine(['DATAGRAM', 'RECEIVED'], [['DESTINATION', from], ['SIZE', payload.length], ['FROM_PORT', ports ? d.fromPort : undefined], ['TO_PORT', ports ? d.toPort : undefined]])
      : formatLine(['RAW', 'RECEIVED'], [['SIZE', payload.length], ['FROM_PORT', ports ? d.fromPort : undefined], ['TO_PORT', ports ? d.toPort : undefined], ['PROTOCOL', ports ? d.protocol : undefined]])
    this.control.write(Buffer.concat([Buffer.from(line), payload]))
  }

  private udpSocket (): dgram.Socket {
    if (this.udp === undefined) {
      this.udp = dgram.createSocket('udp4')
      this.udp.on('error', () => { this.stats.datagramsDropped++ })
      this.udp.unref()
    }
    return this.udp
  }

  /** Closes every attached connection, queued stream and the UDP socket. Idempotent. */
  close (): void {
    if (this.closed) return
    this.closed = true
    for (const sub of this.subs.values()) sub.close()
    for (const a of [...this.attached]) a.destroy()
    this.attached.clear()
    this.udp?.close()
    this.log.debug('sam session closed', { id: this.id })
  }
}

/** `<peer destination>[ FROM_PORT=n TO_PORT=n]\n`, the line before an accepted stream's bytes. */
export function peerLine (peer: string, s: StreamSocket, ports: boolean): string {
  return ports ? `${peer} FROM_PORT=${s.fromPort} TO_PORT=${s.toPort}\n` : `${peer}\n`
}
