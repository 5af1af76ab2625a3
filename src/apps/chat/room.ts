/**
 * A chat room's keys and state (pure; no I/O, time passed in).
 *
 * A room is its 32-byte secret, shared in invites. From it: the room id (public: it names the
 * room in frames), the sealing key (XChaCha20-Poly1305, the room id as associated data) and the
 * join key (a member proves it knows the secret before a peer serves it members and history).
 * {@link RoomState} keeps what a member knows: members seen, recent history (the sealed frames as
 * received, so that they can be served on and still verify), ids seen (de-duplication) and a
 * token bucket per author (a flooding member is limited; others are not).
 */
import type { CryptoSuite } from '../../crypto/index.ts'
import { packRecord, unpackRecord, type PlainRecord } from '../../wire/msgpack.ts'
import { TokenBucket } from '../../util/token-bucket.ts'
import { toHex } from '../../util/bytes.ts'
import { DecodeError } from '../../util/errors.ts'
import { FRAME_MAX_BYTES, type Post } from './messages.ts'

/** Posts kept per room (in memory and served to joiners). */
export const HISTORY_MAX = 200
/** Members remembered per room. */
export const MEMBERS_MAX = 256
/** Per-author rate: posts per second, and burst. */
export const AUTHOR_RATE = 2
export const AUTHOR_BURST = 20
/** Authors with a bucket at most (the least recently active are forgotten). */
const AUTHORS_MAX = 1024
/** A live post older than this is refused (ids are remembered about as long). */
export const MAX_AGE_MS = 6 * 3600_000
/** Ids remembered at most; beyond, the oldest are forgotten (their posts are past MAX_AGE_MS or rate-limited). */
const SEEN_MAX = 50_000

/** Keys derived from a room secret. */
export interface RoomKeys {
  /** 32 bytes naming the room in frames. */
  readonly id: Uint8Array
  readonly seal: Uint8Array
  readonly join: Uint8Array
}

/** The keys of the room with `secret` (32 bytes). */
export function roomKeys (crypto: CryptoSuite, secret: Uint8Array): RoomKeys {
  if (secret.length !== 32) throw new DecodeError(`room secret of ${secret.length} bytes (need 32)`)
  const salt = new TextEncoder().encode('umbra-chat/1 room')
  return {
    id: crypto.hkdf(secret, salt, 'id', 32),
    seal: crypto.hkdf(secret, salt, 'seal', 32),
    join: crypto.hkdf(secret, salt, 'join', 32)
  }
}

/** Seals a post record for the room: a fresh 24-byte nonce and the ciphertext. */
export function sealPost (crypto: CryptoSuite, keys: RoomKeys, record: PlainRecord): { nonce: Uint8Array, sealed: Uint8Array } {
  const nonce = crypto.randomBytes(24)
  return { nonce, sealed: crypto.xaeadEncrypt(keys.seal, nonce, packRecord(record, FRAME_MAX_BYTES - 256), keys.id) }
}

/** Opens a sealed post record. Throws DecodeError if it was not sealed with this room's key or is malformed. */
export function openSealed (crypto: CryptoSuite, keys: RoomKeys, nonce: Uint8Array, sealed: Uint8Array): PlainRecord {
  let plain: Uint8Array
  try {
    plain = crypto.xaeadDecrypt(keys.seal, nonce, sealed, keys.id)
  } catch (err) {
    throw new DecodeError('room frame does not open with the room key', { cause: err })
  }
  return unpackRecord(plain, FRAME_MAX_BYTES)
}

/**
 * Proof that the dialer of a stream knows the room secret, bound to both ends' destination
 * hashes (so it cannot be replayed on another stream).
 */
export function joinProof (crypto: CryptoSuite, keys: RoomKeys, dialerHash: Uint8Array, acceptorHash: Uint8Array): Uint8Array {
  const data = new Uint8Array(64)
  data.set(dialerHash, 0)
  data.set(acceptorHash, 32)
  return crypto.blake2b(data, 32, keys.join)
}

/** A member as a room sees it. */
export interface Member {
  /** Base64 destination. */
  dest: string
  nick: string
  /** Last post or join seen (ms); 0 if only named by a welcome or an invite. */
  seen: number
  /** It posted `leave` after its last join. */
  left: boolean
}

/** One post of the history with the frame it came in. */
export interface HistoryItem {
  post: Post
  nonce: Uint8Array
  sealed: Uint8Array
}

