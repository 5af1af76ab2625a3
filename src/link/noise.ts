/**
 * Noise_XK_25519_ChaChaPoly_SHA256 as a pure state machine (no I/O, no timers).
 *
 *   XK:  <- s
 *        ...
 *        -> e, es
 *        <- e, ee
 *        -> s, se
 *
 * The initiator must know the responder's static X25519 key in advance (from its RouterInfo),
 * so a prober who lacks it cannot produce a first message the responder will answer. The
 * initiator's static key travels encrypted in message 3 (identity hiding for the initiator).
 *
 * Noise's HKDF(ck, ikm) is exactly RFC 5869 HKDF-SHA256 with salt = ck, empty info and 64 bytes
 * of output, so the suite's `hkdf` is used. `extra` payload bytes follow each message's key
 * material and are encrypted and authenticated by the handshake (`EncryptAndHash`).
 * This module knows nothing of Umbra's payload layouts (see handshake.ts).
 */
import type { CryptoSuite, KeyPair } from '../crypto/types.ts'
import { CryptoError, DecodeError, HandshakeError } from '../util/errors.ts'
import { concat, SymmetricState as NoiseSymmetricState } from '../crypto/noise-symmetric.ts'

const PROTOCOL_NAME = 'Noise_XK_25519_ChaChaPoly_SHA256'
const DHLEN = 32
const TAGLEN = 16

/** The shared SymmetricState, with authentication failures reported as HandshakeError. */
class SymmetricState extends NoiseSymmetricState {
  constructor (c: CryptoSuite, prologue: Uint8Array) { super(c, PROTOCOL_NAME, prologue) }

  override decryptAndHash (ct: Uint8Array): Uint8Array {
    try {
      return super.decryptAndHash(ct)
    } catch (err) {
      throw new HandshakeError('handshake message failed authentication', { cause: err })
    }
  }
}

/** Keys and facts a completed handshake yields. */
export interface HandshakeResult {
  /** Key for frames this side sends. */
  sendKey: Uint8Array
  /** Key for frames this side receives. */
  recvKey: Uint8Array
  /** The peer's static X25519 public key. */
  remoteStatic: Uint8Array
  /** The final handshake hash: a unique, secret-derived session identifier. */
  handshakeHash: Uint8Array
}

function dh (c: CryptoSuite, sk: Uint8Array, pk: Uint8Array): Uint8Array {
  try {
    return c.x25519(sk, pk)
  } catch (err) {
    if (err instanceof CryptoError) throw new HandshakeError('peer sent a low-order key', { cause: err })
    throw err
  }
}

/** The initiating side of Noise XK. Call write1, read2, write3 in order. */
export class XkInitiator {
  private readonly ss: SymmetricState
  private e: KeyPair | undefined
  private re: Uint8Array | undefined

  constructor (private readonly c: CryptoSuite, private readonly s: KeyPair, private readonly rs: Uint8Array, prologue: Uint8Array) {
    if (rs.length !== DHLEN) throw new HandshakeError('responder static key must be 32 bytes')
    this.ss = new SymmetricState(c, prologue)
    this.ss.mixHash(rs)
  }

  /** Mixes bytes (e.g. unencrypted padding) into the handshake hash, so they are authenticated. */
  mixHash (data: Uint8Array): void { this.ss.mixHash(data) }

  /** Runs `f`; if it throws, the state is as before (a forged message changes nothing). */
  atomic<T> (f: () => T): T {
    const st = this.ss.save()
    const re = this.re
    try { return f() } catch (err) { this.ss.restore(st); this.re = re; throw err }
  }

  /** -> e, es, payload */
  write1 (payload: Uint8Array): Uint8Array {
    this.e = this.c.x25519Keypair()
    this.ss.mixHash(this.e.publicKey)
    this.ss.mixKey(dh(this.c, this.e.secretKey, this.rs))
    return concat(this.e.publicKey, this.ss.encryptAndHash(payload))
  }

  /** <- e, ee, payload. Returns the decrypted payload. */
  read2 (msg: Uint8Array): Uint8Array {
    if (this.e === undefined) throw new HandshakeError('read2 before write1')
    if (msg.length < DHLEN + TAGLEN) throw new DecodeError('handshake message 2 truncated')
    this.re = msg.slice(0, DHLEN)
    this.ss.mixHash(this.re)
    this.ss.mixKey(dh(this.c, this.e.secretKey, this.re))
    return this.ss.decryptAndHash(msg.subarray(DHLEN))
  }

