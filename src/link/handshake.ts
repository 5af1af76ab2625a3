/**
 * Umbra's link handshake: Noise XK (noise.ts) plus Umbra's option blocks, padding, clock-skew
 * checks and the initiator's RouterInfo. Pure: takes bytes and `now`, returns bytes. The same
 * message bytes are used on stream transports (read in pieces whose sizes the options announce)
 * and on datagram transports (one message per datagram).
 *
 * Byte layouts (docs/link.md):
 *   msg1 = e(32) || AEAD(opts1: 16) (32) || padding(pad1)           -> 64 + pad1 bytes
 *     opts1 = version u8 | flags u8 | pad1 u16 | m3p2Len u16 | time u32 (s) | reserved 6
 *   msg2 = e(32) || AEAD(opts2: 16) (32) || padding(pad2)           -> 64 + pad2 bytes
 *     opts2 = version u8 | flags u8 | pad2 u16 | reserved 2 | time u32 (s) | reserved 6
 *   msg3 = AEAD(s: 32) (48) || AEAD(payload3) (m3p2Len)
 *     payload3 = infoLen u16 | RouterInfo (infoLen) | padding
 * Padding bytes are random and mixed into the handshake hash, so they are authenticated too.
 */
import type { CryptoSuite, KeyPair } from '../crypto/types.ts'
import { DecodeError, HandshakeError, LimitError } from '../util/errors.ts'
import { MSG3_PART1_BYTES, XkInitiator, XkResponder, type HandshakeResult } from './noise.ts'

/** Protocol version carried in the options blocks. */
export const LINK_VERSION = 2
/** Bytes of msg1/msg2 before their padding. */
export const HEAD_BYTES = 64
/** Largest padding a handshake message may carry. */
export const MAX_HANDSHAKE_PAD = 512
/** Largest RouterInfo carried in msg3. */
export const MAX_INFO_BYTES = 2048
const OPTS_BYTES = 16
const TAG = 16

/** Settings shared by both sides. */
export interface HandshakeConfig {
  crypto: CryptoSuite
  /** Bytes bound into the handshake hash (network name and version): peers must agree. */
  prologue: Uint8Array
  /** Largest clock difference accepted, in ms (default 120 s). */
  maxSkewMs?: number
  /** Padding range [min, max] for each message (default 0..64). */
  padding?: [number, number]
  /** Largest whole message (datagram transports: the path MTU). */
  maxMessageBytes?: number
}

function randInt (c: CryptoSuite, lo: number, hi: number): number {
  if (hi <= lo) return lo
  const r = c.randomBytes(4)
  return lo + (new DataView(r.buffer, r.byteOffset).getUint32(0) % (hi - lo + 1))
}

/** A random padding length for message 1 or 2 within the configured range and the MTU. */
function pickPad (cfg: HandshakeConfig): number {
  const [lo, hi] = pads(cfg)
  return randInt(cfg.crypto, lo, Math.min(hi, (cfg.maxMessageBytes ?? Infinity) - HEAD_BYTES))
}

/** opts1/opts2: version u8 | flags u8 | pad u16 | m3p2Len u16 (0 in opts2) | time u32 (s) | reserved 6. */
function writeOptions (pad: number, m3p2Len: number, nowMs: number): Uint8Array {
  const opts = new Uint8Array(OPTS_BYTES)
  const v = new DataView(opts.buffer)
  v.setUint8(0, LINK_VERSION)
  v.setUint16(2, pad)
  v.setUint16(4, m3p2Len)
  v.setUint32(6, Math.floor(nowMs / 1000))
  return opts
}

/** Checks decrypted options (version, clock skew, padding bound); returns pad and m3p2Len. */
function readOptions (opts: Uint8Array, nowMs: number, cfg: HandshakeConfig): { pad: number, m3p2Len: number } {
  const v = new DataView(opts.buffer, opts.byteOffset, opts.byteLength)
  if (opts.length !== OPTS_BYTES || v.getUint8(0) !== LINK_VERSION) throw new HandshakeError('unsupported link version')
  checkSkew(v.getUint32(6), nowMs, cfg.maxSkewMs ?? 120_000)
  const pad = v.getUint16(2)
  if (pad > MAX_HANDSHAKE_PAD) throw new HandshakeError('handshake padding too long')
  return { pad, m3p2Len: v.getUint16(4) }
}

/** `head` followed by `pad` random bytes, which are mixed into the handshake hash. */
function appendPadding (c: CryptoSuite, xk: { mixHash (d: Uint8Array): void }, head: Uint8Array, pad: number): Uint8Array {
  const padding = c.randomBytes(pad)
  xk.mixHash(padding)
  const out = new Uint8Array(head.length + pad)
  out.set(head, 0)
  out.set(padding, head.length)
  return out
}

function checkSkew (theirSeconds: number, nowMs: number, maxSkewMs: number): void {
  const skew = Math.abs(theirSeconds * 1000 - nowMs)
  if (skew > maxSkewMs + 1000) throw new HandshakeError(`peer clock differs from ours by ${Math.round(skew / 1000)} s`)
}

function pads (cfg: HandshakeConfig): [number, number] {
  const [lo, hi] = cfg.padding ?? [0, 64]
  return [Math.max(0, lo), Math.min(MAX_HANDSHAKE_PAD, hi)]
}

/** The initiator's handshake: write1 → read2Head → read2Pad → write3. */
export class InitiatorHandshake {
  private readonly xk: XkInitiator
  private readonly m3p2Len: number
  private readonly info: Uint8Array

