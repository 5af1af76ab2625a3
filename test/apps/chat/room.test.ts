/**
 * Chat rooms (apps/chat/room.ts): keys derived from the room secret (deterministic, separated),
 * sealing and opening posts (a wrong key, a tampered nonce/ciphertext/associated data is a
 * DecodeError), the join proof's binding to both ends, and RoomState: de-duplication, the
 * per-author token bucket (one flooding author does not silence the others; duplicates and
 * replays cost nothing), history in time order and bounded, since(), members, leave, restore.
 * Time is always passed in.
 */
import t from 'tap'
import { loadCrypto } from '../../../src/crypto/index.ts'
import { destinationToBase64, generateDestination, type DestinationKeys } from '../../../src/identity/destination.ts'
import { FRAME_MAX_BYTES, MAX_TEXT_BYTES, decodePost, frameRecordOf, postRecord, signPost, verifyPost, type Post, type PostKind } from '../../../src/apps/chat/messages.ts'
import {
  AUTHOR_BURST, AUTHOR_RATE, HISTORY_MAX, MEMBERS_MAX, RoomState, joinProof, openSealed, roomKeys, sealPost,
  type HistoryItem, type RoomKeys
} from '../../../src/apps/chat/room.ts'
import { DecodeError, LimitError } from '../../../src/util/errors.ts'
import { packRecord } from '../../../src/wire/msgpack.ts'

const crypto = await loadCrypto()
const T0 = 1_700_000_000_000
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
const filled = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v)

const alice = generateDestination(crypto)
const bob = generateDestination(crypto)
const carol = generateDestination(crypto)
const b64 = (k: DestinationKeys): string => destinationToBase64(k.destination)
const SECRET = filled(32, 0x42)

let counter = 0
/** A signed post in the room with `secret` (a distinct text each time, so a distinct id). */
function post (keys: DestinationKeys, ts: number, opts: { kind?: PostKind, nick?: string, text?: string, secret?: Uint8Array } = {}): Post {
  return signPost(crypto, {
    kind: opts.kind ?? 'say',
    conv: roomKeys(crypto, opts.secret ?? SECRET).id,
    author: keys.destination.bytes,
    nick: opts.nick ?? 'nick',
    ts,
    text: opts.text ?? `post ${counter++}`
  }, keys.signing.secretKey)
}

/** A history item with a placeholder frame (RoomState does not open it). */
const item = (p: Post): HistoryItem => ({ post: p, nonce: filled(24, 1), sealed: filled(32, 2) })
const fresh = (): RoomState => new RoomState(crypto, SECRET, 'lobby')
const texts = (items: readonly HistoryItem[]): string[] => items.map(i => i.post.text)

t.test('roomKeys: deterministic, 32 bytes each, separated from each other and between rooms', async t => {
  const a = roomKeys(crypto, SECRET)
  const again = roomKeys(crypto, Uint8Array.from(SECRET))
  for (const k of ['id', 'seal', 'join'] as const) {
    t.equal(a[k].length, 32, `${k}: 32 bytes`)
    t.equal(hex(a[k]), hex(again[k]), `${k}: same secret, same key`)
  }
  const all = [a.id, a.seal, a.join, SECRET].map(hex)
  t.equal(new Set(all).size, 4, 'id, seal and join differ from each other and from the secret')
  const other = roomKeys(crypto, filled(32, 0x43))
  for (const k of ['id', 'seal', 'join'] as const) t.not(hex(other[k]), hex(a[k]), `${k}: another secret, another key`)
  // One bit of difference in the secret changes everything.
  const flipped = Uint8Array.from(SECRET)
  flipped[31] = (flipped[31] as number) ^ 1
  t.not(hex(roomKeys(crypto, flipped).id), hex(a.id), 'a one-bit change of the secret changes the id')
})

t.test('roomKeys: a secret that is not 32 bytes is a DecodeError', async t => {
  for (const n of [0, 16, 31, 33, 64]) t.throws(() => roomKeys(crypto, new Uint8Array(n)), DecodeError, `${n} bytes`)
  t.throws(() => new RoomState(crypto, new Uint8Array(31), 'x'), DecodeError, 'RoomState checks its secret too')
})

