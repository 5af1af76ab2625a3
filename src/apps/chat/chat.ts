/**
 * The chat engine: direct messages and rooms between chat identities, over whatever opens
 * streams to destinations ({@link ChatTransport}: SAM in production, TCP in tests).
 *
 * - **Direct messages** are signed posts sent straight to the recipient's destination (the
 *   routers encrypt streams end to end) and answered with an `ack`. Until then they wait in the
 *   durable outbox and are retried with backoff (5 s doubling to 60 s) for up to
 *   {@link OUTBOX_TTL_MS}; a message to an offline peer arrives when it comes back.
 * - **Rooms** have no server: each member keeps links to up to {@link DEGREE} others (members it
 *   has seen, then the invite's addresses), proving the room key with `join`; a room post is
 *   sealed with the room key, signed by its author, and flooded over those links with
 *   de-duplication, so the room works as long as its members are connected to each other. A
 *   joiner gets the members and recent history from the peer it joins through.
 * - **Bad input** (malformed, unsigned or forged posts, wrong keys, floods) is dropped and
 *   counted in {@link ChatCore.status}; an author over its rate is limited at every member.
 *
 * Everything a user sends or receives is stored (`store.ts`) before it is shown or acknowledged.
 */
import { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import type { CryptoSuite } from '../../crypto/index.ts'
import type { PlainRecord } from '../../wire/msgpack.ts'
import { base64I2pDecode, base64I2pEncode } from '../../wire/base64i2p.ts'
import { base32Encode } from '../../wire/base32.ts'
import { fromHex, toHex } from '../../util/bytes.ts'
import { ConfigError, DecodeError, LimitError } from '../../util/errors.ts'
import { silentLogger, type Logger } from '../../util/log.ts'
import { B32_SUFFIX, isB32Address, parseB32Address, type DestinationKeys } from '../../identity/destination.ts'
import { isBase64Destination } from '../../api/client/address.ts'
import { MAX_FUTURE_MS, checkNick, checkText, decodeFrame, decodePost, postRecord, signPost, verifyPost, type Frame, type Post, type PostKind } from './messages.ts'
import { HISTORY_MAX, RoomState, joinProof, openSealed, sealPost, type HistoryItem } from './room.ts'
import { checkRoomName, formatInvite, parseInvite } from './invite.ts'
import { ChatStore, OUTBOX_MAX, type OutboxEntry } from './store.ts'
import { Link } from './link.ts'
import { TokenBucket } from '../../util/token-bucket.ts'

/** Links kept per room. */
export const DEGREE = 4
/** How long an undelivered DM is retried. */
export const OUTBOX_TTL_MS = 7 * 24 * 3600_000
const RETRY_FIRST_MS = 5_000
const RETRY_MAX_MS = 60_000
const LINK_IDLE_MS = 120_000
const DIAL_BACKOFF_MS = 30_000
const MAX_LINKS = 64
/** Links to one peer at most. */
const LINKS_PER_PEER = 2
/** DMs accepted from one sender: per second, and burst. */
export const DM_RATE = 5
export const DM_BURST = 50
const DM_SENDERS_MAX = 4096
/** How often stored history is trimmed to its bound. */
const TRIM_EVERY_MS = 10 * 60_000

/** Opens streams to other chat identities. */
export interface ChatTransport {
  /** A stream to `to` (base64 destination or `.b32.umbra`) and the peer's base64 destination. */
  dial: (to: string, signal: AbortSignal) => Promise<{ socket: Duplex, remote: string }>
}

/** What the engine tells its users (the local API turns these into JSON lines). */
export type ChatEvent =
  | { type: 'message', id: string, kind: PostKind, room?: string, roomName?: string, from: string, nick: string, to?: string, ts: number, text: string, self: boolean, history: boolean }
  | { type: 'delivered', id: string, to: string }
  | { type: 'expired', id: string, to: string }
  | { type: 'status', online: boolean }

/** Why input was dropped (counted). */
export type DropReason = 'malformed' | 'forged' | 'wrong-recipient' | 'wrong-room' | 'unknown-room' | 'bad-seal' | 'bad-proof' | 'future' | 'stale' | 'rate-limited' | 'link-rate' | 'slow-peer' | 'unknown-op' | 'unasked' | 'too-many-links'

/** Settings of {@link ChatCore}. */
export interface ChatCoreOptions {
  crypto: CryptoSuite
  store: ChatStore
  keys: DestinationKeys
  nick: string
  log?: Logger
  now?: () => number
  /** Time to open a stream (ms, default 30 000) and to wait for an ack or welcome (default 30 000). */
  dialTimeoutMs?: number
  replyTimeoutMs?: number
}

interface Room { state: RoomState, via: string[], announced: boolean, joined: number }

/** See module doc. */
export class ChatCore extends EventEmitter<{ event: [ChatEvent] }> {
  readonly self: string
  readonly selfHash: Uint8Array
  readonly address: string
  nick: string
  readonly dropped: Partial<Record<DropReason, number>> = {}
  readonly counts = { dmSent: 0, dmReceived: 0, roomSent: 0, roomReceived: 0, relayed: 0, duplicates: 0 }
  private transport: ChatTransport | undefined
  private readonly rooms = new Map<string, Room>()
  /** The link used to reach each peer (by destination hash hex). */
  private readonly links = new Map<string, Link>()
  /** Every open link (a peer may have two: both dialled at once). */
  private readonly allLinks = new Set<Link>()
  private readonly dialing = new Map<string, Promise<Link>>()
  private readonly dialFailed = new Map<string, number>()
  /** DM id (hex) → wakes its attempt with whether it was acknowledged. */
  private readonly acks = new Map<string, (ok: boolean) => void>()
  /** DM ids acknowledged lately (an attempt that timed out meanwhile must not re-queue them). */
  private readonly acked = new Set<string>()
  private readonly welcomes = new Map<string, Set<(ok: boolean) => void>>()
  private readonly sending = new Set<string>()
  /** Per sender (hash hex): DMs accepted, a token bucket (bounded map, least recent forgotten). */
  private readonly dmBuckets = new Map<string, TokenBucket>()
  private lastTrim = 0
  private readonly stop = new AbortController()
  private readonly crypto: CryptoSuite
  private readonly store: ChatStore
  private readonly log: Logger
  private readonly now: () => number
  private readonly dialTimeoutMs: number
  private readonly replyTimeoutMs: number

  constructor (private readonly opts: ChatCoreOptions) {
    super()
    this.crypto = opts.crypto
    this.store = opts.store
    this.log = opts.log ?? silentLogger
    this.now = opts.now ?? Date.now
    this.nick = checkNick(opts.nick)
    this.self = base64I2pEncode(opts.keys.destination.bytes)
    this.selfHash = this.crypto.sha256(opts.keys.destination.bytes)
    this.address = base32Encode(this.selfHash) + B32_SUFFIX
    this.dialTimeoutMs = opts.dialTimeoutMs ?? 30_000
    this.replyTimeoutMs = opts.replyTimeoutMs ?? 30_000
    for (const r of this.store.listRooms()) {
      const room = this.addRoom(r.secret, r.name, r.via, r.joined, true)
      const items: HistoryItem[] = []
      for (const e of this.store.readHistory(room.state.keys.id, 200)) {
        if (e.nonce !== undefined && e.sealed !== undefined) items.push({ post: e.post, nonce: e.nonce, sealed: e.sealed })
      }
      room.state.restore(items, p => base64I2pEncode(p.author), this.now())
    }
  }

  /** Whether streams can be opened. */
  get online (): boolean { return this.transport !== undefined }

  /** Sets (or, with undefined, clears) how streams are opened; links are dropped when it goes. */
  setTransport (t: ChatTransport | undefined): void {
    this.transport = t
    if (t === undefined) for (const l of [...this.links.values()]) l.close()
    this.emit('event', { type: 'status', online: t !== undefined })
    if (t !== undefined) void this.tick().catch((err: unknown) => { this.log.warn('chat round failed', { error: String(err) }) })
  }

  /** Takes an incoming stream from `remote` (base64 destination). */
  accept (socket: Duplex, remote: string): void {
    let hash: string
    try { hash = toHex(this.crypto.sha256(base64I2pDecode(remote, 1024))) } catch { socket.destroy(); return }
    if (this.allLinks.size >= MAX_LINKS && !this.evictIdle()) { this.drop('too-many-links'); socket.destroy(); return }
    this.adopt(socket, remote, hash, false)
  }

  /** Changes the nickname (used on later posts). */
  async setNick (nick: string): Promise<void> {
    this.nick = checkNick(nick)
    await this.store.setNick(nick)
  }

  // ---- direct messages ----

  /**
   * Sends a direct message to `to` (`.b32.umbra`, base64 destination or a known nickname).
   * Resolves once stored and first tried: 'delivered' if acknowledged within `waitMs`
   * (default the reply timeout), else 'queued' (it keeps being retried).
   */
  async sendDm (to: string, text: string, waitMs?: number): Promise<{ id: string, to: string, state: 'delivered' | 'queued' }> {
    const target = this.resolveRecipient(to)
    if (this.crypto.equal(target.hash, this.selfHash)) throw new ConfigError('that is your own address')
    if (this.store.outboxSize() >= OUTBOX_MAX) throw new LimitError(`${OUTBOX_MAX} messages are waiting for delivery already; try again later`)
    const post = signPost(this.crypto, { kind: 'dm', conv: target.hash, author: this.opts.keys.destination.bytes, nick: this.nick, ts: this.now(), text: checkText(text) }, this.opts.keys.signing.secretKey)
    // The first try is this call's; a background round takes it up only if that try is lost (a crash).
    const entry: OutboxEntry = { post, to: target.dial, created: post.ts, tries: 0, next: post.ts + this.dialTimeoutMs + (waitMs ?? this.replyTimeoutMs) }
    await this.store.addHistory(target.hash, { post, state: 'queued' })
    await this.store.putOutbox(entry)
    this.counts.dmSent++
    const id = toHex(post.id)
    const addr = base32Encode(target.hash) + B32_SUFFIX
    this.emit('event', { type: 'message', id, kind: 'dm', from: this.address, nick: this.nick, to: addr, ts: post.ts, text: post.text, self: true, history: false })
    const delivered = await this.attempt(entry, waitMs)
    return { id, to: addr, state: delivered ? 'delivered' : 'queued' }
  }

  private resolveRecipient (to: string): { hash: Uint8Array, dial: string } {
    const s = to.trim()
    if (isB32Address(s)) {
      const hash = parseB32Address(s)
      return { hash, dial: this.store.contact(hash)?.dest ?? s }
    }
    if (isBase64Destination(s)) return { hash: this.crypto.sha256(base64I2pDecode(s, 1024)), dial: s }
    const matches = this.store.listContacts().filter(c => c.nick === s)
    if (matches.length === 1) return { hash: matches[0]!.hash, dial: matches[0]!.dest }
    if (matches.length > 1) throw new ConfigError(`${matches.length} contacts are called '${s.slice(0, 40)}': use an address`)
    throw new ConfigError(`'${s.slice(0, 60)}' is not a .b32.umbra address, a destination or a known nickname`)
  }

  /** One delivery attempt of an outbox entry; true if acknowledged. Reschedules on failure. */
  private async attempt (e: OutboxEntry, waitMs = this.replyTimeoutMs): Promise<boolean> {
    const id = toHex(e.post.id)
    if (this.sending.has(id) || this.stop.signal.aborted) return false
    this.sending.add(id)
    let timer: NodeJS.Timeout | undefined
    try {
      const acked = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => { resolve(false) }, waitMs)
        this.acks.set(id, resolve)
      })
      let ok = false
      try {
        const link = await this.connect(e.to)
        ok = link.send({ op: 'dm', post: e.post }) && await acked
      } catch (err) {
        this.log.debug('chat: dm not delivered yet', { error: err instanceof Error ? err.message : String(err) })
      }
      if (ok || this.acked.has(id)) return true
      // Still queued: schedule the next try (unless it expired, or we are stopping).
      if (this.stop.signal.aborted || this.store.getOutbox(e.post.id) === undefined) return false
      e.tries++
      e.next = this.now() + Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(e.tries - 1, 10))
      if (this.now() - e.created > OUTBOX_TTL_MS) {
        await this.store.deleteOutbox(e.post.id)
        this.emit('event', { type: 'expired', id, to: base32Encode(e.post.conv) + B32_SUFFIX })
      } else if (!this.acked.has(id)) {
        await this.store.putOutbox(e)
      }
      return false
    } finally {
      clearTimeout(timer)
      this.acks.delete(id)
      this.sending.delete(id)
    }
  }

  /** An ack: the DM leaves the outbox and is marked delivered (even if its attempt timed out). */
  private async onAck (idBytes: Uint8Array): Promise<void> {
    const id = toHex(idBytes)
    if (this.acked.has(id)) return
    const e = this.store.getOutbox(idBytes)
    if (e === undefined) return
    this.acked.add(id)
    if (this.acked.size > 4096) this.acked.delete(this.acked.values().next().value!)
    this.acks.get(id)?.call(undefined, true)
    await this.store.deleteOutbox(idBytes)
    await this.store.markDelivered(e.post.conv, e.post)
    this.emit('event', { type: 'delivered', id, to: base32Encode(e.post.conv) + B32_SUFFIX })
  }

  private async onDm (link: Link, post: Post): Promise<void> {
    if (!this.crypto.equal(post.conv, this.selfHash)) { this.drop('wrong-recipient'); return }
    if (!this.crypto.equal(post.author, base64I2pDecode(link.remote, 1024))) { this.drop('forged'); return }
    if (!verifyPost(this.crypto, post)) { this.drop('forged'); return }
    if (post.ts > this.now() + MAX_FUTURE_MS) { this.drop('future'); return }
    const from = this.crypto.sha256(post.author)
    const fresh = !this.store.hasHistory(from, post)
    if (fresh && !this.takeDm(link.remoteHash)) { this.drop('rate-limited'); return }
    if (fresh) {
      await this.store.addHistory(from, { post })
      await this.store.putContact(from, link.remote, post.nick)
      this.counts.dmReceived++
    }
    link.send({ op: 'ack', id: post.id })
    if (fresh) this.emit('event', { type: 'message', id: toHex(post.id), kind: 'dm', from: base32Encode(from) + B32_SUFFIX, nick: post.nick, to: this.address, ts: post.ts, text: post.text, self: false, history: false })
  }

  // ---- rooms ----

  /** Creates a room; returns its id and invite. */
  async createRoom (name: string): Promise<{ room: string, invite: string }> {
    const room = this.addRoom(this.crypto.randomBytes(32), checkRoomName(name), [], this.now(), false)
    room.announced = true
    await this.saveRoom(room)
    await this.post(room, 'join', '')
    return { room: room.state.idHex, invite: this.invite(room.state.idHex) }
  }

  /**
   * Joins the room of an invite: stores it, connects to its members and waits (up to `waitMs`,
   * default the reply timeout) until one welcomes us. Returns whether one did; the room is kept
   * and retried either way.
   */
  async joinRoom (inviteText: string, waitMs = this.replyTimeoutMs): Promise<{ room: string, name: string, connected: boolean }> {
    const inv = parseInvite(inviteText)
    const id = toHex(new RoomState(this.crypto, inv.secret, inv.name).keys.id)
    let room = this.rooms.get(id)
    if (room === undefined) {
      room = this.addRoom(inv.secret, inv.name, inv.via.filter(v => v !== this.address), this.now(), false)
      await this.saveRoom(room)
    }
    const r = room
    const connected = this.roomLinks(r).length > 0 || await new Promise<boolean>((resolve) => {
      const waiters = this.welcomes.get(id) ?? new Set()
      this.welcomes.set(id, waiters)
      const done = (ok: boolean): void => {
        clearTimeout(timer)
        waiters.delete(done)
        if (waiters.size === 0 && this.welcomes.get(id) === waiters) this.welcomes.delete(id)
        resolve(ok)
      }
      const timer = setTimeout(() => { done(false) }, waitMs)
      waiters.add(done)
      void this.mesh(r).catch(() => {})
    })
    return { room: id, name: room.state.name, connected }
  }

  /** Posts `leave`, tells linked members, forgets the room. */
  async leaveRoom (ref: string): Promise<void> {
    const room = this.findRoom(ref)
    await this.post(room, 'leave', '')
    for (const l of this.roomLinks(room)) { l.send({ op: 'part', room: room.state.keys.id }); l.rooms.delete(room.state.idHex) }
    this.rooms.delete(room.state.idHex)
    await this.store.deleteRoom(room.state.keys.id)
  }

  /** Posts `text` in a room. */
  async say (ref: string, text: string): Promise<{ id: string, room: string }> {
    const room = this.findRoom(ref)
    const post = await this.post(room, 'say', checkText(text))
    return { id: toHex(post.id), room: room.state.idHex }
  }

  /** The invite of a room: its secret, name, and this member plus up to 7 members seen lately. */
  invite (ref: string): string {
    const room = this.findRoom(ref)
    const via = [this.address]
    for (const m of room.state.present()) {
      if (via.length >= 8) break
      const addr = this.addressOf(m.dest)
      if (addr !== undefined && !via.includes(addr)) via.push(addr)
    }
    for (const v of room.via) if (via.length < 8 && !via.includes(v) && isB32Address(v)) via.push(v)
    return formatInvite({ secret: room.state.secret, name: room.state.name, via })
  }

  /** A room by id (hex, or a prefix of at least 6), name, or `#name`. Throws ConfigError. */
  findRoom (ref: string): Room {
    const r = ref.startsWith('#') ? ref.slice(1) : ref
    const byId = this.rooms.get(r.toLowerCase())
    if (byId !== undefined) return byId
    const all = [...this.rooms.values()]
    const named = all.filter(x => x.state.name === r)
    if (named.length === 1) return named[0]!
    const prefixed = r.length >= 6 ? all.filter(x => x.state.idHex.startsWith(r.toLowerCase())) : []
    if (prefixed.length === 1) return prefixed[0]!
    throw new ConfigError(named.length > 1 ? `${named.length} rooms are called '${r.slice(0, 40)}': use the id` : `no room '${r.slice(0, 64)}'`)
  }

  /** Rooms joined, with their members and how many links carry them. */
  listRooms (): Array<{ id: string, name: string, links: number, members: Array<{ address: string, nick: string, seen: number, self: boolean }> }> {
    return [...this.rooms.values()].map(r => ({
      id: r.state.idHex,
      name: r.state.name,
      links: this.roomLinks(r).length,
      members: r.state.present().map(m => ({ address: this.addressOf(m.dest) ?? '?', nick: m.nick, seen: m.seen, self: m.dest === this.self }))
    }))
  }

  /** Stored history of a room (ref) or a DM peer (address), oldest first, as message events. */
  history (ref: string, limit = 50): ChatEvent[] {
    let conv: Uint8Array
    let room: Room | undefined
    try {
      room = this.findRoom(ref)
      conv = room.state.keys.id
    } catch (err) {
      if (!isB32Address(ref) && !isBase64Destination(ref)) throw err
      conv = this.resolveRecipient(ref).hash
    }
    return this.store.readHistory(conv, Math.max(1, Math.min(1000, limit))).map(e => this.messageEvent(e.post, room, true))
  }

  /** Counters and state for `umbra chat status`. */
  status (): Record<string, unknown> {
    return {
      online: this.online,
      address: this.address,
      nick: this.nick,
      rooms: this.listRooms().map(r => ({ id: r.id, name: r.name, links: r.links, members: r.members.length })),
      links: this.allLinks.size,
      outbox: this.store.outboxSize(),
      counts: { ...this.counts },
      dropped: { ...this.dropped }
    }
  }

  /**
   * Periodic work (the node calls it every few seconds): retry due DMs, keep every room's links
   * up, close idle links.
   */
  async tick (): Promise<void> {
    if (this.transport === undefined || this.stop.signal.aborted) return
    const now = this.now()
    for (const l of [...this.allLinks]) {
      if (l.rooms.size === 0 && now - l.lastActive > LINK_IDLE_MS) l.close()
      // A join that got no welcome within the reply timeout: give up on that peer for a while.
      for (const [room, at] of l.joining) {
        if (now - at > this.replyTimeoutMs) { l.joining.delete(room); this.dialFailed.set(l.remoteHash, now + DIAL_BACKOFF_MS) }
      }
    }
    for (const [k, until] of this.dialFailed) if (until <= now) this.dialFailed.delete(k)
    if (now - this.lastTrim > TRIM_EVERY_MS) {
      this.lastTrim = now
      void this.store.trimHistory().catch(() => {})
    }
    // Deliveries run on their own (an unreachable peer takes a dial timeout plus a reply timeout):
    // they must not hold up the rooms' links. `attempt` skips an entry already being sent.
    for (const e of this.store.listOutbox().filter(e => e.next <= now).slice(0, 32)) {
      void this.attempt(e).catch((err: unknown) => { this.log.warn('chat: delivery failed', { error: String(err) }) })
    }
    await Promise.all([...this.rooms.values()].map(async r => { await this.mesh(r) }))
  }

  /** Stops: closes links, fails waiters. Stored state stays. */
  close (): void {
    this.stop.abort()
    this.transport = undefined
    for (const l of [...this.allLinks]) l.close()
    for (const ws of [...this.welcomes.values()]) for (const w of [...ws]) w(false)
    for (const a of [...this.acks.values()]) a(false)
  }

  private addRoom (secret: Uint8Array, name: string, via: string[], joined: number, announced: boolean): Room {
    const state = new RoomState(this.crypto, secret, name)
    const room: Room = { state, via, announced, joined }
    this.rooms.set(state.idHex, room)
    state.noteMember(this.self, this.nick, 0)
    return room
  }

  private async saveRoom (room: Room): Promise<void> {
    await this.store.putRoom(room.state.keys.id, { secret: room.state.secret, name: room.state.name, via: room.via, joined: room.joined })
  }

  private async post (room: Room, kind: PostKind, text: string): Promise<Post> {
    const post = signPost(this.crypto, { kind, conv: room.state.keys.id, author: this.opts.keys.destination.bytes, nick: this.nick, ts: this.now(), text }, this.opts.keys.signing.secretKey)
    const { nonce, sealed } = sealPost(this.crypto, room.state.keys, postRecord(post))
    room.state.accept({ post, nonce, sealed }, this.self, post.ts, true)
    await this.store.addHistory(room.state.keys.id, { post, nonce, sealed })
    this.counts.roomSent++
    this.emit('event', this.messageEvent(post, room, false))
    for (const l of this.roomLinks(room)) l.send({ op: 'room', room: room.state.keys.id, nonce, sealed, history: false })
    return post
  }

  private async onRoomFrame (link: Link, f: Extract<Frame, { op: 'room' }>): Promise<void> {
    const room = this.rooms.get(toHex(f.room))
    if (room === undefined || !link.rooms.has(room.state.idHex)) { this.drop('unknown-room'); return }
    let record: PlainRecord
    try { record = openSealed(this.crypto, room.state.keys, f.nonce, f.sealed) } catch { this.drop('bad-seal'); return }
    let post: Post
    try { post = decodePost(this.crypto, record) } catch { this.drop('malformed'); return }
    if (post.kind === 'dm') { this.drop('malformed'); return }
    if (!this.crypto.equal(post.conv, room.state.keys.id)) { this.drop('wrong-room'); return }
    if (!verifyPost(this.crypto, post)) { this.drop('forged'); return }
    if (post.ts > this.now() + MAX_FUTURE_MS) { this.drop('future'); return }
    const author = base64I2pEncode(post.author)
    const item = { post, nonce: f.nonce, sealed: f.sealed }
    // History (exempt from the rate limit, not relayed) only as the answer to our own join.
    const now = this.now()
    const budget = link.historyBudget.get(room.state.idHex)
    const history = f.history && budget !== undefined && budget.left > 0 && now < budget.until
    if (history) budget.left--
    if (this.store.hasHistory(room.state.keys.id, post)) { this.counts.duplicates++; return }
    const verdict = room.state.accept(item, author, now, history)
    if (verdict === 'duplicate') { this.counts.duplicates++; return }
    if (verdict === 'limited') { this.drop('rate-limited'); return }
    if (verdict === 'stale') { this.drop('stale'); return }
    await this.store.addHistory(room.state.keys.id, item)
    this.counts.roomReceived++
    this.emit('event', this.messageEvent(post, room, history))
    if (history) return
    for (const l of this.roomLinks(room)) {
      if (l !== link) { l.send({ op: 'room', room: f.room, nonce: f.nonce, sealed: f.sealed, history: false }); this.counts.relayed++ }
    }
  }

  private onJoin (link: Link, f: Extract<Frame, { op: 'join' }>): void {
    const room = this.rooms.get(toHex(f.room))
    if (room === undefined) { link.send({ op: 'deny', room: f.room }); this.drop('unknown-room'); return }
    const expected = joinProof(this.crypto, room.state.keys, fromHex(link.remoteHash), this.selfHash)
    if (!this.crypto.equal(expected, f.proof)) { link.send({ op: 'deny', room: f.room }); this.drop('bad-proof'); return }
    link.rooms.add(room.state.idHex)
    const members = room.state.present().slice(0, 32).flatMap((m) => {
      try { return [base64I2pDecode(m.dest, 1024)] } catch { return [] }
    })
    link.send({ op: 'welcome', room: f.room, proof: joinProof(this.crypto, room.state.keys, this.selfHash, fromHex(link.remoteHash)), members })
    for (const item of room.state.since(f.since)) link.send({ op: 'room', room: f.room, nonce: item.nonce, sealed: item.sealed, history: true })
  }

  private onWelcome (link: Link, f: Extract<Frame, { op: 'welcome' }>): void {
    const room = this.rooms.get(toHex(f.room))
    if (room === undefined || !link.joining.has(room.state.idHex)) { this.drop('unasked'); return }
    const expected = joinProof(this.crypto, room.state.keys, fromHex(link.remoteHash), this.selfHash)
    if (!this.crypto.equal(expected, f.proof)) { this.drop('bad-proof'); link.joining.delete(room.state.idHex); return }
    link.joining.delete(room.state.idHex)
    link.rooms.add(room.state.idHex)
    for (const m of f.members) room.state.noteMember(base64I2pEncode(m), '', 0)
    for (const w of [...this.welcomes.get(room.state.idHex) ?? []]) w(true)
    if (!room.announced) {
      room.announced = true
      void this.post(room, 'join', '').catch(() => {})
    }
  }

  /** Keeps up to DEGREE links carrying `room`, dialling members and then the invite's addresses. */
  private async mesh (room: Room): Promise<void> {
    if (this.transport === undefined) return
    const have = this.roomLinks(room)
    let want = DEGREE - have.length
    if (want <= 0) return
    const linked = new Set(have.map(l => l.remoteHash))
    const now = this.now()
    const candidates: string[] = []
    for (const m of room.state.present()) if (m.dest !== this.self) candidates.push(m.dest)
    for (const v of room.via) candidates.push(v)
    const tries: Array<Promise<void>> = []
    for (const c of candidates) {
      if (want <= 0) break
      const hash = this.hashOf(c)
      if (hash === undefined || hash === toHex(this.selfHash) || linked.has(hash) || this.dialing.has(hash)) continue
      if (this.links.get(hash)?.joining.has(room.state.idHex) === true) continue
      if ((this.dialFailed.get(hash) ?? 0) > now) continue
      linked.add(hash)
      want--
      tries.push(this.joinVia(room, c, hash))
    }
    await Promise.all(tries)
  }

  private async joinVia (room: Room, to: string, hash: string): Promise<void> {
    try {
      const link = await this.connect(to)
      if (link.rooms.has(room.state.idHex)) return
      const latest = room.state.history.at(-1)?.post.ts ?? 0
      if (link.joining.has(room.state.idHex)) return
      link.joining.set(room.state.idHex, this.now())
      link.historyBudget.set(room.state.idHex, { left: HISTORY_MAX, until: this.now() + this.replyTimeoutMs + 60_000 })
      link.send({ op: 'join', room: room.state.keys.id, proof: joinProof(this.crypto, room.state.keys, this.selfHash, fromHex(link.remoteHash)), since: Math.max(0, latest - 1) })
    } catch {
      this.dialFailed.set(hash, this.now() + DIAL_BACKOFF_MS)
    }
  }

  // ---- links ----

  /** An open link to `to`, reusing one if there is; dials otherwise (one dial per peer at a time). */
  private async connect (to: string): Promise<Link> {
    const hash = this.hashOf(to)
    if (hash === undefined) throw new DecodeError(`not an address: ${to.slice(0, 60)}`)
    const open = this.links.get(hash)
    if (open?.isOpen === true) return open
    const pending = this.dialing.get(hash)
    if (pending !== undefined) return await pending
    const t = this.transport
    if (t === undefined) throw new ConfigError('chat is offline (no SAM session yet)')
    const p = (async () => {
      const signal = AbortSignal.any([this.stop.signal, AbortSignal.timeout(this.dialTimeoutMs)])
      const { socket, remote } = await t.dial(to, signal)
      const remoteHash = toHex(this.crypto.sha256(base64I2pDecode(remote, 1024)))
      if (remoteHash !== hash) { socket.destroy(); throw new DecodeError('dialled peer is not who was asked for') }
      this.dialFailed.delete(hash)
      return this.adopt(socket, remote, hash, true)
    })()
    this.dialing.set(hash, p)
    try { return await p } finally { this.dialing.delete(hash) }
  }

  private adopt (socket: Duplex, remote: string, hash: string, outgoing: boolean): Link {
    // At most LINKS_PER_PEER to one peer: the oldest that carries no room makes way.
    const same = [...this.allLinks].filter(l => l.remoteHash === hash)
    if (same.length >= LINKS_PER_PEER) (same.find(l => l.rooms.size === 0) ?? same[0]!).close()
    const link = new Link(socket, remote, hash, outgoing, {
      frame: (l, r) => { this.onFrame(l, r) },
      drop: (reason) => { this.drop(reason) },
      close: (l) => {
        this.allLinks.delete(l)
        if (this.links.get(l.remoteHash) !== l) return
        this.links.delete(l.remoteHash)
        // The peer's other link, if any, takes over.
        for (const o of this.allLinks) if (o.remoteHash === l.remoteHash) { this.links.set(o.remoteHash, o); break }
      }
    }, this.now)
    this.allLinks.add(link)
    const old = this.links.get(hash)
    // Keep an existing link that carries rooms; both stay usable until one closes.
    if (old === undefined || !old.isOpen || old.rooms.size === 0) this.links.set(hash, link)
    return link
  }

  /** Closes the least recently active link that carries no room; false if there is none. */
  private evictIdle (): boolean {
    let victim: Link | undefined
    for (const l of this.allLinks) if (l.rooms.size === 0 && (victim === undefined || l.lastActive < victim.lastActive)) victim = l
    victim?.close()
    return victim !== undefined
  }

  /** Takes a DM token of sender `hash`. */
  private takeDm (hash: string): boolean {
    const now = this.now()
    let b = this.dmBuckets.get(hash)
    if (b === undefined) {
      if (this.dmBuckets.size >= DM_SENDERS_MAX) this.dmBuckets.delete(this.dmBuckets.keys().next().value!)
      b = new TokenBucket(DM_RATE, DM_BURST, now)
    } else {
      this.dmBuckets.delete(hash)
    }
    this.dmBuckets.set(hash, b)
    return b.take(1, now)
  }

  private onFrame (link: Link, r: PlainRecord): void {
    let f: Frame
    try { f = decodeFrame(this.crypto, r) } catch (err) {
      this.drop(err instanceof DecodeError && err.message.startsWith('unknown op') ? 'unknown-op' : 'malformed')
      return
    }
    switch (f.op) {
      case 'dm': void this.onDm(link, f.post).catch(err => { this.log.warn('chat: dm not stored', { error: String(err) }) }); break
      case 'ack': void this.onAck(f.id).catch(err => { this.log.warn('chat: ack not stored', { error: String(err) }) }); break
      case 'room': void this.onRoomFrame(link, f).catch(err => { this.log.warn('chat: room post not stored', { error: String(err) }) }); break
      case 'join': this.onJoin(link, f); break
      case 'welcome': this.onWelcome(link, f); break
      case 'deny': {
        const id = toHex(f.room)
        if (!link.joining.has(id)) break
        link.joining.delete(id)
        link.rooms.delete(id)
        this.dialFailed.set(link.remoteHash, this.now() + DIAL_BACKOFF_MS)
        break
      }
      case 'part': link.rooms.delete(toHex(f.room)); break
    }
  }

  private roomLinks (room: Room): Link[] {
    const out: Link[] = []
    for (const l of this.allLinks) if (l.isOpen && l.rooms.has(room.state.idHex)) out.push(l)
    return out
  }

  private drop (reason: DropReason): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1
  }

  private hashOf (dest: string): string | undefined {
    try {
      return isB32Address(dest) ? toHex(parseB32Address(dest)) : toHex(this.crypto.sha256(base64I2pDecode(dest, 1024)))
    } catch { return undefined }
  }

  private addressOf (b64: string): string | undefined {
    try { return base32Encode(this.crypto.sha256(base64I2pDecode(b64, 1024))) + B32_SUFFIX } catch { return undefined }
  }

  private messageEvent (post: Post, room: Room | undefined, history: boolean): ChatEvent {
    const fromHash = this.crypto.sha256(post.author)
    const self = this.crypto.equal(fromHash, this.selfHash)
    return {
      type: 'message',
      id: toHex(post.id),
      kind: post.kind,
      ...(room !== undefined ? { room: room.state.idHex, roomName: room.state.name } : { to: base32Encode(post.conv) + B32_SUFFIX }),
      from: base32Encode(fromHash) + B32_SUFFIX,
      nick: post.nick,
      ts: post.ts,
      text: post.text,
      self,
      history
    }
  }
}
