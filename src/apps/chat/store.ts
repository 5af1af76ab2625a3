/**
 * Chat's persistent state on the embedded database (`util/kv.ts`): the nickname, rooms joined
 * (secret, name, members to dial), history of every conversation (bounded), the outbox of direct
 * messages not yet acknowledged, and contacts (destination and nickname by hash). A write
 * resolves once durable, so a message acknowledged to the user survives a crash.
 *
 * History keys are `conv (32) || ts (u64 BE) || id (16)`, so one conversation is a key range in
 * time order.
 */
import type { CryptoSuite } from '../../crypto/index.ts'
import type { DataStore, KvBucket } from '../../util/kv.ts'
import { packRecord, unpackRecord, type PlainRecord } from '../../wire/msgpack.ts'
import { toHex } from '../../util/bytes.ts'
import { decodePost, postRecord, type Post } from './messages.ts'

/** History entries kept per conversation. */
export const HISTORY_KEEP = 1000
/** Outbox entries at most: a DM beyond is refused (LimitError), not queued. */
export const OUTBOX_MAX = 10_000

/** A stored room. */
export interface StoredRoom {
  secret: Uint8Array
  name: string
  /** `.b32.umbra` or base64 destinations to dial. */
  via: string[]
  joined: number
}

/** One history entry: the post, the sealed frame for a room post, and for a DM we sent, its state. */
export interface StoredEntry {
  post: Post
  nonce?: Uint8Array
  sealed?: Uint8Array
  /** For an outgoing DM: queued until acknowledged. */
  state?: 'queued' | 'delivered'
}

/** A DM waiting for its acknowledgement. */
export interface OutboxEntry {
  post: Post
  /** The recipient's base64 destination or `.b32.umbra` address. */
  to: string
  created: number
  tries: number
  next: number
}

const enc = new TextEncoder()
const dec = new TextDecoder()

/** See module doc. */
export class ChatStore {
  private readonly meta: KvBucket
  private readonly rooms: KvBucket
  private readonly history: KvBucket
  private readonly outbox: KvBucket
  private readonly contacts: KvBucket

  constructor (private readonly crypto: CryptoSuite, db: DataStore) {
    this.meta = db.bucket('chat-meta')
    this.rooms = db.bucket('chat-rooms')
    this.history = db.bucket('chat-history')
    this.outbox = db.bucket('chat-outbox')
    this.contacts = db.bucket('chat-contacts')
  }

  /** The nickname, if set. */
  nick (): string | undefined {
    const v = this.meta.get(enc.encode('nick'))
    return v === undefined ? undefined : dec.decode(v)
  }

  async setNick (nick: string): Promise<void> { await this.meta.put(enc.encode('nick'), enc.encode(nick)) }

  /** Every stored room by id hex. Unreadable entries are skipped. */
  listRooms (): StoredRoom[] {
    const out: StoredRoom[] = []
    for (const [, v] of this.rooms.entries()) {
      try {
        const r = unpackRecord(v, 64 * 1024)
        if (!(r.secret instanceof Uint8Array) || typeof r.name !== 'string' || !Array.isArray(r.via)) continue
        out.push({ secret: r.secret, name: r.name, via: r.via.filter((x): x is string => typeof x === 'string'), joined: typeof r.joined === 'number' ? r.joined : 0 })
      } catch { /* skip a damaged entry */ }
    }
    return out
  }

  async putRoom (id: Uint8Array, room: StoredRoom): Promise<void> {
    await this.rooms.put(id, packRecord({ secret: room.secret, name: room.name, via: room.via.slice(0, 16), joined: room.joined }))
  }

  async deleteRoom (id: Uint8Array): Promise<void> { await this.rooms.delete(id) }

  /** Appends to a conversation's history (idempotent by id). */
  async addHistory (conv: Uint8Array, e: StoredEntry): Promise<void> {
    const rec: PlainRecord = { p: postRecord(e.post) }
    if (e.nonce !== undefined && e.sealed !== undefined) { rec.n = e.nonce; rec.c = e.sealed }
    if (e.state !== undefined) rec.st = e.state
    await this.history.put(historyKey(conv, e.post.ts, e.post.id), packRecord(rec))
  }

  /** Whether a post is in a conversation's history. */
  hasHistory (conv: Uint8Array, post: Post): boolean {
    return this.history.get(historyKey(conv, post.ts, post.id)) !== undefined
  }

  /** Marks an outgoing DM delivered in history. */
  async markDelivered (conv: Uint8Array, post: Post): Promise<void> {
    await this.addHistory(conv, { post, state: 'delivered' })
  }

  /** The last `limit` entries of a conversation, oldest first. */
  readHistory (conv: Uint8Array, limit: number): StoredEntry[] {
    const out: StoredEntry[] = []
    for (const [, v] of this.history.entries(convRange(conv))) {
      const e = this.decodeEntry(v)
      if (e !== undefined) out.push(e)
    }
    return out.slice(Math.max(0, out.length - limit))
  }