t.test('sealPost/openSealed: a post record round-trips and still verifies', async t => {
  const keys = roomKeys(crypto, SECRET)
  const p = post(alice, T0, { text: 'sealed 😀\nline two' })
  const { nonce, sealed } = sealPost(crypto, keys, postRecord(p))
  t.equal(nonce.length, 24, '24-byte nonce')
  t.ok(sealed.length >= 16 + packRecord(postRecord(p)).length, 'ciphertext carries the record and a tag')
  const r = openSealed(crypto, keys, nonce, sealed)
  const q = decodePost(crypto, r)
  t.equal(q.text, p.text)
  t.equal(hex(q.id), hex(p.id), 'same id')
  t.ok(verifyPost(crypto, q), 'the opened post verifies')
  // A fresh nonce each time: sealing the same record twice gives different frames.
  const again = sealPost(crypto, keys, postRecord(p))
  t.not(hex(again.nonce), hex(nonce), 'fresh nonce')
  t.not(hex(again.sealed), hex(sealed), 'different ciphertext')
  t.equal(decodePost(crypto, openSealed(crypto, keys, again.nonce, again.sealed)).text, p.text, 'both open')
  // Plaintext does not show in the ciphertext.
  t.notOk(Buffer.from(sealed).includes(Buffer.from('sealed')), 'text not visible in the sealed bytes')
})

t.test('sealPost: the largest post fits in a room frame; an oversize record is a LimitError', async t => {
  const keys = roomKeys(crypto, SECRET)
  const big = signPost(crypto, {
    kind: 'say', conv: keys.id, author: alice.destination.bytes, nick: '😀'.repeat(32), ts: Number.MAX_SAFE_INTEGER, text: '😀'.repeat(MAX_TEXT_BYTES / 4)
  }, alice.signing.secretKey)
  const { nonce, sealed } = sealPost(crypto, keys, postRecord(big))
  t.ok(sealed.length <= FRAME_MAX_BYTES, 'sealed within the frame bound')
  const frame = packRecord(frameRecordOf({ op: 'room', room: keys.id, nonce, sealed, history: true }), FRAME_MAX_BYTES)
  t.ok(frame.length <= FRAME_MAX_BYTES, `the room frame (${frame.length} bytes) fits`)
  t.throws(() => sealPost(crypto, keys, { x: filled(FRAME_MAX_BYTES, 0) }), LimitError, 'a record over the bound is refused')
})

t.test('openSealed: wrong key, tampering and bad plaintext are DecodeErrors', async t => {
  const keys = roomKeys(crypto, SECRET)
  const other = roomKeys(crypto, filled(32, 0x99))
  const { nonce, sealed } = sealPost(crypto, keys, postRecord(post(alice, T0)))
  t.throws(() => openSealed(crypto, other, nonce, sealed), DecodeError, 'another room\'s key')
  for (const at of [0, 1, Math.floor(sealed.length / 2), sealed.length - 1]) {
    const bad = Uint8Array.from(sealed)
    bad[at] = (bad[at] as number) ^ 0x01
    t.throws(() => openSealed(crypto, keys, nonce, bad), DecodeError, `ciphertext bit flipped at ${at}`)
  }
  const badNonce = Uint8Array.from(nonce)
  badNonce[0] = (badNonce[0] as number) ^ 0x80
  t.throws(() => openSealed(crypto, keys, badNonce, sealed), DecodeError, 'nonce altered')
  t.throws(() => openSealed(crypto, keys, nonce, sealed.subarray(0, sealed.length - 1)), DecodeError, 'truncated')
  t.throws(() => openSealed(crypto, keys, nonce, sealed.subarray(0, 15)), DecodeError, 'shorter than a tag')
  const extended = new Uint8Array(sealed.length + 1)
  extended.set(sealed)
  t.throws(() => openSealed(crypto, keys, nonce, extended), DecodeError, 'extended')
  // The room id is the associated data: the same sealing key under another id does not open.
  const otherId: RoomKeys = { id: other.id, seal: keys.seal, join: keys.join }
  t.throws(() => openSealed(crypto, otherId, nonce, sealed), DecodeError, 'the id is bound as associated data')
  // Sealed correctly but not a record: still a DecodeError (from the record decoder).
  for (const plain of [new Uint8Array(0), Uint8Array.of(0x93, 1, 2, 3), Uint8Array.of(0x81, 0xa1, 0x61), Uint8Array.of(0x80, 0x00)]) {
    const n = crypto.randomBytes(24)
    const c = crypto.xaeadEncrypt(keys.seal, n, plain, keys.id)
    t.throws(() => openSealed(crypto, keys, n, c), DecodeError, `sealed non-record ${hex(plain)}`)
  }
  const err = (() => { try { openSealed(crypto, other, nonce, sealed) } catch (e) { return e } })()
  t.ok(err instanceof DecodeError && err.cause !== undefined, 'the AEAD failure is kept as the cause')
})

