/**
 * Tunnel build records: the creator's 1024-byte build body (8 records of 128 bytes), a hop
 * finding and opening its record, the hop's reply, and the creator reading the replies. Pure:
 * no I/O, no clocks. Byte layouts and key derivation are those of `docs/tunnels.md`, sections
 * "Per-hop keys" and "Build message".
 *
 * Each hop k's record is sealed under a key from X25519(fresh e, hop static). A hop that answers
 * writes its sealed reply into its own slot and XORs every other slot with a ChaCha20 keystream
 * of its replyKey (nonce = 11 zero bytes then the slot index, block counter 0); the creator
 * pre-XORs hop k's record with the keystreams of hops 1..k-1 so that it arrives as sealed, and
 * strips the keystreams of hops k+1..N from hop k's reply.
 */
import type { CryptoSuite } from '../crypto/types.ts'
import { CryptoError, DecodeError, LimitError } from '../util/errors.ts'
import { Reader } from '../wire/reader.ts'
import { Writer } from '../wire/writer.ts'

/** Records in a build body. */
export const BUILD_RECORDS = 8
/** Bytes of one record (and of one reply). */
export const RECORD_BYTES = 128
/** Bytes of a request (the plaintext inside a record). */
export const REQUEST_BYTES = 64
/** Bytes of a build body: {@link BUILD_RECORDS} records. */
export const BUILD_BODY_BYTES = BUILD_RECORDS * RECORD_BYTES
/** Longest tunnel lifetime a request may ask for, in seconds. */
export const MAX_LIFETIME_SEC = 660
/** Bytes of random padding at the end of a request. */
export const REQUEST_PADDING_BYTES = 11
/** Bytes of the router ID prefix that addresses a record. */
export const RECORD_ID_PREFIX_BYTES = 16
/** Bytes of the plaintext of a reply (status byte, then zeros). */
export const REPLY_PLAIN_BYTES = RECORD_BYTES - 16
/** HKDF info of the per-hop key derivation. */
export const BUILD_KDF_INFO = 'umbra/tunnel/build/1'

/** Request flag bits. */
export const HopFlag = { GATEWAY: 1, ENDPOINT: 2 } as const
export type HopFlag = typeof HopFlag[keyof typeof HopFlag]

/** Reply status byte: 0 accepted, otherwise why the hop refused. */
export const BuildStatus = { ACCEPTED: 0, REFUSED_LOAD: 10, REFUSED_BAD: 20, REFUSED_BANDWIDTH: 30 } as const
export type BuildStatus = typeof BuildStatus[keyof typeof BuildStatus]

/** The four keys a hop and the creator share after a build. */
export interface HopKeys {
  /** AES-256 key of the hop's cell-body keystream (CTR). */
  layerKey: Uint8Array
  /** AES-256 key of the hop's cell nonce encryption. */
  ivKey: Uint8Array
  /** Key of the hop's build reply and of its XOR over the other slots. */
  replyKey: Uint8Array
  /** BLAKE2b MAC key of cells (used when the hop is a gateway or an endpoint). */
  macKey: Uint8Array
}

/** What the creator asks of one hop (the 64-byte request, without its padding). */
export interface BuildRequest {
  /** Tunnel ID the hop receives cells under; non-zero. */
  receiveTunnelId: number
  /** Tunnel ID at the next router. */
  nextTunnelId: number
  /** The next router's 32-byte ID (the creator after the last hop of an inbound tunnel). */
  nextRouter: Uint8Array
  /** {@link HopFlag} bits. */
  flags: number
  /** Seconds since the Unix epoch at which the creator made the request. */
  requestTime: number
  /** Tunnel lifetime in seconds, at most {@link MAX_LIFETIME_SEC}. */
  lifetimeSec: number
  /** Message ID under which the hop forwards the build message. */
  nextMsgId: number
  /**
   * Priority the creator offers for this tunnel (0..65535): when the hop's resources are scarce,
   * it serves tunnels by this priority bounded by the sending router's credit (`accounting/`).
   */
  priority: number
}

/** One hop of a tunnel to build: who it is and what it is asked. */
export interface HopSpec {
  /** The hop's 32-byte router ID. */
  routerId: Uint8Array
  /** The hop's 32-byte X25519 static public key (from its RouterInfo). */
  staticKey: Uint8Array
  /** The request for this hop. */
  request: BuildRequest
}