  /** Conversation ids (hex) with their entry counts. */
  conversations (): Map<string, number> {
    const m = new Map<string, number>()
    for (const [k] of this.history.entries()) {
      const c = toHex(k.subarray(0, 32))
      m.set(c, (m.get(c) ?? 0) + 1)
    }
    return m
  }

  /** Drops the oldest entries of conversations over {@link HISTORY_KEEP}. Returns how many. */
  async trimHistory (): Promise<number> {
    const counts = this.conversations()
    let dropped = 0
    const over = new Map([...counts].filter(([, n]) => n > HISTORY_KEEP).map(([c, n]) => [c, n - HISTORY_KEEP]))
    if (over.size === 0) return 0
    const doomed: Uint8Array[] = []
    for (const [k] of this.history.entries()) {
      const c = toHex(k.subarray(0, 32))
      const left = over.get(c) ?? 0
      if (left > 0) { doomed.push(k.slice()); over.set(c, left - 1) }
    }
    for (const k of doomed) { await this.history.delete(k); dropped++ }
    return dropped
  }

  /** Every outbox entry. */
  listOutbox (): OutboxEntry[] {
    const out: OutboxEntry[] = []
    for (const [, v] of this.outbox.entries()) {
      const e = this.decodeOutbox(v)
      if (e !== undefined) out.push(e)
    }
    return out
  }

  /** The outbox entry of a DM id, if it is still there. */
  getOutbox (id: Uint8Array): OutboxEntry | undefined {
    const v = this.outbox.get(id)
    return v === undefined ? undefined : this.decodeOutbox(v)
  }

  private decodeOutbox (v: Uint8Array): OutboxEntry | undefined {
    try {
      const r = unpackRecord(v, 64 * 1024)
      if (typeof r.to !== 'string' || typeof r.created !== 'number' || typeof r.tries !== 'number' || typeof r.next !== 'number') return undefined
      if (r.p === null || typeof r.p !== 'object' || Array.isArray(r.p) || r.p instanceof Uint8Array) return undefined
      return { post: decodePost(this.crypto, r.p), to: r.to, created: r.created, tries: r.tries, next: r.next }
    } catch { return undefined }
  }

  async putOutbox (e: OutboxEntry): Promise<void> {
    await this.outbox.put(e.post.id, packRecord({ p: postRecord(e.post), to: e.to, created: e.created, tries: e.tries, next: e.next }))
  }

  async deleteOutbox (id: Uint8Array): Promise<void> { await this.outbox.delete(id) }

  outboxSize (): number { return this.outbox.count() }

  /** A contact's base64 destination and nickname by destination hash. */
  contact (hash: Uint8Array): { dest: string, nick: string } | undefined {
    const v = this.contacts.get(hash)
    if (v === undefined) return undefined
    try {
      const r = unpackRecord(v, 8 * 1024)
      return typeof r.dest === 'string' && typeof r.nick === 'string' ? { dest: r.dest, nick: r.nick } : undefined
    } catch { return undefined }
  }

  /** Every contact. */
  listContacts (): Array<{ hash: Uint8Array, dest: string, nick: string }> {
    const out: Array<{ hash: Uint8Array, dest: string, nick: string }> = []
    for (const [k] of this.contacts.entries()) {
      const c = this.contact(k)
      if (c !== undefined) out.push({ hash: k.slice(), ...c })
    }
    return out
  }

  async putContact (hash: Uint8Array, dest: string, nick: string): Promise<void> {
    const old = this.contact(hash)
    if (old !== undefined && old.dest === dest && old.nick === nick) return
    await this.contacts.put(hash, packRecord({ dest, nick }))
  }

  private decodeEntry (v: Uint8Array): StoredEntry | undefined {
    try {
      const r = unpackRecord(v, 64 * 1024)
      if (r.p === null || typeof r.p !== 'object' || Array.isArray(r.p) || r.p instanceof Uint8Array) return undefined
      const e: StoredEntry = { post: decodePost(this.crypto, r.p) }
      if (r.n instanceof Uint8Array && r.c instanceof Uint8Array) { e.nonce = r.n; e.sealed = r.c }
      if (r.st === 'queued' || r.st === 'delivered') e.state = r.st
      return e
    } catch { return undefined }
  }
}

/** The keys of one conversation: from `conv || 0…` up to (excluded) the next conversation id. */
function convRange (conv: Uint8Array): { start: Uint8Array, end?: Uint8Array } {
  const end = conv.slice()
  let i = end.length - 1
  while (i >= 0 && end[i] === 0xff) end[i--] = 0
  if (i < 0) return { start: conv }
  end[i]!++
  return { start: conv, end }
}

/** `conv || ts u64 BE || id`. */
export function historyKey (conv: Uint8Array, ts: number, id: Uint8Array): Uint8Array {
  const k = new Uint8Array(32 + 8 + 16)
  k.set(conv, 0)
  new DataView(k.buffer).setBigUint64(32, BigInt(ts))
  k.set(id, 40)
  return k
}