t.test('joinProof: 32 bytes, keyed by the room, bound to both hashes in order', async t => {
  const keys = roomKeys(crypto, SECRET)
  const dialer = crypto.sha256(alice.destination.bytes)
  const acceptor = crypto.sha256(bob.destination.bytes)
  const proof = joinProof(crypto, keys, dialer, acceptor)
  t.equal(proof.length, 32)
  t.equal(hex(joinProof(crypto, roomKeys(crypto, SECRET), Uint8Array.from(dialer), Uint8Array.from(acceptor))), hex(proof), 'deterministic')
  t.not(hex(joinProof(crypto, keys, acceptor, dialer)), hex(proof), 'swapping dialer and acceptor changes the proof')
  t.not(hex(joinProof(crypto, roomKeys(crypto, filled(32, 1)), dialer, acceptor)), hex(proof), 'another room, another proof')
  const carolHash = crypto.sha256(carol.destination.bytes)
  t.not(hex(joinProof(crypto, keys, carolHash, acceptor)), hex(proof), 'another dialer, another proof')
  t.not(hex(joinProof(crypto, keys, dialer, carolHash)), hex(proof), 'another acceptor, another proof')
  // Keyed by the join key only (not the id or sealing key, which are less secret or used elsewhere).
  t.equal(hex(joinProof(crypto, { id: filled(32, 0), seal: filled(32, 0), join: keys.join }, dialer, acceptor)), hex(proof), 'depends on the join key')
  const data = new Uint8Array(64)
  data.set(dialer, 0)
  data.set(acceptor, 32)
  t.equal(hex(proof), hex(crypto.blake2b(data, 32, keys.join)), 'keyed BLAKE2b of dialer || acceptor')
})

t.test('RoomState: id hex, name and secret', async t => {
  const s = fresh()
  t.equal(s.idHex, hex(roomKeys(crypto, SECRET).id))
  t.equal(s.name, 'lobby')
  t.equal(hex(s.secret), hex(SECRET))
  t.same(s.history, [], 'no history yet')
  t.same(s.present(), [], 'no members yet')
})

t.test('accept: new, then duplicate for the same post id (live or replayed)', async t => {
  const s = fresh()
  const p = post(alice, T0)
  t.equal(s.accept(item(p), b64(alice), T0), 'new')
  t.equal(s.accept(item(p), b64(alice), T0), 'duplicate', 'same post again')
  t.equal(s.accept(item(p), b64(bob), T0 + 1000), 'duplicate', 'same id from another relay / author label')
  t.equal(s.accept({ post: p, nonce: filled(24, 9), sealed: filled(40, 9) }, b64(alice), T0), 'duplicate', 'same post, another frame')
  t.equal(s.accept(item(p), b64(alice), T0, true), 'duplicate', 'replayed')
  t.equal(s.history.length, 1, 'kept once')
  t.equal(s.accept(item(post(alice, T0)), b64(alice), T0), 'new', 'another post (another text) is new')
})

t.test('accept: an author over AUTHOR_BURST at one instant is limited; others are not', async t => {
  const s = fresh()
  for (let i = 0; i < AUTHOR_BURST; i++) t.equal(s.accept(item(post(alice, T0)), b64(alice), T0), 'new', `alice post ${i + 1}`)
  const over = post(alice, T0)
  t.equal(s.accept(item(over), b64(alice), T0), 'limited', 'alice post AUTHOR_BURST + 1 is limited')
  t.equal(s.accept(item(post(alice, T0)), b64(alice), T0), 'limited', 'and the next')
  // The flood by alice does not silence bob or carol.
  t.equal(s.accept(item(post(bob, T0)), b64(bob), T0), 'new', 'bob is still accepted')
  for (let i = 1; i < AUTHOR_BURST; i++) s.accept(item(post(bob, T0)), b64(bob), T0)
  t.equal(s.accept(item(post(bob, T0)), b64(bob), T0), 'limited', 'bob has his own bucket of AUTHOR_BURST')
  t.equal(s.accept(item(post(carol, T0)), b64(carol), T0), 'new', 'carol is still accepted')
  t.equal(s.history.length, 2 * AUTHOR_BURST + 1, 'limited posts are not kept')
  t.notOk(s.history.some(i => i.post === over), 'the limited post is not in history')
  // A limited post is not marked seen: once the bucket refills, it is new (not a duplicate).
  const refill = T0 + Math.ceil(1000 / AUTHOR_RATE)
  t.equal(s.accept(item(over), b64(alice), refill), 'new', 'after 1/AUTHOR_RATE s the limited post goes through')
  t.equal(s.accept(item(post(alice, refill)), b64(alice), refill), 'limited', 'but only one token came back')
})

