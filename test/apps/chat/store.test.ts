/**
 * Chat's persistent state (apps/chat/store.ts) on a real LMDB database in a temp directory:
 * the nickname, rooms, per-conversation history (time order, limits, idempotence, delivery
 * state, trimming to HISTORY_KEEP), the outbox, contacts, damaged entries skipped, and
 * everything surviving a close and reopen.
 */
import t from 'tap'
import type { Test } from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadCrypto } from '../../../src/crypto/index.ts'
import { destinationToBase64, generateDestination, type DestinationKeys } from '../../../src/identity/destination.ts'
import { signPost, verifyPost, type Post, type PostKind } from '../../../src/apps/chat/messages.ts'
import { ChatStore, HISTORY_KEEP, historyKey, type OutboxEntry, type StoredEntry } from '../../../src/apps/chat/store.ts'
import { openDataStore } from '../../../src/util/datastore.ts'
import type { DataStore } from '../../../src/util/kv.ts'
import { packRecord } from '../../../src/wire/msgpack.ts'

const crypto = await loadCrypto()
const T0 = 1_700_000_000_000
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
const filled = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v)

const alice = generateDestination(crypto)
const bob = generateDestination(crypto)
const convA = crypto.sha256(bob.destination.bytes)
const convB = filled(32, 0xbb)

let counter = 0
function post (keys: DestinationKeys, conv: Uint8Array, ts: number, text = `message ${counter++}`, kind: PostKind = 'dm'): Post {
  return signPost(crypto, { kind, conv, author: keys.destination.bytes, nick: 'alice', ts, text }, keys.signing.secretKey)
}

/** A ChatStore over a fresh database in a temp dir; `reopen` closes and opens it again. */
async function fresh (t: Test): Promise<{ store: ChatStore, db: DataStore, reopen: () => Promise<ChatStore> }> {
  const dir = await mkdtemp(join(tmpdir(), 'umbra-chat-store-'))
  const state = { db: await openDataStore(join(dir, 'db')) }
  t.teardown(async () => {
    await state.db.close()
    await rm(dir, { recursive: true, force: true })
  })
  return {
    store: new ChatStore(crypto, state.db),
    db: state.db,
    reopen: async () => {
      await state.db.close()
      state.db = await openDataStore(join(dir, 'db'))
      return new ChatStore(crypto, state.db)
    }
  }
}

const texts = (es: StoredEntry[]): string[] => es.map(e => e.post.text)

t.test('nick: unset, set, replaced', async t => {
  const { store } = await fresh(t)
  t.equal(store.nick(), undefined, 'no nick at first')
  await store.setNick('alice')
  t.equal(store.nick(), 'alice')
  await store.setNick('Ålice 😀')
  t.equal(store.nick(), 'Ålice 😀', 'replaced, UTF-8 kept')
})

t.test('rooms: put, list, overwrite, delete', async t => {
  const { store } = await fresh(t)
  t.same(store.listRooms(), [], 'none at first')
  const id1 = filled(32, 1)
  const id2 = filled(32, 2)
  await store.putRoom(id2, { secret: filled(32, 0x22), name: 'second', via: ['b.b32.umbra'], joined: T0 + 1 })
  await store.putRoom(id1, { secret: filled(32, 0x11), name: 'first', via: [], joined: T0 })
  const rooms = store.listRooms()
  t.equal(rooms.length, 2)
  t.same(rooms.map(r => r.name), ['first', 'second'], 'listed in id order')
  t.equal(hex(rooms[0]?.secret ?? new Uint8Array(0)), hex(filled(32, 0x11)), 'secret kept')
  t.same(rooms[1]?.via, ['b.b32.umbra'])
  t.equal(rooms[1]?.joined, T0 + 1)
  const many = Array.from({ length: 20 }, (_, i) => `v${i}.b32.umbra`)
  await store.putRoom(id1, { secret: filled(32, 0x11), name: 'renamed', via: many, joined: T0 })
  const after = store.listRooms()
  t.equal(after.length, 2, 'overwriting by id adds nothing')
  t.equal(after[0]?.name, 'renamed')
  t.same(after[0]?.via, many.slice(0, 16), 'at most 16 via stored')
  await store.deleteRoom(id2)
  t.same(store.listRooms().map(r => r.name), ['renamed'], 'deleted')
  await store.deleteRoom(filled(32, 9))
  t.equal(store.listRooms().length, 1, 'deleting an unknown room is harmless')
})