/** Creator-side state kept until the reply arrives (holds reply keys; no ephemeral secrets kept). */
export interface BuildState {
  /** Per hop, in tunnel order: the slot of its record and the keys shared with it. */
  hops: Array<{ slot: number, keys: HopKeys }>
}

/** A hop's opened record. */
export interface OpenedRecord {
  /** Slot (0..7) the record was in; the reply goes there. */
  slot: number
  /** The creator's ephemeral public key `e.pub`, for replay detection. */
  ephemeral: Uint8Array
  /** The decoded request. */
  request: BuildRequest
  /** Keys shared with the creator. */
  keys: HopKeys
}

const ZERO_NONCE = new Uint8Array(12)
const ALL_FLAGS = HopFlag.GATEWAY | HopFlag.ENDPOINT

/** The 12-byte nonce of slot `j`: 11 zero bytes then `j`. */
function slotNonce (j: number): Uint8Array {
  const n = new Uint8Array(12)
  n[11] = j
  return n
}

function slotView (body: Uint8Array, j: number): Uint8Array {
  return body.subarray(j * RECORD_BYTES, (j + 1) * RECORD_BYTES)
}

function checkBody (body: Uint8Array): void {
  if (body.length !== BUILD_BODY_BYTES) throw new DecodeError(`build body must be ${BUILD_BODY_BYTES} bytes, got ${body.length}`)
}

/** A uniform integer in [0, n), n <= 256, from the suite's randomness (rejection sampling). */
function randomBelow (crypto: CryptoSuite, n: number): number {
  const limit = 256 - (256 % n)
  for (;;) {
    const b = crypto.randomBytes(1)[0]!
    if (b < limit) return b % n
  }
}

/** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
function randomPermutation (crypto: CryptoSuite, n: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) {
    const j = randomBelow(crypto, i + 1)
    const t = p[i]!
    p[i] = p[j]!
    p[j] = t
  }
  return p
}

function wipeKeys (crypto: CryptoSuite, k: HopKeys): void {
  crypto.wipe(k.layerKey)
  crypto.wipe(k.ivKey)
  crypto.wipe(k.replyKey)
  crypto.wipe(k.macKey)
}

function checkFlags (flags: number): string | undefined {
  if ((flags & ~ALL_FLAGS) !== 0) return `unknown request flag bits 0x${flags.toString(16)}`
  if (flags === ALL_FLAGS) return 'a hop cannot be both inbound gateway and outbound endpoint'
  return undefined
}

/**
 * Encodes a request: the 64 bytes sealed into a record. `padding` is the 13 random bytes at the
 * end. Throws LimitError for anything {@link decodeRequest} would refuse.
 */
export function encodeRequest (r: BuildRequest, padding: Uint8Array): Uint8Array {
  if (r.receiveTunnelId === 0) throw new LimitError('receive tunnel ID must be non-zero')
  if (r.nextRouter.length !== 32) throw new LimitError('next router ID must be 32 bytes')
  const bad = checkFlags(r.flags)
  if (bad !== undefined) throw new LimitError(bad)
  if (r.lifetimeSec > MAX_LIFETIME_SEC) throw new LimitError(`lifetime ${r.lifetimeSec} s exceeds ${MAX_LIFETIME_SEC} s`)
  if (padding.length !== REQUEST_PADDING_BYTES) throw new LimitError(`request padding must be ${REQUEST_PADDING_BYTES} bytes`)
  return new Writer({ initialSize: REQUEST_BYTES, limit: REQUEST_BYTES })
    .u32(r.receiveTunnelId)
    .u32(r.nextTunnelId)
    .bytes(r.nextRouter)
    .u8(r.flags)
    .u32(r.requestTime)
    .u16(r.lifetimeSec)
    .u32(r.nextMsgId)
    .u16(r.priority)
    .bytes(padding)
    .finish()
}

/**
 * Decodes a 64-byte request (the padding is dropped; `nextRouter` is a copy). DecodeError for a
 * wrong size, receive tunnel ID 0, a lifetime over {@link MAX_LIFETIME_SEC}, or undefined or
 * contradictory flags.
 */