t.test('accept: the limit is per author key, not per post author field', async t => {
  const s = fresh()
  // The caller names the author (base64 of the verified post's author); the bucket follows that name.
  for (let i = 0; i < AUTHOR_BURST; i++) s.accept(item(post(alice, T0)), 'same-label', T0)
  t.equal(s.accept(item(post(bob, T0)), 'same-label', T0), 'limited', 'the bucket is keyed by the label passed in')
  t.equal(s.accept(item(post(alice, T0)), 'another-label', T0), 'new')
})

t.test('accept: duplicates do not consume the author\'s tokens', async t => {
  const s = fresh()
  const first = post(alice, T0)
  t.equal(s.accept(item(first), b64(alice), T0), 'new')
  const verdicts = new Set<string>()
  for (let i = 0; i < 5 * AUTHOR_BURST; i++) verdicts.add(s.accept(item(first), b64(alice), T0))
  t.same([...verdicts], ['duplicate'], `${5 * AUTHOR_BURST} copies: all duplicates`)
  for (let i = 1; i < AUTHOR_BURST; i++) {
    t.equal(s.accept(item(post(alice, T0)), b64(alice), T0), 'new', `distinct post ${i + 1} of ${AUTHOR_BURST} still has a token`)
  }
  t.equal(s.accept(item(post(alice, T0)), b64(alice), T0), 'limited', 'the (AUTHOR_BURST + 1)th distinct post is limited')
})

t.test('accept: replay bypasses the limit and costs no tokens', async t => {
  const s = fresh()
  for (let i = 0; i < AUTHOR_BURST; i++) s.accept(item(post(alice, T0)), b64(alice), T0)
  t.equal(s.accept(item(post(alice, T0)), b64(alice), T0), 'limited', 'alice is out of tokens')
  for (let i = 0; i < 3 * AUTHOR_BURST; i++) {
    const v = s.accept(item(post(alice, T0 - 1000 - i)), b64(alice), T0, true)
    if (v !== 'new') t.fail(`replay ${i} was ${v}`)
  }
  t.pass('replayed history from alice is accepted while she is limited')

  const r = fresh()
  for (let i = 0; i < 3 * AUTHOR_BURST; i++) r.accept(item(post(bob, T0 - i)), b64(bob), T0, true)
  for (let i = 0; i < AUTHOR_BURST; i++) {
    t.equal(r.accept(item(post(bob, T0)), b64(bob), T0), 'new', `live post ${i + 1} after replays`)
  }
  t.equal(r.accept(item(post(bob, T0)), b64(bob), T0), 'limited', 'the replays did not use the bucket, the live posts did')
})

t.test('accept: the bucket refills at AUTHOR_RATE per second, up to AUTHOR_BURST', async t => {
  const s = fresh()
  for (let i = 0; i < AUTHOR_BURST; i++) s.accept(item(post(alice, T0)), b64(alice), T0)
  const later = T0 + 5000 // 5 s: 10 tokens
  let n = 0
  while (s.accept(item(post(alice, later)), b64(alice), later) === 'new') n++
  t.equal(n, 5 * AUTHOR_RATE, `${5 * AUTHOR_RATE} posts after 5 s`)
  const muchLater = later + 3_600_000
  n = 0
  while (s.accept(item(post(alice, muchLater)), b64(alice), muchLater) === 'new') n++
  t.equal(n, AUTHOR_BURST, 'never more than AUTHOR_BURST after a long silence')
})