t.test('rooms: damaged entries are skipped', async t => {
  const { store, db } = await fresh(t)
  await store.putRoom(filled(32, 1), { secret: filled(32, 1), name: 'good', via: ['x'], joined: 5 })
  const raw = db.bucket('chat-rooms')
  await raw.put(filled(32, 2), Uint8Array.of(0xc1, 0x00))
  await raw.put(filled(32, 3), packRecord({ secret: 'not bytes', name: 'bad', via: [] }))
  await raw.put(filled(32, 4), packRecord({ secret: filled(32, 4), name: 'partial', via: ['ok', 7, null] }))
  const rooms = store.listRooms()
  t.same(rooms.map(r => r.name), ['good', 'partial'], 'unreadable and ill-typed entries skipped')
  t.same(rooms[1]?.via, ['ok'], 'non-string via dropped')
  t.equal(rooms[1]?.joined, 0, 'a missing joined reads as 0')
})

t.test('historyKey: conv || ts (u64 BE) || id, so a conversation sorts by time', async t => {
  const id = filled(16, 0xee)
  const k = historyKey(convB, 0x0102030405, id)
  t.equal(k.length, 56)
  t.equal(hex(k.subarray(0, 32)), hex(convB))
  t.equal(hex(k.subarray(32, 40)), '0000000102030405')
  t.equal(hex(k.subarray(40)), hex(id))
  t.ok(Buffer.compare(historyKey(convB, 255, id), historyKey(convB, 256, id)) < 0, 'big-endian: 255 sorts before 256')
  t.ok(Buffer.compare(historyKey(convB, Number.MAX_SAFE_INTEGER, id), historyKey(filled(32, 0xbc), 0, id)) < 0, 'conversation first')
})

t.test('history: conversation ids ending in 0xff bytes read only their own entries', async t => {
  const { store } = await fresh(t)
  const convFF = filled(32, 0xff)
  const convNear = filled(32, 0xff)
  convNear[30] = 0xfe
  await store.addHistory(convFF, { post: post(alice, convFF, T0, 'ff', 'say') })
  await store.addHistory(convNear, { post: post(alice, convNear, T0, 'near', 'say') })
  t.same(texts(store.readHistory(convFF, 10)), ['ff'], 'the last possible conversation id')
  t.same(texts(store.readHistory(convNear, 10)), ['near'], 'an id ending in 0xff does not take in the next')
})