/** What {@link RoomState.accept} decided. */
export type Verdict = 'new' | 'duplicate' | 'limited' | 'stale'

/** What a member knows of one room. */
export class RoomState {
  readonly keys: RoomKeys
  readonly idHex: string
  readonly members = new Map<string, Member>()
  private readonly items: HistoryItem[] = []
  /** Post ids (hex) seen, oldest first, with when. */
  private readonly seen = new Map<string, number>()
  private readonly buckets = new Map<string, TokenBucket>()

  constructor (crypto: CryptoSuite, readonly secret: Uint8Array, public name: string) {
    this.keys = roomKeys(crypto, secret)
    this.idHex = toHex(this.keys.id)
  }

  /** Recent posts, oldest first. */
  get history (): readonly HistoryItem[] { return this.items }

  /**
   * Takes a verified post: 'duplicate' if seen, 'stale' if a live post is older than
   * {@link MAX_AGE_MS} (a replay), 'limited' if its author is over its rate (history items are
   * exempt from both: `replay`), else 'new' — recorded in history and members.
   */
  accept (item: HistoryItem, authorB64: string, now: number, replay = false): Verdict {
    const id = toHex(item.post.id)
    // Copies of one post arrive from several peers: only a new post costs its author a token.
    if (this.seen.has(id)) return 'duplicate'
    if (!replay && item.post.ts < now - MAX_AGE_MS) return 'stale'
    if (!replay && !this.take(authorB64, now)) return 'limited'
    this.remember(id, now)
    this.insert(item)
    this.noteMember(authorB64, item.post.nick, item.post.ts, item.post.kind === 'leave')
    return 'new'
  }

  /** Records a member (from a post, a welcome or an invite); bounded, least recently seen forgotten first. */
  noteMember (dest: string, nick: string, seen: number, left = false): void {
    const m = this.members.get(dest)
    if (m !== undefined) {
      if (seen >= m.seen) { m.seen = seen; m.nick = nick === '' ? m.nick : nick; m.left = left }
      return
    }
    if (this.members.size >= MEMBERS_MAX) {
      let oldest: string | undefined
      let at = Infinity
      for (const [k, v] of this.members) if (v.seen < at) { at = v.seen; oldest = k }
      if (oldest !== undefined) this.members.delete(oldest)
    }
    this.members.set(dest, { dest, nick, seen, left })
  }

  /** Members that have not left, most recently seen first. */
  present (): Member[] {
    return [...this.members.values()].filter(m => !m.left).sort((a, b) => b.seen - a.seen)
  }

  /** History items posted at or after `since` (ms), oldest first. */
  since (since: number): HistoryItem[] {
    return this.items.filter(i => i.post.ts >= since)
  }

  /** Restores history read from disk (no rate limit; ids marked seen). */
  restore (items: readonly HistoryItem[], authorOf: (p: Post) => string, now: number): void {
    for (const item of items) {
      const id = toHex(item.post.id)
      if (this.seen.has(id)) continue
      this.remember(id, now)
      this.insert(item)
      this.noteMember(authorOf(item.post), item.post.nick, item.post.ts, item.post.kind === 'leave')
    }
  }

  private remember (id: string, now: number): void {
    this.seen.set(id, now)
    if (this.seen.size > SEEN_MAX) {
      const oldest = this.seen.keys().next().value
      if (oldest !== undefined) this.seen.delete(oldest)
    }
  }

  private insert (item: HistoryItem): void {
    // Kept in time order; posts mostly arrive in order, so search from the end.
    let i = this.items.length
    while (i > 0 && (this.items[i - 1] as HistoryItem).post.ts > item.post.ts) i--
    this.items.splice(i, 0, item)
    if (this.items.length > HISTORY_MAX) this.items.splice(0, this.items.length - HISTORY_MAX)
  }

  private take (author: string, now: number): boolean {
    let b = this.buckets.get(author)
    if (b === undefined) {
      if (this.buckets.size >= AUTHORS_MAX) {
        const first = this.buckets.keys().next().value
        if (first !== undefined) this.buckets.delete(first)
      }
      b = new TokenBucket(AUTHOR_RATE, AUTHOR_BURST, now)
    } else {
      this.buckets.delete(author)
    }
    this.buckets.set(author, b)
    return b.take(1, now)
  }
}