t.test('history: kept in ts order whatever the arrival order; equal times keep arrival order', async t => {
  const s = fresh()
  const order = [5, 1, 3, 9, 2, 7, 3, 0, 9]
  const now = T0 + 10_000
  order.forEach((o, i) => { s.accept(item(post(alice, T0 + o * 1000, { text: `t${o} #${i}` })), b64(alice), now) })
  const ts = s.history.map(i => i.post.ts)
  t.same(ts, [...ts].sort((a, b) => a - b), 'sorted by ts')
  t.same(texts(s.history), ['t0 #7', 't1 #1', 't2 #4', 't3 #2', 't3 #6', 't5 #0', 't7 #5', 't9 #3', 't9 #8'])
})

t.test('history: bounded by HISTORY_MAX, the oldest (by ts) dropped', async t => {
  const s = fresh()
  const n = HISTORY_MAX + 50
  const authors = [alice, bob, carol]
  // Posts arrive newest-first half the time to exercise insertion in the middle.
  for (let i = 0; i < n; i++) {
    const ts = i % 2 === 0 ? T0 + i : T0 + n * 2 - i
    const a = authors[i % 3] as DestinationKeys
    const v = s.accept(item(post(a, ts, { text: `#${i}` })), b64(a), T0 + i * 1000)
    if (v !== 'new') t.fail(`post ${i}: ${v}`)
  }
  t.equal(s.history.length, HISTORY_MAX, 'exactly HISTORY_MAX kept')
  const ts = s.history.map(i => i.post.ts)
  t.same(ts, [...ts].sort((a, b) => a - b), 'still sorted')
  const all: number[] = []
  for (let i = 0; i < n; i++) all.push(i % 2 === 0 ? T0 + i : T0 + n * 2 - i)
  all.sort((a, b) => a - b)
  t.same(ts, all.slice(n - HISTORY_MAX), 'the newest HISTORY_MAX by ts are kept')
  // A post older than everything kept is new (seen) but not kept.
  const ancient = post(alice, 0)
  t.equal(s.accept(item(ancient), b64(alice), T0 * 2, true), 'new')
  t.equal(s.history.length, HISTORY_MAX)
  t.notOk(s.history.some(i => i.post === ancient), 'an ancient post falls off at once')
  t.equal(s.accept(item(ancient), b64(alice), T0 * 2, true), 'duplicate', 'but it is remembered as seen')
})

t.test('since: the history posted at or after a time, oldest first', async t => {
  const s = fresh()
  for (const o of [30, 10, 20, 40]) s.accept(item(post(alice, T0 + o, { text: `at ${o}` })), b64(alice), T0 + 100)
  t.same(texts(s.since(T0 + 20)), ['at 20', 'at 30', 'at 40'], 'inclusive lower bound')
  t.same(texts(s.since(T0 + 21)), ['at 30', 'at 40'])
  t.same(texts(s.since(0)), ['at 10', 'at 20', 'at 30', 'at 40'], 'everything')
  t.same(s.since(T0 + 41), [], 'nothing after the last')
  const copy = s.since(0)
  copy.length = 0
  t.equal(s.history.length, 4, 'since returns a copy')
})

t.test('members: noted from posts; leave marks left; present() excludes the left, newest first', async t => {
  const s = fresh()
  s.accept(item(post(alice, T0 + 1, { kind: 'join', nick: 'alice', text: '' })), b64(alice), T0 + 10)
  s.accept(item(post(bob, T0 + 2, { nick: 'bob' })), b64(bob), T0 + 10)
  s.accept(item(post(carol, T0 + 3, { nick: 'carol' })), b64(carol), T0 + 10)
  t.same(s.present().map(m => m.nick), ['carol', 'bob', 'alice'], 'most recently seen first')
  const a = s.members.get(b64(alice))
  t.same(a, { dest: b64(alice), nick: 'alice', seen: T0 + 1, left: false }, 'seen is the post time')
  s.accept(item(post(bob, T0 + 4, { kind: 'leave', nick: 'bob', text: 'bye' })), b64(bob), T0 + 10)
  t.equal(s.members.get(b64(bob))?.left, true, 'bob left')
  t.same(s.present().map(m => m.nick), ['carol', 'alice'], 'present() excludes bob')
  t.equal(s.members.size, 3, 'bob is still remembered')
  s.accept(item(post(bob, T0 + 5, { kind: 'join', nick: 'bobby', text: '' })), b64(bob), T0 + 10)
  t.equal(s.members.get(b64(bob))?.left, false, 'a later join brings him back')
  t.same(s.present().map(m => m.nick), ['bobby', 'carol', 'alice'], 'with the new nick')
  // An older post (history replay) neither revives nor renames.
  s.accept(item(post(carol, T0 + 6, { kind: 'leave', nick: 'carol' })), b64(carol), T0 + 10)
  s.accept(item(post(carol, T0 + 2, { nick: 'old-carol' })), b64(carol), T0 + 10, true)
  const c = s.members.get(b64(carol))
  t.equal(c?.left, true, 'an older say does not undo a later leave')
  t.equal(c?.nick, 'carol', 'nor rename')
  t.equal(c?.seen, T0 + 6)
})