t.test('history: add, read in time order per conversation, limit, has', async t => {
  const { store } = await fresh(t)
  const order = [5, 1, 4, 2, 3]
  const posts = order.map(o => post(alice, convA, T0 + o * 1000, `a${o}`))
  for (const p of posts) await store.addHistory(convA, { post: p, state: 'queued' })
  const other = post(alice, convB, T0 + 2500, 'b', 'say')
  await store.addHistory(convB, { post: other, nonce: filled(24, 7), sealed: filled(40, 8) })

  const all = store.readHistory(convA, 100)
  t.same(texts(all), ['a1', 'a2', 'a3', 'a4', 'a5'], 'oldest first, whatever the write order')
  t.ok(all.every(e => e.state === 'queued'), 'state kept')
  t.ok(all.every(e => e.nonce === undefined && e.sealed === undefined), 'no frame for a DM')
  t.ok(all.every(e => verifyPost(crypto, e.post)), 'stored posts still verify')
  t.equal(hex(all[0]?.post.id ?? new Uint8Array(0)), hex(posts[1]?.id ?? new Uint8Array(1)), 'ids recomputed identically')
  t.same(texts(store.readHistory(convA, 2)), ['a4', 'a5'], 'a limit keeps the newest, oldest first')
  t.same(texts(store.readHistory(convA, 5)), ['a1', 'a2', 'a3', 'a4', 'a5'], 'limit = count')
  t.same(store.readHistory(convA, 0), [], 'limit 0')
  t.same(store.readHistory(filled(32, 0x77), 10), [], 'unknown conversation')

  const b = store.readHistory(convB, 10)
  t.same(texts(b), ['b'], 'conversations do not mix')
  t.equal(hex(b[0]?.nonce ?? new Uint8Array(0)), hex(filled(24, 7)), 'room frame nonce kept')
  t.equal(hex(b[0]?.sealed ?? new Uint8Array(0)), hex(filled(40, 8)), 'room frame sealed bytes kept')
  t.equal(b[0]?.state, undefined, 'no state for a room post')

  t.ok(store.hasHistory(convA, posts[0] as Post))
  t.notOk(store.hasHistory(convB, posts[0] as Post), 'in another conversation: no')
  t.notOk(store.hasHistory(convA, post(alice, convA, T0)), 'an unknown post: no')
  t.same(Object.fromEntries(store.conversations()), { [hex(convA)]: 5, [hex(convB)]: 1 }, 'conversation counts')
})

t.test('history: idempotent by id; equal times ordered by id; an entry needs both nonce and sealed', async t => {
  const { store } = await fresh(t)
  const p = post(alice, convA, T0)
  await store.addHistory(convA, { post: p })
  await store.addHistory(convA, { post: p })
  t.equal(store.readHistory(convA, 10).length, 1, 'adding the same post twice keeps one entry')
  const same = Array.from({ length: 6 }, () => post(alice, convA, T0 + 1))
  await Promise.all(same.map(q => store.addHistory(convA, { post: q })))
  const ids = store.readHistory(convA, 10).slice(1).map(e => hex(e.post.id))
  t.same(ids, same.map(q => hex(q.id)).sort(), 'posts of the same ms sort by id')
  const q = post(alice, convB, T0, 'x', 'say')
  await store.addHistory(convB, { post: q, nonce: filled(24, 1) })
  t.equal(store.readHistory(convB, 1)[0]?.nonce, undefined, 'a nonce without sealed bytes is not stored')
})

t.test('history: markDelivered changes the state in place (same key)', async t => {
  const { store } = await fresh(t)
  const p = post(alice, convA, T0, 'hello bob')
  const q = post(alice, convA, T0 + 1, 'second')
  await store.addHistory(convA, { post: p, state: 'queued' })
  await store.addHistory(convA, { post: q, state: 'queued' })
  t.same(store.readHistory(convA, 10).map(e => e.state), ['queued', 'queued'])
  await store.markDelivered(convA, p)
  const after = store.readHistory(convA, 10)
  t.same(after.map(e => [e.post.text, e.state]), [['hello bob', 'delivered'], ['second', 'queued']], 'only p delivered, order kept')
  t.equal(store.conversations().get(hex(convA)), 2, 'no new entry')
  t.ok(store.hasHistory(convA, p))
  t.equal(hex(after[0]?.post.sig ?? new Uint8Array(0)), hex(p.sig), 'the post itself is unchanged')
})

t.test('history: damaged entries are skipped', async t => {
  const { store, db } = await fresh(t)
  const p = post(alice, convA, T0 + 10, 'good')
  await store.addHistory(convA, { post: p })
  const raw = db.bucket('chat-history')
  await raw.put(historyKey(convA, T0 + 1, filled(16, 1)), Uint8Array.of(1, 2, 3))
  await raw.put(historyKey(convA, T0 + 2, filled(16, 2)), packRecord({ p: 'not a post' }))
  await raw.put(historyKey(convA, T0 + 3, filled(16, 3)), packRecord({ p: { k: 'dm', c: convA } }))
  await raw.put(historyKey(convA, T0 + 4, filled(16, 4)), packRecord({ p: [1] }))
  t.same(texts(store.readHistory(convA, 10)), ['good'], 'only the readable entry')
  t.same(texts(store.readHistory(convA, 1)), ['good'], 'the limit counts readable entries')
})