  /**
   * @param ownStatic our X25519 static key pair
   * @param responderStatic the responder's X25519 key, from its RouterInfo
   * @param ownInfo our signed RouterInfo bytes, sent in msg3
   */
  constructor (private readonly cfg: HandshakeConfig, ownStatic: KeyPair, responderStatic: Uint8Array, ownInfo: Uint8Array) {
    if (ownInfo.length > MAX_INFO_BYTES) throw new LimitError(`RouterInfo of ${ownInfo.length} bytes is over ${MAX_INFO_BYTES}`)
    this.xk = new XkInitiator(cfg.crypto, ownStatic, responderStatic, cfg.prologue)
    this.info = ownInfo
    const [lo, hi] = pads(cfg)
    let pad = randInt(cfg.crypto, lo, hi)
    const max = cfg.maxMessageBytes
    if (max !== undefined) {
      const room = max - MSG3_PART1_BYTES - TAG - 2 - ownInfo.length
      if (room < 0) throw new LimitError(`handshake message 3 (${MSG3_PART1_BYTES + TAG + 2 + ownInfo.length} bytes) does not fit the ${max}-byte MTU`)
      pad = Math.min(pad, room)
    }
    this.m3p2Len = 2 + ownInfo.length + pad + TAG
  }

  /** Message 1, padding included. */
  write1 (nowMs: number): Uint8Array {
    const pad = pickPad(this.cfg)
    return appendPadding(this.cfg.crypto, this.xk, this.xk.write1(writeOptions(pad, this.m3p2Len, nowMs)), pad)
  }

  /** Reads the first 64 bytes of message 2; returns how many padding bytes follow. */
  read2Head (head: Uint8Array, nowMs: number): number {
    if (head.length !== HEAD_BYTES) throw new DecodeError('handshake message 2 head must be 64 bytes')
    return readOptions(this.xk.read2(head), nowMs, this.cfg).pad
  }

  /** Authenticates message 2's padding. */
  read2Pad (padding: Uint8Array): void { this.xk.mixHash(padding) }

  /**
   * Reads a whole message 2 (datagram transports). If it does not authenticate the state is
   * unchanged, so a forged or stray datagram cannot spoil the handshake.
   */
  read2Whole (msg: Uint8Array, nowMs: number): void {
    this.xk.atomic(() => {
      if (msg.length < HEAD_BYTES) throw new DecodeError('message 2 truncated')
      const pad = this.read2Head(msg.subarray(0, HEAD_BYTES), nowMs)
      if (msg.length !== HEAD_BYTES + pad) throw new HandshakeError('message 2 has the wrong size')
      this.read2Pad(msg.subarray(HEAD_BYTES))
    })
  }

  /** Message 3 and the session keys. */
  write3 (): { msg: Uint8Array, result: HandshakeResult } {
    const payload = new Uint8Array(this.m3p2Len - TAG)
    new DataView(payload.buffer).setUint16(0, this.info.length)
    payload.set(this.info, 2)
    payload.set(this.cfg.crypto.randomBytes(payload.length - 2 - this.info.length), 2 + this.info.length)
    const { part1, part2, result } = this.xk.write3(payload)
    const msg = new Uint8Array(part1.length + part2.length)
    msg.set(part1, 0)
    msg.set(part2, part1.length)
    return { msg, result }
  }
}

/** The responder's handshake: read1Head → read1Pad → write2 → read3. */
export class ResponderHandshake {
  private readonly xk: XkResponder
  /** Bytes of message 3, known after read1Head. */
  msg3Bytes = 0

  constructor (private readonly cfg: HandshakeConfig, ownStatic: KeyPair) {
    this.xk = new XkResponder(cfg.crypto, ownStatic, cfg.prologue)
  }

  /** The initiator's ephemeral key, for a replay cache (after read1Head). */
  get remoteEphemeral (): Uint8Array | undefined { return this.xk.remoteEphemeral }

  /**
   * Reads the first 64 bytes of message 1; returns how many padding bytes follow.
   * Throws HandshakeError when the sender does not know our static key (a prober).
   */
  read1Head (head: Uint8Array, nowMs: number): number {
    if (head.length !== HEAD_BYTES) throw new DecodeError('handshake message 1 head must be 64 bytes')
    const { pad, m3p2Len: m3 } = readOptions(this.xk.read1(head), nowMs, this.cfg)
    if (m3 < TAG + 2 || m3 > MAX_INFO_BYTES + MAX_HANDSHAKE_PAD + TAG + 2) throw new HandshakeError('announced message 3 size out of range')
    this.msg3Bytes = MSG3_PART1_BYTES + m3
    return pad
  }

  /** Authenticates message 1's padding. */
  read1Pad (padding: Uint8Array): void { this.xk.mixHash(padding) }

  /** Message 2, padding included. */
  write2 (nowMs: number): Uint8Array {
    const pad = pickPad(this.cfg)
    return appendPadding(this.cfg.crypto, this.xk, this.xk.write2(writeOptions(pad, 0, nowMs)), pad)
  }

  /** Reads message 3: the initiator's static key, its RouterInfo bytes and the session keys. */
  read3 (msg: Uint8Array): { info: Uint8Array, result: HandshakeResult } {
    return this.xk.atomic(() => this.read3Inner(msg))
  }

  private read3Inner (msg: Uint8Array): { info: Uint8Array, result: HandshakeResult } {
    if (msg.length !== this.msg3Bytes) throw new DecodeError(`handshake message 3 must be ${this.msg3Bytes} bytes, got ${msg.length}`)
    this.xk.read3Static(msg.subarray(0, MSG3_PART1_BYTES))
    const { payload, result } = this.xk.read3Payload(msg.subarray(MSG3_PART1_BYTES))
    const len = new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint16(0)
    if (len > MAX_INFO_BYTES || 2 + len > payload.length) throw new HandshakeError('RouterInfo in message 3 overruns its payload')
    return { info: payload.slice(2, 2 + len), result }
  }
}
