/**
 * Chat's messages (pure codec; byte layouts in docs/chat.md).
 *
 * A **post** is what a user writes: a direct message, a room line, or a room join/leave/nick
 * notice. It names its conversation (the recipient's destination hash for a DM, the room id for
 * a room), carries the author's full destination, nickname, time and text, and is signed with
 * the author's destination key (Ed25519) over a fixed byte layout, so nobody on the path can
 * forge or alter it. Its id is a hash of the signed bytes (for de-duplication and acks).
 *
 * Peers exchange **frames** over SAM streams ({@link FRAME_MAX_BYTES}, `wire/frames.ts`):
 * `dm` (a post) answered by `ack`; `room` (a post sealed with the room key) relayed among
 * members; `join` (proof of the room key) answered by `welcome` (members, then history as `room`
 * frames) or `deny`; `part`. Decoders bound every field and throw DecodeError; nothing here does
 * I/O.
 */
import type { CryptoSuite } from '../../crypto/index.ts'
import type { PlainRecord } from '../../wire/msgpack.ts'
import { Writer } from '../../wire/writer.ts'
import { DecodeError } from '../../util/errors.ts'
import { bytesField, uintField } from '../../wire/fields.ts'
import { DESTINATION_BYTES, parseDestination } from '../../identity/destination.ts'

/** Largest frame body on a peer stream. */
export const FRAME_MAX_BYTES = 12 * 1024
/** Longest text of a post, UTF-8 bytes. */
export const MAX_TEXT_BYTES = 4096
/** Longest nickname, characters. */
export const MAX_NICK_CHARS = 32
/** Members named in one `welcome`. */
export const MAX_WELCOME_MEMBERS = 24
/** A post's time may be at most this far in the future (clock skew allowed). */
export const MAX_FUTURE_MS = 10 * 60_000

/** What a post is. */
export type PostKind = 'dm' | 'say' | 'join' | 'leave'
const KIND_CODE: Record<PostKind, number> = { dm: 1, say: 2, join: 3, leave: 4 }
const DOMAIN = new TextEncoder().encode('umbra-chat/1 post\0')
const utf8 = new TextEncoder()
/** With the u flag only an unpaired surrogate matches: such a string is not valid UTF-16. */
const LONE_SURROGATE = /\p{Surrogate}/u

/** An unsigned post. */
export interface PostBody {
  kind: PostKind
  /** 32 bytes: the recipient's destination hash (dm) or the room id. */
  conv: Uint8Array
  /** The author's destination (391 bytes). */
  author: Uint8Array
  nick: string
  /** Unix ms. */
  ts: number
  text: string
}

/** A signed post. */
export interface Post extends PostBody {
  sig: Uint8Array
  /** 16 bytes: BLAKE2b of the signed bytes. */
  id: Uint8Array
}

/** Frames on a peer stream, after validation. */
export type Frame =
  | { op: 'dm', post: Post }
  | { op: 'ack', id: Uint8Array }
  | { op: 'room', room: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, history: boolean }
  | { op: 'join', room: Uint8Array, proof: Uint8Array, since: number }
  | { op: 'welcome', room: Uint8Array, proof: Uint8Array, members: Uint8Array[] }
  | { op: 'deny', room: Uint8Array }
  | { op: 'part', room: Uint8Array }

/** Checks a nickname: 1..32 characters, no control or format characters, trimmed. Throws DecodeError. */
export function checkNick (nick: string): string {
  if (typeof nick !== 'string') throw new DecodeError('nick is not text')
  const n = [...nick].length
  if (n < 1 || n > MAX_NICK_CHARS) throw new DecodeError(`nick must be 1..${MAX_NICK_CHARS} characters`)
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(nick) || nick.trim() !== nick) throw new DecodeError('nick has control characters or surrounding spaces')
  if (LONE_SURROGATE.test(nick)) throw new DecodeError('nick is not well-formed Unicode')
  return nick
}

/** Checks a text: well-formed, at most {@link MAX_TEXT_BYTES}, no control characters but newline and tab. */
export function checkText (text: string): string {
  if (typeof text !== 'string') throw new DecodeError('text is not text')
  if (LONE_SURROGATE.test(text)) throw new DecodeError('text is not well-formed Unicode')
  if (utf8.encode(text).length > MAX_TEXT_BYTES) throw new DecodeError(`text over ${MAX_TEXT_BYTES} bytes`)
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) throw new DecodeError('text has control characters')
  return text
}

/** The bytes a post's signature covers (layout in docs/chat.md). */
export function signedBytes (p: PostBody): Uint8Array {
  return new Writer({ initialSize: 512 + p.text.length * 3 })
    .bytes(DOMAIN)
    .u8(KIND_CODE[p.kind])
    .bytes(p.conv)
    .varBytes(p.author, DESTINATION_BYTES)
    .u64(p.ts)
    .string(p.nick, MAX_NICK_CHARS * 4, { lengthBytes: 1 })
    .string(p.text, MAX_TEXT_BYTES)
    .finish()
}