t.test('trimHistory: keeps the HISTORY_KEEP newest of each conversation', async t => {
  const { store } = await fresh(t)
  const extra = 15
  const n = HISTORY_KEEP + extra
  // Written in shuffled time order, concurrently (one LMDB transaction).
  const ts = Array.from({ length: n }, (_, i) => T0 + i)
  for (let i = ts.length - 1; i > 0; i--) {
    const j = (i * 7919) % (i + 1)
    const x = ts[i] as number
    ts[i] = ts[j] as number
    ts[j] = x
  }
  await Promise.all(ts.map(s => store.addHistory(convA, { post: post(alice, convA, s, `at ${s - T0}`) })))
  await Promise.all([1, 2, 3].map(i => store.addHistory(convB, { post: post(alice, convB, T0 + i, `b${i}`, 'say') })))
  t.equal(store.conversations().get(hex(convA)), n)
  t.equal(await store.trimHistory(), extra, `dropped ${extra}`)
  t.equal(store.conversations().get(hex(convA)), HISTORY_KEEP, 'HISTORY_KEEP left')
  t.equal(store.conversations().get(hex(convB)), 3, 'a small conversation is untouched')
  const kept = store.readHistory(convA, n)
  t.equal(kept.length, HISTORY_KEEP)
  t.equal(kept[0]?.post.text, `at ${extra}`, 'the oldest kept is the first not dropped')
  t.equal(kept[kept.length - 1]?.post.text, `at ${n - 1}`, 'the newest kept')
  t.equal(await store.trimHistory(), 0, 'nothing more to trim')
})

t.test('trimHistory: nothing to do under the bound', async t => {
  const { store } = await fresh(t)
  t.equal(await store.trimHistory(), 0, 'empty')
  await store.addHistory(convA, { post: post(alice, convA, T0) })
  t.equal(await store.trimHistory(), 0, 'one entry')
  t.equal(store.readHistory(convA, 5).length, 1)
})

t.test('outbox: put, get, list, overwrite, delete, size', async t => {
  const { store } = await fresh(t)
  const to = destinationToBase64(bob.destination)
  const p = post(alice, convA, T0, 'queued dm')
  const q = post(alice, convA, T0 + 1, 'another')
  const e: OutboxEntry = { post: p, to, created: T0, tries: 0, next: T0 + 5000 }
  await store.putOutbox(e)
  await store.putOutbox({ post: q, to: 'x.b32.umbra', created: T0 + 1, tries: 2, next: T0 + 9000 })
  t.equal(store.outboxSize(), 2)
  const got = store.getOutbox(p.id)
  t.equal(got?.to, to)
  t.equal(got?.created, T0)
  t.equal(got?.tries, 0)
  t.equal(got?.next, T0 + 5000)
  t.equal(got?.post.text, 'queued dm')
  t.equal(hex(got?.post.id ?? new Uint8Array(0)), hex(p.id), 'keyed and recomputed by id')
  t.ok(got !== undefined && verifyPost(crypto, got.post), 'the stored post verifies')
  t.same(store.listOutbox().map(x => x.post.text).sort(), ['another', 'queued dm'])
  await store.putOutbox({ ...e, tries: 1, next: T0 + 10_000 })
  t.equal(store.outboxSize(), 2, 'overwritten in place')
  t.equal(store.getOutbox(p.id)?.tries, 1)
  t.equal(store.getOutbox(p.id)?.next, T0 + 10_000)
  await store.deleteOutbox(p.id)
  t.equal(store.getOutbox(p.id), undefined, 'deleted')
  t.equal(store.outboxSize(), 1)
  t.equal(store.getOutbox(filled(16, 3)), undefined, 'unknown id')
  await store.deleteOutbox(filled(16, 3))
  t.equal(store.outboxSize(), 1, 'deleting an unknown id is harmless')
})

