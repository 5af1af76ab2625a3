/**
 * Per-peer session state and the bounded, least-recently-used table of sessions.
 *
 * A session (one per remote destination) holds up to {@link MAX_HANDSHAKES} handshakes with
 * that peer, each with its own keys: ours (pending until its NSR arrives, then established) and
 * the peer's (replying with NSRs until the peer's first ES on the new keys, then established).
 * A handshake is never abandoned because another appeared, so whatever keys the peer sends
 * with, we can open; we send on the handshake of the last message we received (the peer surely
 * holds it). A handshake nothing arrived on for the idle time is dropped (sending does not keep
 * it alive: the peer may have lost it), and the session with it once none is left. Each
 * handshake has at most two inbound tag windows. The transitions are driven by garlic.ts and receive.ts;
 * this module holds, bounds and disposes state. Pure; time is passed in.
 */
import type { AeadCipher, CryptoSuite } from '../crypto/types.ts'
import type { Destination } from '../identity/destination.ts'
import type { NsInitiator } from './handshake.ts'
import { SendTagSet, type TagTable } from './tags.ts'
import { TagWindow } from './window.ts'

/** Most handshakes a session keeps with one peer. */
export const MAX_HANDSHAKES = 3

/** Keys a first NSR yielded, kept to open the responder's later NSRs of the same handshake. */
export interface NsrReceived {
  readonly eB: Uint8Array
  readonly cipher: AeadCipher
  /** Associated data without and with the LeaseSet flag. */
  readonly ad: readonly [Uint8Array, Uint8Array]
}

/** One inbound key set: the peer's ES of one direction of a handshake, or the NSRs of one of ours. */
export class Inbound {
  readonly win: TagWindow<Inbound>
  /** NSR sets: keys from the first NSR (undefined until it arrives). */
  nsr: NsrReceived | undefined

  constructor (
    c: CryptoSuite,
    table: TagTable<Inbound>,
    window: number,
    readonly hs: Handshake,
    readonly kind: 'es' | 'nsr',
    tagKey: Uint8Array,
    /** ES sets: the cipher (NSR sets get theirs from the first NSR). */
    readonly cipher: AeadCipher | undefined,
    /** First message number expected. */
    start = 0,
    /** Told the highest number received when the set is dropped. */
    private readonly onDispose?: (highest: number) => void
  ) {
    this.win = new TagWindow<Inbound>(c, table, tagKey, window, this, start)
  }

  dispose (): void {
    this.onDispose?.(this.win.highest)
    this.win.dispose()
    this.cipher?.dispose()
    this.nsr?.cipher.dispose()
  }
}

/** Ours, no NSR yet: ES go out under the NS keys, the NS is retransmitted. */
export interface Pending {
  readonly kind: 'pending'
  readonly hs: NsInitiator
  /** When the handshake was created: the timestamp of every NS copy. */
  readonly createdAt: number
  /** Index of the last NS sent. */
  index: number
  lastNsAt: number
  /** Where the NSRs arrive. */
  readonly nsrIn: Inbound
}

/** The peer's: every message we send on it is an NSR until an ES arrives on `confirmIn`. */
export interface Replying {
  readonly kind: 'replying'
  readonly eB: Uint8Array
  /** NSR payload cipher and NSR tags (a send set keyed with the NSR payload key and tag key). */
  readonly nsr: SendTagSet
  readonly ad: readonly [Uint8Array, Uint8Array]
  readonly confirmIn: Inbound
}

/** Both sides hold the forward-secret keys. */
export interface Established { readonly kind: 'established' }

export type Phase = Pending | Replying | Established

/** One handshake with the peer and its keys. */
export class Handshake {
  readonly inbound: Inbound[] = []

  constructor (
    readonly session: Session,
    /** Hex of the initiator's ephemeral key: names the handshake. */
    readonly eHex: string,
    public phase: Phase,
    /** Pending: the NS keys (initiator → responder); otherwise the forward-secret keys of our direction. */
    public send: SendTagSet,
    /** Session receive count when this handshake was last received on (or created). */
    public lastRecv: number,
    /** Time (ms) it was last received on (or created). */
    public lastRecvAt: number
  ) {}

  /** Once `ib` has accepted a full window, this handshake's older inbound set is stale: dropped. */
  dropInboundBefore (ib: Inbound): void {
    const keep = this.phase.kind === 'pending' ? this.phase.nsrIn : this.phase.kind === 'replying' ? this.phase.confirmIn : undefined
    for (const x of this.inbound.slice(0, this.inbound.indexOf(ib))) {
      if (x === keep) continue
      this.inbound.splice(this.inbound.indexOf(x), 1)
      x.dispose()
    }
  }

