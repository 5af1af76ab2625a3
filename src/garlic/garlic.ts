/**
 * The end-to-end garlic layer between two destinations: `seal` picks NS, NSR or ES from the
 * session state; `open` takes any message addressed to us and returns its payload and sender,
 * or drops it (counted by reason). Anonymous one-offs (`sealAnonymous`) carry no sender.
 *
 * Pure: no I/O, no timers; `now` (wall-clock ms since the Unix epoch, as `Clock.wall()`) is
 * passed in, and `tick` expires idle handshakes and sessions. It does not fragment, route, pick tunnels or
 * verify bundled LeaseSets (the router does). Handshakes are in handshake.ts, the receive paths
 * in receive.ts, state in session.ts; layouts and the security argument in docs/garlic.md.
 */
import type { CryptoSuite } from '../crypto/types.ts'
import { destinationHash, type Destination, type DestinationKeys } from '../identity/destination.ts'
import { toHex } from '../util/bytes.ts'
import { DecodeError, LimitError, UmbraError } from '../util/errors.ts'
import { MAX_NS_INDEX, sealAnon, sealNs, sealNsr, startNs, type NsInitiator } from './handshake.ts'
import {
  ANON_OVERHEAD, ES_OVERHEAD, FLAG_LEASE_SET, MAX_MESSAGE_BYTES, NS_OVERHEAD, NSR_OVERHEAD, TYPE_ANON, TYPE_ES, TYPE_NS,
  TYPE_NSR, checkLeaseSet, encodeBody, encodeNsBody, seconds, type DropReason
} from './layout.ts'
import { resolveOptions, type GarlicOptions, type GarlicStats, type Opened, type ResolvedOptions } from './options.ts'
import { openAnonymous, openEs, openNewSession, openNsr, type Receiver } from './receive.ts'
import { ReplayCache } from './replay.ts'
import { Handshake, Inbound, SessionTable, type Session } from './session.ts'
import { SendTagSet, type TagTable } from './tags.ts'

const REASONS: DropReason[] = ['malformed', 'oversize', 'unknown-tag', 'wrong-type', 'auth', 'replay', 'clock', 'sender-mismatch']

/** What the next `seal` to a session sends. */
type Plan = 'ns' | 'ns-again' | 'nsr' | 'es'

/** Bytes a message of kind `plan` adds to its payload, with a LeaseSet of `ls` bytes (0: none). */
function planOverhead (plan: Plan, ls: number): number {
  if (plan === 'ns' || plan === 'ns-again') return NS_OVERHEAD + ls
  return (plan === 'nsr' ? NSR_OVERHEAD : ES_OVERHEAD) + (ls > 0 ? 2 + ls : 0)
}

/** End-to-end encryption for one local destination. */
export class Garlic {
  readonly stats: GarlicStats
  private readonly opts: ResolvedOptions
  private readonly rx: Receiver
  private readonly table: TagTable<Inbound> = new Map()
  private readonly sessions: SessionTable
  /** Session IDs (destination hash, hex) per destination object. */
  private readonly names = new WeakMap<Destination, string>()
  private lastNow = 0

  /** `keys` is the local destination; throws ConfigError for bad options. */
  constructor (private readonly crypto: CryptoSuite, private readonly keys: DestinationKeys, opts?: GarlicOptions) {
    this.opts = resolveOptions(opts)
    this.sessions = new SessionTable(crypto, this.opts.maxSessions, this.opts.sessionIdleMs)
    const dropped = Object.fromEntries(REASONS.map(r => [r, 0])) as Record<DropReason, number>
    const sessions = this.sessions
    this.stats = { get sessions () { return sessions.size }, sealed: 0, opened: 0, dropped }
    const replay = new ReplayCache(this.opts.replayCacheSize, Math.ceil(this.opts.nsMaxAgeMs / 1000), Math.ceil(this.opts.maxClockSkewMs / 1000))
    this.rx = {
      c: crypto,
      keys,
      window: this.opts.tagWindow,
      table: this.table,
      sessions,
      replay
    }
  }