t.test('outbox: damaged entries read as absent', async t => {
  const { store, db } = await fresh(t)
  const raw = db.bucket('chat-outbox')
  await raw.put(filled(16, 1), Uint8Array.of(0xff))
  await raw.put(filled(16, 2), packRecord({ p: {}, to: 'x', created: 1, tries: 0, next: 0 }))
  await raw.put(filled(16, 3), packRecord({ to: 'x', created: 1, tries: 0, next: 0 }))
  await raw.put(filled(16, 4), packRecord({ p: { k: 'dm' }, to: 5, created: 1, tries: 0, next: 0 }))
  for (const i of [1, 2, 3, 4]) t.equal(store.getOutbox(filled(16, i)), undefined, `entry ${i}`)
  t.same(store.listOutbox(), [], 'none listed')
  t.equal(store.outboxSize(), 4, 'the size counts raw entries')
})

t.test('contacts: put, get, list, update', async t => {
  const { store, db } = await fresh(t)
  const hA = crypto.sha256(alice.destination.bytes)
  const hB = crypto.sha256(bob.destination.bytes)
  t.equal(store.contact(hA), undefined, 'unknown')
  await store.putContact(hA, destinationToBase64(alice.destination), 'alice')
  await store.putContact(hB, destinationToBase64(bob.destination), 'bob')
  t.same(store.contact(hA), { dest: destinationToBase64(alice.destination), nick: 'alice' })
  await store.putContact(hA, destinationToBase64(alice.destination), 'alice2')
  t.equal(store.contact(hA)?.nick, 'alice2', 'updated')
  const list = store.listContacts()
  t.equal(list.length, 2)
  const byHash = new Map(list.map(c => [hex(c.hash), c]))
  t.equal(byHash.get(hex(hA))?.nick, 'alice2')
  t.equal(byHash.get(hex(hB))?.dest, destinationToBase64(bob.destination))
  await db.bucket('chat-contacts').put(filled(32, 5), packRecord({ dest: 5, nick: 'x' }))
  t.equal(store.contact(filled(32, 5)), undefined, 'an ill-typed contact reads as absent')
  t.equal(store.listContacts().length, 2, 'and is not listed')
})

t.test('reopening the store keeps everything', async t => {
  const { store, reopen } = await fresh(t)
  const p = post(alice, convA, T0, 'persisted dm')
  const r = post(alice, convB, T0 + 1, 'persisted room post', 'say')
  const hB = crypto.sha256(bob.destination.bytes)
  await store.setNick('alice')
  await store.putRoom(convB, { secret: filled(32, 0x44), name: 'lobby', via: ['v.b32.umbra'], joined: T0 })
  await store.addHistory(convA, { post: p, state: 'queued' })
  await store.markDelivered(convA, p)
  await store.addHistory(convB, { post: r, nonce: filled(24, 1), sealed: filled(48, 2) })
  await store.putOutbox({ post: p, to: 'bob', created: T0, tries: 3, next: T0 + 1 })
  await store.putContact(hB, destinationToBase64(bob.destination), 'bob')

  const again = await reopen()
  t.equal(again.nick(), 'alice')
  t.same(again.listRooms().map(x => [x.name, x.via, x.joined, hex(x.secret)]), [['lobby', ['v.b32.umbra'], T0, hex(filled(32, 0x44))]])
  const h = again.readHistory(convA, 10)
  t.same(h.map(e => [e.post.text, e.state]), [['persisted dm', 'delivered']])
  t.ok(verifyPost(crypto, h[0]?.post as Post), 'the reloaded post verifies')
  const rb = again.readHistory(convB, 10)
  t.equal(rb[0]?.post.text, 'persisted room post')
  t.equal(hex(rb[0]?.sealed ?? new Uint8Array(0)), hex(filled(48, 2)))
  t.ok(again.hasHistory(convA, p))
  t.equal(again.getOutbox(p.id)?.tries, 3)
  t.equal(again.outboxSize(), 1)
  t.equal(again.contact(hB)?.nick, 'bob')
})
