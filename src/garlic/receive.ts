/**
 * The receive paths of `Garlic.open`, one per message type, and the session transitions
 * incoming messages cause: an NS of a handshake we do not hold adds it (we reply to it); the
 * first NSR completes one of ours; the first ES on the forward-secret keys ends our NSR phase.
 * Every authenticated message makes its handshake the one we send on (see session.ts).
 *
 * Each path returns the opened message or a drop reason; DecodeError/CryptoError thrown from
 * the handshake functions are turned into drops by the caller. Nothing here does I/O.
 */
import type { CryptoSuite } from '../crypto/types.ts'
import { destinationHash, parseDestination, type DestinationKeys } from '../identity/destination.ts'
import { toHex } from '../util/bytes.ts'
import { completeNs, nsrAd, openAnon, openNs, openNsrBody, respondNs, type NsReceived, type NsrKeys } from './handshake.ts'
import {
  ES_HEADER_BYTES, ES_OVERHEAD, FLAG_LEASE_SET, NS_HEADER_BYTES, NS_OVERHEAD, NSR_HEADER_BYTES, NSR_OVERHEAD, TAG_BYTES, TYPE_NSR,
  decodeBody, decodeNsBody, readU16, seconds, type DropReason
} from './layout.ts'
import type { Opened } from './options.ts'
import type { ReplayCache } from './replay.ts'
import { Handshake, Inbound, type Session, type SessionTable } from './session.ts'
import { SendTagSet, tagId, type TagTable } from './tags.ts'

/** What the receive paths share with their Garlic instance. */
export interface Receiver {
  readonly c: CryptoSuite
  readonly keys: DestinationKeys
  readonly window: number
  readonly table: TagTable<Inbound>
  readonly sessions: SessionTable
  readonly replay: ReplayCache
}

function result (s: Session, body: { payload: Uint8Array, leaseSet?: Uint8Array }): Opened {
  const r: Opened = { from: s.remote, fromId: s.id, payload: body.payload }
  if (body.leaseSet !== undefined) r.leaseSet = body.leaseSet
  return r
}

/** Bookkeeping after message `n` of `ib` authenticated. */
function accept (rx: Receiver, ib: Inbound, n: number, now: number): void {
  ib.win.consume(n)
  if (ib.win.accepted === rx.window) ib.hs.dropInboundBefore(ib)
  const s = ib.hs.session
  s.receivedOn(ib.hs, now)
  rx.sessions.touch(s, now)
}

function wipeKeys (c: CryptoSuite, k: NsrKeys): void {
  for (const b of [k.payloadKey, k.ab.key, k.ab.tagKey, k.ba.key, k.ba.tagKey]) c.wipe(b)
}

function nsrAds (h: Uint8Array): readonly [Uint8Array, Uint8Array] {
  return [nsrAd(TYPE_NSR, h), nsrAd(TYPE_NSR | FLAG_LEASE_SET, h)]
}

/** ES: look the tag up, open under that set's key with nonce = message number. */
export function openEs (rx: Receiver, msg: Uint8Array, now: number): Opened | DropReason {
  if (msg.length < ES_OVERHEAD) return 'malformed'
  const entry = rx.table.get(tagId(msg, 1))
  if (entry === undefined) return 'unknown-tag'
  const ib = entry.win.owner
  if (ib.cipher === undefined) return 'wrong-type'
  const n = entry.n
  const plain = new Uint8Array(msg.length - ES_OVERHEAD)
  if (ib.cipher.open(n, msg.subarray(ES_HEADER_BYTES), plain, 0, msg.subarray(0, ES_HEADER_BYTES)) < 0) return 'auth'
  const h = ib.hs
  // The peer used keys only our NSR gives: it has the NSR, so stop sending them.
  if (h.phase.kind === 'replying' && h.phase.confirmIn === ib) h.confirm()
  accept(rx, ib, n, now)
  return result(h.session, decodeBody(plain, ((msg[0] as number) & FLAG_LEASE_SET) !== 0))
}