/** Signs a post with the author's Ed25519 secret key (libsodium 64-byte form). Throws DecodeError for bad fields. */
export function signPost (crypto: CryptoSuite, body: PostBody, secretKey: Uint8Array): Post {
  checkBody(body)
  const bytes = signedBytes(body)
  return { ...body, sig: crypto.sign(bytes, secretKey), id: crypto.blake2b(bytes, 16) }
}

/** True if the post's signature is the author's (and its id is right). */
export function verifyPost (crypto: CryptoSuite, post: Post): boolean {
  try {
    checkBody(post)
    const key = parseDestination(post.author).signingKey
    const bytes = signedBytes(post)
    return crypto.verify(post.sig, bytes, key) && crypto.equal(crypto.blake2b(bytes, 16), post.id)
  } catch {
    return false
  }
}

function checkBody (p: PostBody): void {
  if (typeof p.kind !== 'string' || !Object.hasOwn(KIND_CODE, p.kind)) throw new DecodeError('unknown post kind')
  bytesField(p.conv, 'conv', 32, 32)
  bytesField(p.author, 'author', DESTINATION_BYTES, DESTINATION_BYTES)
  checkNick(p.nick)
  checkText(p.text)
  if (!Number.isSafeInteger(p.ts) || p.ts < 0) throw new DecodeError('ts must be a non-negative integer')
}

/** The record of a post (inside a `dm` frame or sealed in a `room` frame). */
export function postRecord (p: Post): PlainRecord {
  return { k: p.kind, c: p.conv, a: p.author, n: p.nick, t: p.ts, x: p.text, s: p.sig }
}

/**
 * A post from its record, fields checked and id computed. The signature is NOT checked here:
 * call {@link verifyPost}. Throws DecodeError.
 */
export function decodePost (crypto: CryptoSuite, r: PlainRecord): Post {
  if (typeof r.k !== 'string' || !Object.hasOwn(KIND_CODE, r.k)) throw new DecodeError('post: unknown kind')
  const body: PostBody = {
    kind: r.k as PostKind,
    conv: bytesField(r.c, 'conv', 32, 32),
    author: bytesField(r.a, 'author', DESTINATION_BYTES, DESTINATION_BYTES),
    nick: checkNick(r.n as string),
    ts: uintField(r.t, 'ts', Number.MAX_SAFE_INTEGER),
    text: checkText(r.x as string)
  }
  const sig = bytesField(r.s, 'sig', 64, 64)
  return { ...body, sig, id: crypto.blake2b(signedBytes(body), 16) }
}

/** The record of a frame. */
export function frameRecordOf (f: Frame): PlainRecord {
  switch (f.op) {
    case 'dm': return { op: 'dm', p: postRecord(f.post) }
    case 'ack': return { op: 'ack', id: f.id }
    case 'room': return f.history ? { op: 'room', r: f.room, n: f.nonce, c: f.sealed, h: true } : { op: 'room', r: f.room, n: f.nonce, c: f.sealed }
    case 'join': return { op: 'join', r: f.room, p: f.proof, s: f.since }
    case 'welcome': return { op: 'welcome', r: f.room, p: f.proof, m: f.members.slice(0, MAX_WELCOME_MEMBERS) }
    case 'deny': return { op: 'deny', r: f.room }
    case 'part': return { op: 'part', r: f.room }
  }
}

/** A frame from its record. Throws DecodeError (an unknown op too: the caller counts and drops it). */
export function decodeFrame (crypto: CryptoSuite, r: PlainRecord): Frame {
  switch (r.op) {
    case 'dm':
      if (r.p === null || typeof r.p !== 'object' || Array.isArray(r.p) || r.p instanceof Uint8Array) throw new DecodeError('dm without a post')
      return { op: 'dm', post: decodePost(crypto, r.p) }
    case 'ack': return { op: 'ack', id: bytesField(r.id, 'id', 16, 16) }
    case 'room': return { op: 'room', room: bytesField(r.r, 'room', 32, 32), nonce: bytesField(r.n, 'nonce', 24, 24), sealed: bytesField(r.c, 'sealed', 16, FRAME_MAX_BYTES), history: r.h === true }
    case 'join': return { op: 'join', room: bytesField(r.r, 'room', 32, 32), proof: bytesField(r.p, 'proof', 32, 32), since: uintField(r.s, 'since', Number.MAX_SAFE_INTEGER) }
    case 'welcome': {
      if (!Array.isArray(r.m) || r.m.length > MAX_WELCOME_MEMBERS) throw new DecodeError('welcome: bad member list')
      return { op: 'welcome', room: bytesField(r.r, 'room', 32, 32), proof: bytesField(r.p, 'proof', 32, 32), members: r.m.map((m, i) => bytesField(m, `member ${i}`, DESTINATION_BYTES, DESTINATION_BYTES)) }
    }
    case 'deny': return { op: 'deny', room: bytesField(r.r, 'room', 32, 32) }
    case 'part': return { op: 'part', room: bytesField(r.r, 'room', 32, 32) }
    default: throw new DecodeError(`unknown op ${typeof r.op === 'string' ? r.op.slice(0, 16) : typeof r.op}`)
  }
}