  private name (d: Destination): string {
    let n = this.names.get(d)
    if (n === undefined) {
      n = toHex(destinationHash(this.crypto, d.bytes))
      this.names.set(d, n)
    }
    return n
  }

  private plan (s: Session | undefined, now: number): Plan {
    const h = s?.current
    if (h === undefined || h.send.exhausted) return 'ns'
    const p = h.phase
    switch (p.kind) {
      case 'pending':
        // NS copies carry the creation time: before they grow too old to be accepted, start afresh.
        if (now - p.createdAt >= this.opts.nsMaxAgeMs / 2 || p.index >= MAX_NS_INDEX) return 'ns'
        return now - p.lastNsAt < this.opts.nsResendMs ? 'es' : 'ns-again'
      // Unconfirmed for long: the peer may not hold this handshake (a stale or replayed NS): start ours.
      case 'replying': return p.nsr.exhausted || now - h.lastRecvAt > this.opts.replyTimeoutMs ? 'ns' : 'nsr'
      case 'established': return 'es'
    }
  }

  /**
   * Bytes `seal` would add now (or at `now`) to a payload of any size for `to`, with a bundled
   * LeaseSet of `leaseSetBytes` (0: none): 496 for an NS, 57 for an NSR, 25 for an ES, plus
   * `2 + leaseSetBytes` when bundling.
   */
  overhead (to: Destination, leaseSetBytes = 0, now = this.lastNow): number {
    return planOverhead(this.plan(this.sessions.get(this.name(to)), now), leaseSetBytes)
  }

  /**
   * Encrypts `payload` for `to`: an NS when there is no session (or an NS retransmission is
   * due), an NSR while answering the peer's NS, an ES otherwise. `leaseSet` (opaque, at most
   * 1177 bytes) is bundled when given. Throws LimitError if the message would exceed 64 KiB
   * or the LeaseSet is empty or too long, CryptoError if `to`'s X25519 key is a low-order point.
   * Reuse `to` objects: the destination hash is cached per object.
   */
  seal (to: Destination, payload: Uint8Array, now: number, leaseSet?: Uint8Array): Uint8Array {
    checkLeaseSet(leaseSet)
    const id = this.name(to)
    let s = this.sessions.get(id)
    const plan = this.plan(s, now)
    const size = planOverhead(plan, leaseSet?.length ?? 0) + payload.length
    if (size > MAX_MESSAGE_BYTES) throw new LimitError(`garlic message of ${size} bytes exceeds ${MAX_MESSAGE_BYTES}`)
    if (now > this.lastNow) this.lastNow = now
    // Before any state changes: throws CryptoError if `to` has a low-order X25519 key.
    const hs = plan === 'ns' ? startNs(this.crypto, this.keys.encryption, to.encryptionKey) : undefined
    if (s === undefined) s = this.sessions.create(id, to, now)
    else this.sessions.touch(s, now)
    if (hs !== undefined) this.startHandshake(s, hs, now)
    const h = s.current
    if (h === undefined) throw new Error('garlic: no handshake to seal with')
    const p = h.phase
    let msg: Uint8Array
    if (plan === 'ns' || plan === 'ns-again') {
      if (p.kind !== 'pending') throw new Error('garlic: NS planned without a pending handshake')
      if (plan === 'ns-again') { p.index++; p.lastNsAt = now }
      const body = encodeNsBody({ timestamp: seconds(p.createdAt), destination: this.keys.destination.bytes, payload, ...(leaseSet !== undefined ? { leaseSet } : {}) })
      msg = sealNs(this.crypto, p.hs, p.index, body)
    } else if (plan === 'nsr') {
      if (p.kind !== 'replying') throw new Error('garlic: NSR planned without a reply state')
      const { n, tag } = p.nsr.take()
      msg = sealNsr(p.nsr.cipher, p.ad[leaseSet === undefined ? 0 : 1], tag, p.eB, n, encodeBody(payload, leaseSet))
    } else {
      msg = h.send.sealEs(payload, leaseSet)
    }
    this.stats.sealed++
    return msg
  }