export function decodeRequest (b: Uint8Array): BuildRequest {
  if (b.length !== REQUEST_BYTES) throw new DecodeError(`request must be ${REQUEST_BYTES} bytes, got ${b.length}`)
  const r = new Reader(b)
  const receiveTunnelId = r.u32()
  if (receiveTunnelId === 0) throw new DecodeError('receive tunnel ID 0')
  const nextTunnelId = r.u32()
  const nextRouter = r.bytes(32).slice()
  const flags = r.u8()
  const bad = checkFlags(flags)
  if (bad !== undefined) throw new DecodeError(bad)
  const requestTime = r.u32()
  const lifetimeSec = r.u16()
  if (lifetimeSec > MAX_LIFETIME_SEC) throw new DecodeError(`lifetime ${lifetimeSec} s exceeds ${MAX_LIFETIME_SEC} s`)
  const nextMsgId = r.u32()
  const priority = r.u16()
  r.bytes(REQUEST_PADDING_BYTES)
  r.end()
  return { receiveTunnelId, nextTunnelId, nextRouter, flags, requestTime, lifetimeSec, nextMsgId, priority }
}

/**
 * The per-hop key derivation shared by both sides (exported for tests and for the tunnel
 * driver): okm = HKDF-SHA256(shared, salt = e.pub || hopStatic, info = "umbra/tunnel/build/1",
 * 160), split into recordKey, layerKey, ivKey, replyKey, macKey. The caller wipes `recordKey`
 * when done with it.
 */
export function deriveHopKeys (crypto: CryptoSuite, shared: Uint8Array, ephemeralPub: Uint8Array, hopStatic: Uint8Array): HopKeys & { recordKey: Uint8Array } {
  if (shared.length !== 32 || ephemeralPub.length !== 32 || hopStatic.length !== 32) {
    throw new CryptoError('build key derivation inputs must be 32 bytes each')
  }
  const salt = new Uint8Array(64)
  salt.set(ephemeralPub, 0)
  salt.set(hopStatic, 32)
  const okm = crypto.hkdf(shared, salt, BUILD_KDF_INFO, 160)
  const keys = {
    recordKey: okm.slice(0, 32),
    layerKey: okm.slice(32, 64),
    ivKey: okm.slice(64, 96),
    replyKey: okm.slice(96, 128),
    macKey: okm.slice(128, 160)
  }
  crypto.wipe(okm)
  return keys
}

/**
 * Builds the 1024-byte body for `hops` in tunnel order (1..8 hops): each hop's record goes into
 * a random slot, unused slots are random bytes, and hop k's record is pre-XORed with the reply
 * keystreams of hops 1..k-1 for its slot. Throws LimitError for a bad hop count or request,
 * CryptoError for a bad (e.g. low-order) static key. The ephemeral secrets are wiped before it
 * returns; the state holds only the shared hop keys.
 */
export function createBuild (crypto: CryptoSuite, hops: HopSpec[]): { body: Uint8Array, state: BuildState } {
  if (hops.length < 1 || hops.length > BUILD_RECORDS) throw new LimitError(`a build has 1..${BUILD_RECORDS} hops, got ${hops.length}`)
  for (const h of hops) {
    if (h.routerId.length !== 32) throw new LimitError('router ID must be 32 bytes')
    if (h.staticKey.length !== 32) throw new LimitError('hop static key must be 32 bytes')
  }
  // Encode every request first so a bad one fails before any key is made.
  const requests = hops.map(h => encodeRequest(h.request, crypto.randomBytes(REQUEST_PADDING_BYTES)))
  const slots = randomPermutation(crypto, BUILD_RECORDS).slice(0, hops.length)
  const body = crypto.randomBytes(BUILD_BODY_BYTES) // unused slots stay random
  const state: BuildState = { hops: [] }
  try {
    for (let k = 0; k < hops.length; k++) {
      const hop = hops[k]!
      const slot = slots[k]!
      const e = crypto.x25519Keypair()
      let shared: Uint8Array
      try {
        shared = crypto.x25519(e.secretKey, hop.staticKey)
      } finally {
        crypto.wipe(e.secretKey)
      }
      const { recordKey, ...keys } = deriveHopKeys(crypto, shared, e.publicKey, hop.staticKey)
      crypto.wipe(shared)
      const rec = slotView(body, slot)
      rec.set(hop.routerId.subarray(0, RECORD_ID_PREFIX_BYTES), 0)
      rec.set(e.publicKey, RECORD_ID_PREFIX_BYTES)
      const sealed = crypto.aeadEncrypt(recordKey, ZERO_NONCE, requests[k]!, rec.slice(0, 48))
      crypto.wipe(recordKey)
      rec.set(sealed, 48)
      // Pre-XOR with the keystreams of every earlier hop, which each hop on the way removes.
      for (let m = 0; m < k; m++) crypto.chacha20Xor(state.hops[m]!.keys.replyKey, slotNonce(slot), rec, rec)
      state.hops.push({ slot, keys })
    }
  } catch (err) {
    for (const h of state.hops) wipeKeys(crypto, h.keys)
    throw err
  } finally {
    for (const r of requests) crypto.wipe(r)
  }
  return { body, state }
}

