/**
 * The garlic handshakes as pure functions: NS (Noise IK-like `e, es, s, ss`), NSR (`e, ee, se`)
 * and the anonymous one-off (Noise N: `e, es`). They produce and consume whole NS/NSR/anonymous
 * messages and the keys that follow from them; they know nothing of sessions, tags windows,
 * replay caches or clocks (garlic.ts and session.ts do). Failures throw DecodeError (bad
 * structure) or CryptoError (authentication, low-order keys); `Garlic.open` turns both into drops.
 */
import type { AeadCipher, CryptoSuite, KeyPair } from '../crypto/types.ts'
import { DecodeError, LimitError } from '../util/errors.ts'
import {
  ANON_HEADER_BYTES, KEY_BYTES, MAC_BYTES, NS_BODY_FIXED_BYTES, NS_HEADER_BYTES, NSR_HEADER_BYTES, TAG_BYTES,
  TYPE_ANON, TYPE_NS, readU16
} from './layout.ts'
import { concat, nonce12 } from '../crypto/noise-symmetric.ts'
import { expand, PROTOCOL_IK, PROTOCOL_N, SymmetricState, type DirectionKeys } from './symmetric.ts'

/** Largest NS retransmission index (u16 on the wire). */
export const MAX_NS_INDEX = 0xffff
const STATIC_CT = KEY_BYTES + MAC_BYTES

/** Key schedule labels (HKDF info) of the two key sets a handshake yields. */
const LABEL_NS = 'umbra/garlic/1 ns keys'
const LABEL_ES = 'umbra/garlic/1 es keys'

/** Keys derived from the NS alone (`es`, `ss`): not forward secret against the recipient's static key. */
export interface NsKeys {
  /** Initiator → responder ES keys used until the NSR arrives. */
  readonly ab: DirectionKeys
  /** Key of the tags the responder's NSRs carry. */
  readonly nsrTagKey: Uint8Array
}

/** The initiator's state of one handshake, kept until its NSR arrives (or it is abandoned). */
export interface NsInitiator extends NsKeys {
  /** The ephemeral key pair; its secret is wiped once the NSR is processed. */
  readonly e: KeyPair
  /** `type || e || encrypted static`: identical in every retransmission of this NS. */
  readonly head: Uint8Array
  /** Chaining key and handshake hash after `ss`. */
  readonly ck: Uint8Array
  readonly h: Uint8Array
  /** The NS payload key (`k` after `ss`); retransmission `i` uses nonce `i`. */
  readonly payloadKey: Uint8Array
}

/** What the responder learns from an NS. */
export interface NsReceived extends NsKeys {
  /** The initiator's ephemeral public key (names the handshake; replay cache key with `index`). */
  readonly e: Uint8Array
  /** The initiator's static X25519 key, authenticated by `ss`. */
  readonly remoteStatic: Uint8Array
  /** Retransmission index (AEAD nonce of the payload). */
  readonly index: number
  /** The decrypted NS body (timestamp, destination, LeaseSet, payload; see layout.ts). */
  readonly body: Uint8Array
  readonly ck: Uint8Array
  readonly h: Uint8Array
}

/** Keys after the NSR (`es, ss, ee, se`): forward secret once the ephemeral secrets are wiped. */
export interface NsrKeys {
  /** The responder's ephemeral public key, sent in every NSR of this handshake. */
  readonly eB: Uint8Array
  /** Key of the NSR payloads; NSR `j` uses nonce `j`. */
  readonly payloadKey: Uint8Array
  /** Handshake hash after `se`: bound into every NSR as associated data. */
  readonly h: Uint8Array
  /** Initiator → responder and responder → initiator ES keys. */
  readonly ab: DirectionKeys
  readonly ba: DirectionKeys
}

function nsKeys (c: CryptoSuite, ck: Uint8Array): NsKeys {
  const [key, tagKey, nsrTagKey] = expand(c, ck, LABEL_NS, 3) as [Uint8Array, Uint8Array, Uint8Array]
  return { ab: { key, tagKey }, nsrTagKey }
}