  /** Adds our new handshake `hs` to `s` (as the current one). */
  private startHandshake (s: Session, hs: NsInitiator, now: number): void {
    const c = this.crypto
    // The phase needs the NSR set, which needs the handshake: set it right after.
    const h = new Handshake(s, toHex(hs.e.publicKey), { kind: 'established' }, new SendTagSet(c, hs.ab), s.received, now)
    const nsrIn = new Inbound(c, this.table, this.opts.tagWindow, h, 'nsr', hs.nsrTagKey, undefined)
    h.inbound.push(nsrIn)
    h.phase = { kind: 'pending', hs, createdAt: now, index: 0, lastNsAt: now, nsrIn }
    s.add(c, h)
  }

  /**
   * A one-off anonymous message to `to` (Noise N: no sender identity, no session, no replay
   * protection: like a raw datagram it may arrive twice). Overhead: 49 bytes. Throws
   * LimitError beyond 64 KiB, CryptoError if `to`'s X25519 key is a low-order point.
   */
  sealAnonymous (to: Destination, payload: Uint8Array): Uint8Array {
    if (payload.length + ANON_OVERHEAD > MAX_MESSAGE_BYTES) throw new LimitError(`anonymous payload of ${payload.length} bytes is too large`)
    const msg = sealAnon(this.crypto, to.encryptionKey, payload)
    this.stats.sealed++
    return msg
  }

  /**
   * Decrypts a message addressed to us, or returns undefined (counted in `stats.dropped` by
   * reason). Never throws for any input bytes.
   */
  open (msg: Uint8Array, now: number): Opened | undefined {
    this.lastNow = Math.max(this.lastNow, now)
    let r: Opened | DropReason
    try {
      r = this.dispatch(msg, now)
    } catch (err) {
      if (!(err instanceof UmbraError)) throw err
      r = err instanceof DecodeError ? 'malformed' : 'auth'
    }
    if (typeof r === 'string') { this.stats.dropped[r]++; return undefined }
    this.stats.opened++
    return r
  }

  private dispatch (msg: Uint8Array, now: number): Opened | DropReason {
    if (msg.length > MAX_MESSAGE_BYTES) return 'oversize'
    const type = msg[0]
    if (type === undefined) return 'malformed'
    switch (type & ~FLAG_LEASE_SET) {
      case TYPE_ES: return openEs(this.rx, msg, now)
      case TYPE_NSR: return openNsr(this.rx, msg, now)
      case TYPE_NS: return type === TYPE_NS ? openNewSession(this.rx, msg, now) : 'malformed'
      case TYPE_ANON: return type === TYPE_ANON ? openAnonymous(this.rx, msg) : 'malformed'
      default: return 'malformed'
    }
  }

  /**
   * Drops handshakes nothing arrived on for `sessionIdleMs` (sessions left without any go too)
   * and NS replay entries past their age.
   */
  tick (now: number): void {
    this.lastNow = Math.max(this.lastNow, now)
    this.sessions.expire(now)
    this.rx.replay.expire(seconds(now))
  }

  /**
   * Drops the session with `to` (its keys wiped, its tags forgotten): the next `seal` sends an
   * NS. For a caller that concludes the peer lost its state (e.g. a stream timing out while our
   * ES go unanswered). Returns whether there was one.
   */
  forget (to: Destination): boolean {
    const s = this.sessions.get(this.name(to))
    if (s !== undefined) this.sessions.delete(s)
    return s !== undefined
  }

  /** The state of the session with `to` (diagnostics and tests). */
  sessionState (to: Destination): 'none' | 'pending' | 'replying' | 'established' {
    return this.sessions.get(this.name(to))?.current?.phase.kind ?? 'none'
  }

  /** Tags currently expected across all sessions (memory diagnostics). */
  get expectedTags (): number { return this.table.size }
}