/**
 * Hop side: finds the record addressed to `own.id` (its first 16 bytes), derives the keys and
 * opens it. Returns undefined if no slot is addressed to us. Throws DecodeError for a body that
 * is not 1024 bytes or a request that is malformed, CryptoError if no addressed record opens.
 */
export function openRecord (crypto: CryptoSuite, own: { id: Uint8Array, staticSecret: Uint8Array, staticPublic: Uint8Array }, body: Uint8Array): OpenedRecord | undefined {
  checkBody(body)
  if (own.id.length < RECORD_ID_PREFIX_BYTES) throw new CryptoError('router ID too short')
  const prefix = own.id.subarray(0, RECORD_ID_PREFIX_BYTES)
  let addressed = false
  let failure: unknown
  for (let slot = 0; slot < BUILD_RECORDS; slot++) {
    const rec = slotView(body, slot)
    if (!crypto.equal(rec.subarray(0, RECORD_ID_PREFIX_BYTES), prefix)) continue
    // Every addressed slot is tried: a forged slot with our prefix must not hide the real one.
    addressed = true
    const ephemeral = rec.slice(RECORD_ID_PREFIX_BYTES, 48)
    let plain: Uint8Array
    let keys: HopKeys & { recordKey: Uint8Array }
    try {
      const shared = crypto.x25519(own.staticSecret, ephemeral)
      keys = deriveHopKeys(crypto, shared, ephemeral, own.staticPublic)
      crypto.wipe(shared)
      try {
        plain = crypto.aeadDecrypt(keys.recordKey, ZERO_NONCE, rec.subarray(48), rec.subarray(0, 48))
      } finally {
        crypto.wipe(keys.recordKey)
      }
    } catch (err) {
      failure = err
      continue
    }
    const { recordKey: _, ...hopKeys } = keys
    try {
      return { slot, ephemeral, request: decodeRequest(plain), keys: hopKeys }
    } catch (err) {
      wipeKeys(crypto, hopKeys)
      throw err
    } finally {
      crypto.wipe(plain)
    }
  }
  if (!addressed) return undefined
  throw new CryptoError('build record addressed to us does not open', { cause: failure })
}

/**
 * Hop side: writes our sealed reply with `status` (a {@link BuildStatus}, 0..255) into our slot
 * and XORs every other slot with our reply keystream, in place on `body`.
 */
export function answerRecord (crypto: CryptoSuite, body: Uint8Array, opened: OpenedRecord, status: number): void {
  checkBody(body)
  if (!Number.isInteger(status) || status < 0 || status > 0xff) throw new LimitError(`status ${status} out of range`)
  if (!Number.isInteger(opened.slot) || opened.slot < 0 || opened.slot >= BUILD_RECORDS) throw new LimitError(`slot ${opened.slot} out of range`)
  const plain = new Uint8Array(REPLY_PLAIN_BYTES)
  plain[0] = status
  slotView(body, opened.slot).set(crypto.aeadEncrypt(opened.keys.replyKey, slotNonce(opened.slot), plain))
  for (let j = 0; j < BUILD_RECORDS; j++) {
    if (j === opened.slot) continue
    const rec = slotView(body, j)
    crypto.chacha20Xor(opened.keys.replyKey, slotNonce(j), rec, rec)
  }
}

/**
 * Creator side: the status byte of each hop's reply, in tunnel order. Does not modify `body`.
 * Throws DecodeError for a body that is not 1024 bytes, CryptoError if any reply does not open
 * (a hop or link tampered with the message).
 */
export function readReplies (crypto: CryptoSuite, state: BuildState, body: Uint8Array): number[] {
  checkBody(body)
  const statuses: number[] = []
  for (let k = 0; k < state.hops.length; k++) {
    const { slot, keys } = state.hops[k]!
    const reply = slotView(body, slot).slice()
    for (let m = k + 1; m < state.hops.length; m++) crypto.chacha20Xor(state.hops[m]!.keys.replyKey, slotNonce(slot), reply, reply)
    let plain: Uint8Array
    try {
      plain = crypto.aeadDecrypt(keys.replyKey, slotNonce(slot), reply)
    } catch (err) {
      throw new CryptoError(`reply of hop ${k + 1} does not open`, { cause: err })
    }
    statuses.push(plain[0]!)
  }
  return statuses
}