function resume (c: CryptoSuite, ck: Uint8Array, h: Uint8Array): SymmetricState {
  const ss = new SymmetricState(c, PROTOCOL_IK)
  ss.ck = ck
  ss.h = h
  return ss
}

function esKeys (c: CryptoSuite, ss: SymmetricState, eB: Uint8Array): NsrKeys {
  const [abKey, abTag, baKey, baTag] = expand(c, ss.ck, LABEL_ES, 4) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array]
  const out: NsrKeys = { eB, payloadKey: ss.k as Uint8Array, h: ss.h, ab: { key: abKey, tagKey: abTag }, ba: { key: baKey, tagKey: baTag } }
  ss.ck.fill(0)
  return out
}

/** Starts a handshake from static `s` to the responder whose static public key is `rs`. */
export function startNs (c: CryptoSuite, s: KeyPair, rs: Uint8Array): NsInitiator {
  const ss = new SymmetricState(c, PROTOCOL_IK)
  ss.mixHash(rs)
  const e = c.x25519Keypair()
  ss.mixHash(e.publicKey)
  ss.mixKey(c.x25519(e.secretKey, rs))
  const staticCt = ss.encryptAndHash(s.publicKey)
  ss.mixKey(c.x25519(s.secretKey, rs))
  const head = new Uint8Array(1 + KEY_BYTES + STATIC_CT)
  head[0] = TYPE_NS
  head.set(e.publicKey, 1)
  head.set(staticCt, 1 + KEY_BYTES)
  return { e, head, ck: ss.ck, h: ss.h, payloadKey: ss.k as Uint8Array, ...nsKeys(c, ss.ck) }
}

/** NS retransmission `index` of `hs` carrying `body`: `head || u16 index || AEAD(body)`. */
export function sealNs (c: CryptoSuite, hs: NsInitiator, index: number, body: Uint8Array): Uint8Array {
  if (!Number.isInteger(index) || index < 0 || index > MAX_NS_INDEX) throw new LimitError(`NS index ${index} out of range`)
  const ct = c.aeadEncrypt(hs.payloadKey, nonce12(index), body, hs.h)
  const out = new Uint8Array(NS_HEADER_BYTES + ct.length)
  out.set(hs.head, 0)
  out[hs.head.length] = index >>> 8
  out[hs.head.length + 1] = index & 0xff
  out.set(ct, NS_HEADER_BYTES)
  return out
}

/** Reads an NS addressed to static `s`. Throws DecodeError or CryptoError (not for us, tampered). */
export function openNs (c: CryptoSuite, s: KeyPair, msg: Uint8Array): NsReceived {
  if (msg.length < NS_HEADER_BYTES + NS_BODY_FIXED_BYTES + MAC_BYTES) throw new DecodeError('NS truncated')
  if (msg[0] !== TYPE_NS) throw new DecodeError('not an NS')
  const ss = new SymmetricState(c, PROTOCOL_IK)
  ss.mixHash(s.publicKey)
  const e = msg.slice(1, 1 + KEY_BYTES)
  ss.mixHash(e)
  ss.mixKey(c.x25519(s.secretKey, e))
  const remoteStatic = ss.decryptAndHash(msg.subarray(1 + KEY_BYTES, 1 + KEY_BYTES + STATIC_CT))
  ss.mixKey(c.x25519(s.secretKey, remoteStatic))
  const index = readU16(msg, 1 + KEY_BYTES + STATIC_CT)
  const body = c.aeadDecrypt(ss.k as Uint8Array, nonce12(index), msg.subarray(NS_HEADER_BYTES), ss.h)
  return { e, remoteStatic, index, body, ck: ss.ck, h: ss.h, ...nsKeys(c, ss.ck) }
}