t.test('noteMember: welcome/invite entries (seen 0, nick empty) do not override known members', async t => {
  const s = fresh()
  s.noteMember('d1', '', 0)
  t.same(s.members.get('d1'), { dest: 'd1', nick: '', seen: 0, left: false })
  s.noteMember('d1', 'dave', 100)
  t.equal(s.members.get('d1')?.nick, 'dave')
  s.noteMember('d1', '', 100)
  t.equal(s.members.get('d1')?.nick, 'dave', 'an empty nick keeps the known one')
  s.noteMember('d1', 'other', 50)
  t.equal(s.members.get('d1')?.nick, 'dave', 'an older sighting is ignored')
  t.equal(s.members.get('d1')?.seen, 100)
  s.noteMember('d1', 'dave', 200, true)
  t.same(s.present(), [], 'left')
})

t.test('members: bounded by MEMBERS_MAX, the least recently seen forgotten', async t => {
  const s = fresh()
  const extra = 40
  for (let i = 0; i < MEMBERS_MAX + extra; i++) s.noteMember(`m${i}`, `n${i}`, 1000 + i)
  t.equal(s.members.size, MEMBERS_MAX, 'exactly MEMBERS_MAX')
  for (let i = 0; i < extra; i++) t.notOk(s.members.has(`m${i}`), `m${i} (seen earliest) forgotten`)
  t.ok(s.members.has(`m${extra}`) && s.members.has(`m${MEMBERS_MAX + extra - 1}`), 'the newest kept')
  // Updating a known member does not evict anyone.
  s.noteMember(`m${extra}`, 'renamed', 5000)
  t.equal(s.members.size, MEMBERS_MAX)
  t.ok(s.members.has(`m${extra + 1}`), 'nobody evicted by an update')
  // The refreshed member is no longer the oldest: the next newcomer evicts m(extra+1).
  s.noteMember('newcomer', 'x', 6000)
  t.ok(s.members.has(`m${extra}`), 'refreshed member kept')
  t.notOk(s.members.has(`m${extra + 1}`), 'the now least recently seen is evicted')
  // Through accept as well.
  const r = fresh()
  for (let i = 0; i < MEMBERS_MAX; i++) r.noteMember(`x${i}`, '', 0)
  r.accept(item(post(alice, T0, { nick: 'alice' })), b64(alice), T0)
  t.equal(r.members.size, MEMBERS_MAX)
  t.equal(r.members.get(b64(alice))?.nick, 'alice', 'a poster is remembered')
})

t.test('restore: history from disk, no rate limit, ids marked seen, members noted', async t => {
  const s = fresh()
  const items = Array.from({ length: AUTHOR_BURST * 2 }, (_, i) => item(post(alice, T0 + 100 - i, { nick: 'alice' })))
  const authorOf = (p: Post): string => hex(p.author) === hex(alice.destination.bytes) ? b64(alice) : 'unknown'
  s.restore([...items, items[0] as HistoryItem], authorOf, T0 + 1000)
  t.equal(s.history.length, AUTHOR_BURST * 2, 'all restored (over the burst), the repeated one once')
  const ts = s.history.map(i => i.post.ts)
  t.same(ts, [...ts].sort((a, b) => a - b), 'in ts order')
  t.equal(s.accept(items[3] as HistoryItem, b64(alice), T0 + 1000), 'duplicate', 'restored ids are seen')
  t.equal(s.members.get(b64(alice))?.seen, T0 + 100, 'member noted with the latest post time')
  t.equal(s.accept(item(post(alice, T0 + 2000)), b64(alice), T0 + 2000), 'new', 'restore did not spend alice\'s tokens')
})