/** NSR: the first completes our handshake (`ee`, `se`); later ones must carry the same ephemeral. */
export function openNsr (rx: Receiver, msg: Uint8Array, now: number): Opened | DropReason {
  if (msg.length < NSR_OVERHEAD) return 'malformed'
  const entry = rx.table.get(tagId(msg, 1))
  if (entry === undefined) return 'unknown-tag'
  const ib = entry.win.owner
  if (ib.kind !== 'nsr') return 'wrong-type'
  const { c } = rx
  const h = ib.hs
  const n = entry.n
  const flag = ((msg[0] as number) & FLAG_LEASE_SET) !== 0 ? 1 : 0
  const eB = msg.subarray(1 + TAG_BYTES, NSR_HEADER_BYTES)
  let plain: Uint8Array | undefined
  if (ib.nsr === undefined) {
    if (h.phase.kind !== 'pending') return 'unknown-tag'
    const k = completeNs(c, h.phase.hs, rx.keys.encryption, eB)
    const cipher = c.aeadCipher(k.payloadKey)
    const ad = nsrAds(k.h)
    plain = openNsrBody(cipher, ad[flag], n, msg)
    if (plain === undefined) { cipher.dispose(); wipeKeys(c, k); return 'auth' }
    ib.nsr = { eB: k.eB, cipher, ad }
    h.complete(c, new SendTagSet(c, k.ab))
    h.inbound.push(new Inbound(c, rx.table, rx.window, h, 'es', k.ba.tagKey, c.aeadCipher(k.ba.key)))
    wipeKeys(c, k)
  } else {
    if (!c.equal(eB, ib.nsr.eB)) return 'auth'
    plain = openNsrBody(ib.nsr.cipher, ib.nsr.ad[flag], n, msg)
    if (plain === undefined) return 'auth'
  }
  accept(rx, ib, n, now)
  return result(h.session, decodeBody(plain, flag === 1))
}

/** A handshake of the peer's we do not hold: register its NS keys, derive our reply, reply on it. */
function adopt (rx: Receiver, s: Session, eHex: string, ns: NsReceived, now: number): Handshake {
  const { c } = rx
  const k = respondNs(c, ns)
  const nsr = new SendTagSet(c, { key: k.payloadKey, tagKey: ns.nsrTagKey })
  // The phase needs the confirming set, which needs the handshake: set it right after.
  const h = new Handshake(s, eHex, { kind: 'established' }, new SendTagSet(c, k.ba), s.received, now)
  // The peer's ES sent before our NSR reaches it use the NS keys; after it, the new keys. If we
  // held this handshake before, its NS-key ES already received must not open again.
  const start = (rx.replay.highest(eHex) ?? -1) + 1
  h.inbound.push(new Inbound(c, rx.table, rx.window, h, 'es', ns.ab.tagKey, c.aeadCipher(ns.ab.key), start,
    (highest) => rx.replay.noteHighest(eHex, highest)))
  const confirmIn = new Inbound(c, rx.table, rx.window, h, 'es', k.ab.tagKey, c.aeadCipher(k.ab.key))
  h.inbound.push(confirmIn)
  h.phase = { kind: 'replying', eB: k.eB, nsr, ad: nsrAds(k.h), confirmIn }
  wipeKeys(c, k)
  s.add(c, h)
  return h
}

/** NS: authenticate, check sender, clock and replay, then add the handshake (or find it: a retransmission). */
export function openNewSession (rx: Receiver, msg: Uint8Array, now: number): Opened | DropReason {
  if (msg.length < NS_OVERHEAD) return 'malformed'
  const eHex = toHex(msg.subarray(1, 33))
  const replayKey = `${eHex}:${readU16(msg, NS_HEADER_BYTES - 2)}`
  if (rx.replay.has(replayKey)) return 'replay'
  const ns = openNs(rx.c, rx.keys.encryption, msg)
  try {
    const body = decodeNsBody(ns.body)
    const from = parseDestination(body.destination)
    if (!rx.c.equal(from.encryptionKey, ns.remoteStatic)) return 'sender-mismatch'
    const verdict = rx.replay.check(replayKey, body.timestamp, seconds(now))
    if (verdict !== 'ok') return verdict
    rx.replay.add(replayKey, body.timestamp)
    if (!rx.replay.has(eHex)) rx.replay.add(eHex, body.timestamp)
    const id = toHex(destinationHash(rx.c, from.bytes))
    const s = rx.sessions.get(id) ?? rx.sessions.create(id, from, now)
    // A retransmission of a handshake we hold delivers its payload and changes nothing else.
    const h = s.find(eHex) ?? adopt(rx, s, eHex, ns, now)
    s.receivedOn(h, now)
    rx.sessions.touch(s, now)
    return result(s, body)
  } finally {
    for (const b of [ns.ab.key, ns.ab.tagKey, ns.nsrTagKey, ns.ck]) rx.c.wipe(b)
  }
}

/** Anonymous one-off: no sender, no session. */
export function openAnonymous (rx: Receiver, msg: Uint8Array): Opened | DropReason {
  return { payload: openAnon(rx.c, rx.keys.encryption, msg) }
}