/** The responder's side of the NSR: a fresh ephemeral (wiped before returning), `ee`, `se`. */
export function respondNs (c: CryptoSuite, ns: NsReceived): NsrKeys {
  const ss = resume(c, ns.ck, ns.h)
  const e = c.x25519Keypair()
  try {
    ss.mixHash(e.publicKey)
    ss.mixKey(c.x25519(e.secretKey, ns.e))
    ss.mixKey(c.x25519(e.secretKey, ns.remoteStatic))
  } finally {
    c.wipe(e.secretKey)
  }
  return esKeys(c, ss, e.publicKey)
}

/**
 * The initiator's side of the NSR carrying `eB`. Does not wipe `hs.e` (the caller does once the
 * NSR authenticated, so a forged NSR cannot destroy the handshake).
 */
export function completeNs (c: CryptoSuite, hs: NsInitiator, s: KeyPair, eB: Uint8Array): NsrKeys {
  const ss = resume(c, hs.ck, hs.h)
  ss.mixHash(eB)
  ss.mixKey(c.x25519(hs.e.secretKey, eB))
  ss.mixKey(c.x25519(s.secretKey, eB))
  return esKeys(c, ss, eB.slice())
}

/** The associated data of an NSR with type byte `type`: `type || h`. */
export function nsrAd (type: number, h: Uint8Array): Uint8Array {
  const ad = new Uint8Array(1 + h.length)
  ad[0] = type
  ad.set(h, 1)
  return ad
}

/** `type || tag || eB || AEAD(payloadKey, nonce = index, ad = type || h, body)`. */
export function sealNsr (cipher: AeadCipher, ad: Uint8Array, tag: Uint8Array, eB: Uint8Array, index: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(NSR_HEADER_BYTES + body.length + MAC_BYTES)
  out[0] = ad[0] as number
  out.set(tag.subarray(0, TAG_BYTES), 1)
  out.set(eB, 1 + TAG_BYTES)
  cipher.seal(index, body, out, NSR_HEADER_BYTES, ad)
  return out
}

/** Decrypts the body of NSR `msg` (number `index`), or undefined if it does not authenticate. */
export function openNsrBody (cipher: AeadCipher, ad: Uint8Array, index: number, msg: Uint8Array): Uint8Array | undefined {
  const out = new Uint8Array(msg.length - NSR_HEADER_BYTES - MAC_BYTES)
  return cipher.open(index, msg.subarray(NSR_HEADER_BYTES), out, 0, ad) < 0 ? undefined : out
}

/** Anonymous one-off to static `rs`: `type || e || AEAD(k, nonce 0, ad = h, payload)`. */
export function sealAnon (c: CryptoSuite, rs: Uint8Array, payload: Uint8Array): Uint8Array {
  const ss = new SymmetricState(c, PROTOCOL_N)
  ss.mixHash(rs)
  const e = c.x25519Keypair()
  ss.mixHash(e.publicKey)
  try { ss.mixKey(c.x25519(e.secretKey, rs)) } finally { c.wipe(e.secretKey) }
  return concat(concat(Uint8Array.of(TYPE_ANON), e.publicKey), ss.encryptAndHash(payload))
}

/** Opens an anonymous one-off addressed to static `s`; throws DecodeError or CryptoError. */
export function openAnon (c: CryptoSuite, s: KeyPair, msg: Uint8Array): Uint8Array {
  if (msg.length < ANON_HEADER_BYTES + MAC_BYTES) throw new DecodeError('anonymous message truncated')
  if (msg[0] !== TYPE_ANON) throw new DecodeError('not an anonymous message')
  const ss = new SymmetricState(c, PROTOCOL_N)
  ss.mixHash(s.publicKey)
  const e = msg.subarray(1, ANON_HEADER_BYTES)
  ss.mixHash(e)
  ss.mixKey(c.x25519(s.secretKey, e))
  return ss.decryptAndHash(msg.subarray(ANON_HEADER_BYTES))
}