  /** -> s, se, payload. `s` and `payload` are encrypted separately; returns both parts. */
  write3 (payload: Uint8Array): { part1: Uint8Array, part2: Uint8Array, result: HandshakeResult } {
    if (this.re === undefined) throw new HandshakeError('write3 before read2')
    const part1 = this.ss.encryptAndHash(this.s.publicKey)
    this.ss.mixKey(dh(this.c, this.s.secretKey, this.re))
    const part2 = this.ss.encryptAndHash(payload)
    const [k1, k2] = this.ss.split()
    if (this.e !== undefined) this.c.wipe(this.e.secretKey)
    return { part1, part2, result: { sendKey: k1, recvKey: k2, remoteStatic: this.rs, handshakeHash: this.ss.h } }
  }
}

/** The responding side of Noise XK. Call read1, write2, read3 in order. */
export class XkResponder {
  private readonly ss: SymmetricState
  private e: KeyPair | undefined
  private re: Uint8Array | undefined
  private rs: Uint8Array | undefined

  constructor (private readonly c: CryptoSuite, private readonly s: KeyPair, prologue: Uint8Array) {
    this.ss = new SymmetricState(c, prologue)
    this.ss.mixHash(s.publicKey)
  }

  /** Mixes bytes (e.g. unencrypted padding) into the handshake hash, so they are authenticated. */
  mixHash (data: Uint8Array): void { this.ss.mixHash(data) }

  /** Runs `f`; if it throws, the state is as before (a forged message changes nothing). */
  atomic<T> (f: () => T): T {
    const st = this.ss.save()
    const re = this.re
    const rs = this.rs
    try { return f() } catch (err) { this.ss.restore(st); this.re = re; this.rs = rs; throw err }
  }

  /** The initiator's ephemeral key (after read1), e.g. for replay caches. */
  get remoteEphemeral (): Uint8Array | undefined { return this.re }

  /** -> e, es, payload. Returns the decrypted payload; throws HandshakeError for a prober. */
  read1 (msg: Uint8Array): Uint8Array {
    if (msg.length < DHLEN + TAGLEN) throw new DecodeError('handshake message 1 truncated')
    this.re = msg.slice(0, DHLEN)
    this.ss.mixHash(this.re)
    this.ss.mixKey(dh(this.c, this.s.secretKey, this.re))
    return this.ss.decryptAndHash(msg.subarray(DHLEN))
  }

  /** <- e, ee, payload */
  write2 (payload: Uint8Array): Uint8Array {
    if (this.re === undefined) throw new HandshakeError('write2 before read1')
    this.e = this.c.x25519Keypair()
    this.ss.mixHash(this.e.publicKey)
    this.ss.mixKey(dh(this.c, this.e.secretKey, this.re))
    return concat(this.e.publicKey, this.ss.encryptAndHash(payload))
  }

  /** -> s (part1: 48 bytes). Returns the initiator's static key. */
  read3Static (part1: Uint8Array): Uint8Array {
    if (this.e === undefined) throw new HandshakeError('read3 before write2')
    if (part1.length !== DHLEN + TAGLEN) throw new DecodeError('handshake message 3 static part has the wrong size')
    this.rs = this.ss.decryptAndHash(part1)
    this.ss.mixKey(dh(this.c, this.e.secretKey, this.rs))
    return this.rs
  }

  /** se, payload (part2). Returns the payload and the transport keys. */
  read3Payload (part2: Uint8Array): { payload: Uint8Array, result: HandshakeResult } {
    if (this.rs === undefined) throw new HandshakeError('read3Payload before read3Static')
    const payload = this.ss.decryptAndHash(part2)
    const [k1, k2] = this.ss.split()
    if (this.e !== undefined) this.c.wipe(this.e.secretKey)
    return { payload, result: { sendKey: k2, recvKey: k1, remoteStatic: this.rs, handshakeHash: this.ss.h } }
  }
}

/** Bytes of the static-key part of message 3. */
export const MSG3_PART1_BYTES = DHLEN + TAGLEN