  /** Pending → established with the forward-secret `send` keys (the NSR set stays for later NSRs). */
  complete (c: CryptoSuite, send: SendTagSet): void {
    if (this.phase.kind !== 'pending') return
    wipePending(c, this.phase)
    this.send.dispose()
    this.send = send
    this.phase = { kind: 'established' }
  }

  /** Replying → established (the peer has our NSR). */
  confirm (): void {
    if (this.phase.kind !== 'replying') return
    this.phase.nsr.dispose()
    this.phase = { kind: 'established' }
  }

  dispose (c: CryptoSuite): void {
    if (this.phase.kind === 'pending') wipePending(c, this.phase)
    else if (this.phase.kind === 'replying') this.phase.nsr.dispose()
    this.send.dispose()
    for (const ib of this.inbound.splice(0)) ib.dispose()
  }
}

function wipePending (c: CryptoSuite, p: Pending): void {
  for (const b of [p.hs.e.secretKey, p.hs.ck, p.hs.payloadKey, p.hs.ab.key, p.hs.ab.tagKey, p.hs.nsrTagKey]) c.wipe(b)
}

/** All we know about one remote destination. */
export class Session {
  readonly handshakes: Handshake[] = []
  /** The handshake `seal` uses: that of the last message received, or the one we last started. */
  current: Handshake | undefined
  /** Authenticated messages received in this session. */
  received = 0

  constructor (
    readonly id: string,
    readonly remote: Destination,
    public lastUsed: number
  ) {}

  /** The handshake named `eHex`, if held. */
  find (eHex: string): Handshake | undefined {
    return this.handshakes.find(h => h.eHex === eHex)
  }

  /** Adds `h` and makes it current, dropping the least recently used others beyond {@link MAX_HANDSHAKES}. */
  add (c: CryptoSuite, h: Handshake): void {
    this.handshakes.push(h)
    this.current = h
    while (this.handshakes.length > MAX_HANDSHAKES) {
      let lru: Handshake | undefined
      for (const x of this.handshakes) if (x !== h && (lru === undefined || x.lastRecv < lru.lastRecv)) lru = x
      if (lru === undefined) break
      this.remove(c, lru)
    }
  }

  /** Records a message received on `h` at `now`: it becomes current. */
  receivedOn (h: Handshake, now: number): void {
    h.lastRecv = ++this.received
    h.lastRecvAt = now
    this.current = h
  }

  /** Drops handshakes nothing arrived on for more than `idleMs`; returns whether any is left. */
  expire (c: CryptoSuite, now: number, idleMs: number): boolean {
    for (const h of [...this.handshakes]) if (now - h.lastRecvAt > idleMs) this.remove(c, h)
    return this.handshakes.length > 0
  }

  remove (c: CryptoSuite, h: Handshake): void {
    const i = this.handshakes.indexOf(h)
    if (i >= 0) this.handshakes.splice(i, 1)
    if (this.current === h) this.current = undefined
    h.dispose(c)
  }

  /** Wipes everything and removes every tag from the table. */
  dispose (c: CryptoSuite): void {
    for (const h of [...this.handshakes]) this.remove(c, h)
  }
}

/** Sessions by destination-hash hex, in least-recently-used order. */
export class SessionTable {
  private readonly map = new Map<string, Session>()

  constructor (private readonly c: CryptoSuite, readonly max: number, readonly idleMs: number) {}

  get size (): number { return this.map.size }

  get (id: string): Session | undefined { return this.map.get(id) }

  /** Marks `s` used at `now` (moves it to the most-recent end). */
  touch (s: Session, now: number): void {
    s.lastUsed = now
    this.map.delete(s.id)
    this.map.set(s.id, s)
  }

  /** A new session; evicts the least recently used one when the table is full. */
  create (id: string, remote: Destination, now: number): Session {
    while (this.map.size >= this.max) {
      const lru = this.map.values().next()
      if (lru.done === true) break
      this.delete(lru.value)
    }
    const s = new Session(id, remote, now)
    this.map.set(id, s)
    return s
  }

  delete (s: Session): void {
    if (this.map.get(s.id) === s) this.map.delete(s.id)
    s.dispose(this.c)
  }

  /** Drops handshakes nothing arrived on for more than `idleMs` at `now`, and sessions left without any. */
  expire (now: number): void {
    for (const s of [...this.map.values()]) if (!s.expire(this.c, now, this.idleMs)) this.delete(s)
  }
}
