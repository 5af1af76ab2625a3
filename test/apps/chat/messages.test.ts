/**
 * The chat codec (apps/chat/messages.ts): signing and verifying posts (every kind, every field
 * covered by the signature, a post signed by one key claiming another author), checkNick and
 * checkText at their bounds, postRecord/decodePost and frameRecordOf/decodeFrame round trips
 * through real MessagePack, the field checks of decodeFrame (DecodeError, and 'unknown op' only
 * for an unknown op), and random records and random bytes: only DecodeError escapes.
 */
import t from 'tap'
import fc from 'fast-check'
import { loadCrypto } from '../../../src/crypto/index.ts'
import { generateDestination, type DestinationKeys } from '../../../src/identity/destination.ts'
import {
  FRAME_MAX_BYTES, MAX_NICK_CHARS, MAX_TEXT_BYTES, MAX_WELCOME_MEMBERS,
  checkNick, checkText, decodeFrame, decodePost, frameRecordOf, postRecord, signPost, signedBytes, verifyPost,
  type Frame, type Post, type PostBody, type PostKind
} from '../../../src/apps/chat/messages.ts'
import { DecodeError, LimitError, UmbraError } from '../../../src/util/errors.ts'
import { packRecord, unpackRecord, type PlainRecord, type RecordValue } from '../../../src/wire/msgpack.ts'

const crypto = await loadCrypto()
const alice = generateDestination(crypto)
const bob = generateDestination(crypto)
const T0 = 1_700_000_000_000

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
const filled = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v)
const conv = filled(32, 0x11)

function body (keys: DestinationKeys, over: Partial<PostBody> = {}): PostBody {
  return { kind: 'say', conv, author: keys.destination.bytes, nick: 'alice', ts: T0, text: 'hello, room', ...over }
}

function sign (keys: DestinationKeys, over: Partial<PostBody> = {}): Post {
  return signPost(crypto, body(keys, over), keys.signing.secretKey)
}

/** Deep-compares with byte arrays turned to hex (msgpackr hands back Buffers). */
function plain (v: unknown): unknown {
  if (v instanceof Uint8Array) return `bytes:${hex(v)}`
  if (Array.isArray(v)) return v.map(plain)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
  return v
}

/** The error `f` throws (or undefined). */
function thrown (f: () => unknown): unknown {
  try { f() } catch (err) { return err }
  return undefined
}

/** Whether `f` returns, or throws only a DecodeError. */
function onlyDecodeError (f: () => unknown): boolean {
  const err = thrown(f)
  return err === undefined || err instanceof DecodeError
}

/** A record through real MessagePack, as a peer would receive it. */
const wire = (r: PlainRecord): PlainRecord => unpackRecord(packRecord(r, FRAME_MAX_BYTES), FRAME_MAX_BYTES)

t.test('signPost: a signed post verifies, its id is BLAKE2b-128 of the signed bytes, signing is deterministic', async t => {
  for (const kind of ['dm', 'say', 'join', 'leave'] as PostKind[]) {
    const p = sign(alice, { kind, text: kind === 'join' ? '' : `a ${kind}` })
    t.equal(p.kind, kind)
    t.equal(p.sig.length, 64, `${kind}: 64-byte signature`)
    t.equal(p.id.length, 16, `${kind}: 16-byte id`)
    t.equal(hex(p.id), hex(crypto.blake2b(signedBytes(p), 16)), `${kind}: id is the hash of the signed bytes`)
    t.ok(crypto.verify(p.sig, signedBytes(p), alice.destination.signingKey), `${kind}: the signature is over signedBytes`)
    t.ok(verifyPost(crypto, p), `${kind}: verifies`)
  }
  const a = sign(alice)
  const b = sign(alice)
  t.equal(hex(a.sig), hex(b.sig), 'Ed25519 is deterministic: same body, same signature')
  t.equal(hex(a.id), hex(b.id), 'same body, same id')
  t.not(hex(sign(alice, { text: 'other' }).id), hex(a.id), 'another text, another id')
  t.not(hex(sign(alice, { kind: 'dm' }).id), hex(a.id), 'another kind, another id')
})

t.test('signedBytes: distinct fields give distinct bytes (no ambiguity between nick and text)', async t => {
  const a = signedBytes(body(alice, { nick: 'ab', text: 'c' }))
  const b = signedBytes(body(alice, { nick: 'a', text: 'bc' }))
  t.not(hex(a), hex(b), 'moving a character from nick to text changes the signed bytes')
  const dm = signedBytes(body(alice, { kind: 'dm' }))
  const say = signedBytes(body(alice, { kind: 'say' }))
  t.equal(dm.length, say.length)
  t.not(hex(dm), hex(say), 'the kind is signed')
})

t.test('verifyPost: any field altered after signing fails', async t => {
  const p = sign(alice)
  t.ok(verifyPost(crypto, p), 'the original verifies')
  const altered: Array<[string, Post]> = [
    ['text', { ...p, text: 'hello, room!' }],
    ['text emptied', { ...p, text: '' }],
    ['nick', { ...p, nick: 'mallory' }],
    ['ts +1', { ...p, ts: p.ts + 1 }],
    ['ts -1', { ...p, ts: p.ts - 1 }],
    ['conv', { ...p, conv: filled(32, 0x12) }],
    ['kind', { ...p, kind: 'leave' }],
    ['kind dm', { ...p, kind: 'dm' }],
    ['author (another destination)', { ...p, author: bob.destination.bytes }],
    ['id', { ...p, id: filled(16, 0) }],
    ['sig (one bit)', { ...p, sig: Uint8Array.from(p.sig, (b, i) => i === 10 ? b ^ 1 : b) }],
    ['sig zeroed', { ...p, sig: new Uint8Array(64) }]
  ]
  for (const [what, q] of altered) t.equal(verifyPost(crypto, q), false, `${what} altered: refused`)
  t.ok(verifyPost(crypto, p), 'the original still verifies (nothing was mutated in place)')
})

t.test('verifyPost: a post signed by key X that claims author Y fails', async t => {
  // Alice signs a post that names Bob as its author.
  const forged = signPost(crypto, body(bob, { nick: 'bob' }), alice.signing.secretKey)
  t.equal(hex(forged.author), hex(bob.destination.bytes), 'the forged post names Bob')
  t.equal(verifyPost(crypto, forged), false, 'it does not verify against Bob\'s key')
  // Re-labelling the author with a re-computed id does not help either.
  const relabelled = { ...sign(alice), author: bob.destination.bytes }
  const fixedId = { ...relabelled, id: crypto.blake2b(signedBytes(relabelled), 16) }
  t.equal(verifyPost(crypto, fixedId), false, 'a valid id for the relabelled bytes does not make it verify')
  // Bob's own post verifies, of course.
  t.ok(verifyPost(crypto, sign(bob, { nick: 'bob' })))
})

t.test('verifyPost: an author that is not a supported destination returns false, not an error', async t => {
  const p = sign(alice)
  const garbage = crypto.randomBytes(391)
  t.equal(verifyPost(crypto, { ...p, author: garbage }), false, 'random 391 bytes')
  const nullCert = Uint8Array.from(alice.destination.bytes)
  nullCert[384] = 0 // certificate type NULL with a payload: malformed
  t.equal(verifyPost(crypto, { ...p, author: nullCert }), false, 'bad certificate')
  t.equal(verifyPost(crypto, { ...p, author: alice.destination.bytes.subarray(0, 390) }), false, 'truncated')
})

t.test('signPost: refuses bad fields with DecodeError', async t => {
  const bad: Array<[string, Partial<PostBody>]> = [
    ['conv of 31 bytes', { conv: filled(31, 1) }],
    ['conv of 33 bytes', { conv: filled(33, 1) }],
    ['author of 390 bytes', { author: alice.destination.bytes.subarray(0, 390) }],
    ['author of 392 bytes', { author: filled(392, 1) }],
    ['empty nick', { nick: '' }],
    ['nick too long', { nick: 'x'.repeat(MAX_NICK_CHARS + 1) }],
    ['nick with a newline', { nick: 'a\nb' }],
    ['text too long', { text: 'x'.repeat(MAX_TEXT_BYTES + 1) }],
    ['text with NUL', { text: 'a\u0000' }],
    ['negative ts', { ts: -1 }],
    ['fractional ts', { ts: 1.5 }],
    ['unsafe ts', { ts: 2 ** 53 }],
    ['NaN ts', { ts: NaN }],
    ['unknown kind', { kind: 'shout' as PostKind }]
  ]
  for (const [what, over] of bad) {
    t.throws(() => sign(alice, over), DecodeError, what)
  }
  t.ok(verifyPost(crypto, sign(alice, { ts: 0 })), 'ts 0 is fine')
  t.ok(verifyPost(crypto, sign(alice, { ts: Number.MAX_SAFE_INTEGER })), 'the largest safe ts is fine')
})

t.test('checkNick: 1..32 characters, no controls or format characters, trimmed, well-formed', async t => {
  const good = ['a', 'alice', 'Alice Smith', 'x'.repeat(MAX_NICK_CHARS), '😀'.repeat(MAX_NICK_CHARS), 'élodie', '李小龙', 'a-b_c.d']
  for (const n of good) t.equal(checkNick(n), n, `accepts ${JSON.stringify(n)}`)
  t.equal([...'😀'.repeat(MAX_NICK_CHARS)].length, MAX_NICK_CHARS, 'astral characters count once (not as UTF-16 units)')
  const bad: Array<[string, string]> = [
    ['empty', ''],
    ['33 characters', 'x'.repeat(MAX_NICK_CHARS + 1)],
    ['33 emoji', '😀'.repeat(MAX_NICK_CHARS + 1)],
    ['leading space', ' alice'],
    ['trailing space', 'alice '],
    ['only spaces', '   '],
    ['trailing tab', 'alice\t'],
    ['NUL', 'al\u0000ice'],
    ['newline', 'al\nice'],
    ['DEL', 'al\u007fice'],
    ['C1 control', 'al\u0085ice'],
    ['zero-width space (Cf)', 'al\u200bice'],
    ['right-to-left override (Cf)', 'al\u202eice'],
    ['line separator', 'al\u2028ice'],
    ['paragraph separator', 'al\u2029ice'],
    ['lone high surrogate', 'al\ud800ice'],
    ['lone low surrogate', 'alice\udc00']
  ]
  for (const [what, n] of bad) t.throws(() => checkNick(n), DecodeError, what)
  t.throws(() => checkNick(undefined as unknown as string), DecodeError, 'undefined')
  t.throws(() => checkNick(42 as unknown as string), DecodeError, 'a number')
})

t.test('checkText: at most 4096 UTF-8 bytes, newline and tab allowed, other controls refused', async t => {
  const good: Array<[string, string]> = [
    ['empty', ''],
    ['newline and tab', 'line one\nline two\tindented'],
    ['4096 ASCII bytes', 'x'.repeat(MAX_TEXT_BYTES)],
    ['2048 two-byte characters', 'é'.repeat(MAX_TEXT_BYTES / 2)],
    ['1024 four-byte characters', '😀'.repeat(MAX_TEXT_BYTES / 4)],
    ['unicode and spaces', '  Grüße, 世界  ']
  ]
  for (const [what, s] of good) t.equal(checkText(s), s, what)
  const bad: Array<[string, string]> = [
    ['4097 ASCII bytes', 'x'.repeat(MAX_TEXT_BYTES + 1)],
    ['2049 two-byte characters (4098 bytes)', 'é'.repeat(MAX_TEXT_BYTES / 2 + 1)],
    ['1025 four-byte characters', '😀'.repeat(MAX_TEXT_BYTES / 4 + 1)],
    ['4095 ASCII + one 2-byte char', 'x'.repeat(MAX_TEXT_BYTES - 1) + 'é'],
    ['NUL', 'a\u0000b'],
    ['bell', 'a\u0007b'],
    ['carriage return', 'a\r\nb'],
    ['vertical tab', 'a\u000bb'],
    ['escape', 'a\u001b[31mred'],
    ['DEL', 'a\u007fb'],
    ['lone surrogate', 'a\ud83db']
  ]
  for (const [what, s] of bad) t.throws(() => checkText(s), DecodeError, what)
  t.throws(() => checkText(null as unknown as string), DecodeError, 'null')
})

t.test('postRecord -> MessagePack -> decodePost round trip keeps every field and the id', async t => {
  const posts = [
    sign(alice),
    sign(alice, { kind: 'dm', text: 'secret\nmulti-line\ttext 😀' }),
    sign(bob, { kind: 'join', nick: 'bob', text: '' }),
    sign(bob, { kind: 'leave', nick: 'b'.repeat(32), ts: 0 }),
    sign(alice, { text: '😀'.repeat(MAX_TEXT_BYTES / 4), ts: Number.MAX_SAFE_INTEGER })
  ]
  for (const p of posts) {
    const r = postRecord(p)
    t.same(Object.keys(r).sort(), ['a', 'c', 'k', 'n', 's', 't', 'x'], 'the record carries no id (it is recomputed)')
    const q = decodePost(crypto, wire(r))
    t.same(plain(q), plain(p), `${p.kind}: every field survives`)
    t.ok(verifyPost(crypto, q), `${p.kind}: the decoded post verifies`)
  }
})

t.test('decodePost: computes the id itself and does not check the signature', async t => {
  const p = sign(alice)
  const tampered = decodePost(crypto, wire({ ...postRecord(p), x: 'changed' }))
  t.equal(tampered.text, 'changed', 'a tampered record decodes')
  t.not(hex(tampered.id), hex(p.id), 'its id is that of the new bytes')
  t.equal(verifyPost(crypto, tampered), false, 'but it does not verify')
  const wrongSig = decodePost(crypto, wire({ ...postRecord(p), s: filled(64, 7) }))
  t.equal(hex(wrongSig.id), hex(p.id), 'the id does not cover the signature')
  t.equal(verifyPost(crypto, wrongSig), false, 'a wrong signature does not verify')
})

t.test('decodePost: refuses each bad field with DecodeError', async t => {
  const r = postRecord(sign(alice))
  const bad: Array<[string, PlainRecord]> = [
    ['kind missing', { ...r, k: null }],
    ['kind unknown', { ...r, k: 'shout' }],
    ['kind a number', { ...r, k: 2 }],
    ['conv missing', { ...r, c: null }],
    ['conv a string', { ...r, c: 'x'.repeat(32) }],
    ['conv 31 bytes', { ...r, c: filled(31, 0) }],
    ['conv 33 bytes', { ...r, c: filled(33, 0) }],
    ['author 390 bytes', { ...r, a: filled(390, 0) }],
    ['author an array', { ...r, a: [1, 2, 3] }],
    ['nick missing', { ...r, n: null }],
    ['nick a number', { ...r, n: 7 }],
    ['nick empty', { ...r, n: '' }],
    ['nick too long', { ...r, n: 'n'.repeat(33) }],
    ['nick with a space around', { ...r, n: ' alice' }],
    ['ts negative', { ...r, t: -1 }],
    ['ts fractional', { ...r, t: 1.5 }],
    ['ts a string', { ...r, t: '1700000000000' }],
    ['ts a bigint', { ...r, t: 1n }],
    ['ts over the safe range', { ...r, t: 2 ** 53 }],
    ['text missing', { ...r, x: null }],
    ['text bytes', { ...r, x: filled(3, 65) }],
    ['text too long', { ...r, x: 'x'.repeat(MAX_TEXT_BYTES + 1) }],
    ['text with controls', { ...r, x: 'a\u0001' }],
    ['sig missing', { ...r, s: null }],
    ['sig 63 bytes', { ...r, s: filled(63, 0) }],
    ['sig 65 bytes', { ...r, s: filled(65, 0) }]
  ]
  for (const [what, rec] of bad) t.throws(() => decodePost(crypto, rec), DecodeError, what)
  const missing = { ...r }
  delete missing.s
  t.throws(() => decodePost(crypto, missing), DecodeError, 'sig absent')
  t.throws(() => decodePost(crypto, {}), DecodeError, 'empty record')
})

const room = filled(32, 0x21)
const frames: Array<[string, Frame]> = [
  ['dm', { op: 'dm', post: sign(alice, { kind: 'dm', conv: crypto.sha256(bob.destination.bytes) }) }],
  ['ack', { op: 'ack', id: filled(16, 0xaa) }],
  ['room', { op: 'room', room, nonce: filled(24, 3), sealed: filled(100, 4), history: false }],
  ['room history', { op: 'room', room, nonce: filled(24, 5), sealed: filled(16, 6), history: true }],
  ['room largest', { op: 'room', room, nonce: filled(24, 5), sealed: filled(FRAME_MAX_BYTES - 200, 6), history: false }],
  ['join', { op: 'join', room, proof: filled(32, 7), since: T0 }],
  ['join since 0', { op: 'join', room, proof: filled(32, 7), since: 0 }],
  ['welcome', { op: 'welcome', room, proof: room, members: [alice.destination.bytes, bob.destination.bytes] }],
  ['welcome empty', { op: 'welcome', room, proof: room, members: [] }],
  ['deny', { op: 'deny', room }],
  ['part', { op: 'part', room }]
]

t.test('frameRecordOf -> MessagePack -> decodeFrame round trips every op', async t => {
  for (const [what, f] of frames) {
    const r = frameRecordOf(f)
    t.equal(r.op, f.op, `${what}: op named`)
    const back = decodeFrame(crypto, wire(r))
    t.same(plain(back), plain(f), `${what}: round trip`)
  }
  const room0 = frameRecordOf({ op: 'room', room, nonce: filled(24, 1), sealed: filled(16, 1), history: false })
  t.notOk('h' in room0, 'a live room frame carries no h field')
})

t.test('frameRecordOf: a welcome names at most MAX_WELCOME_MEMBERS', async t => {
  const many = Array.from({ length: MAX_WELCOME_MEMBERS + 5 }, (_, i) => filled(391, i))
  const r = frameRecordOf({ op: 'welcome', room, proof: room, members: many })
  t.equal((r.m as Uint8Array[]).length, MAX_WELCOME_MEMBERS)
  t.equal(hex((r.m as Uint8Array[])[MAX_WELCOME_MEMBERS - 1] as Uint8Array), hex(filled(391, MAX_WELCOME_MEMBERS - 1)), 'the first ones are kept')
  const f = decodeFrame(crypto, r)
  t.equal(f.op === 'welcome' ? f.members.length : -1, MAX_WELCOME_MEMBERS, 'the truncated welcome decodes')
})

t.test('decodeFrame: room history flag is true only for h === true', async t => {
  const base = { op: 'room', r: room, n: filled(24, 1), c: filled(16, 2) }
  for (const h of [1, 'true', null, false]) {
    const f = decodeFrame(crypto, { ...base, h })
    t.equal(f.op === 'room' && f.history, false, `h = ${JSON.stringify(h)}: not history`)
  }
  const f = decodeFrame(crypto, { ...base, h: true })
  t.equal(f.op === 'room' && f.history, true)
})

t.test('decodeFrame: refuses bad fields with DecodeError (not "unknown op")', async t => {
  const p = postRecord(sign(alice))
  const bad: Array<[string, PlainRecord]> = [
    ['dm without p', { op: 'dm' }],
    ['dm p null', { op: 'dm', p: null }],
    ['dm p an array', { op: 'dm', p: [p] }],
    ['dm p bytes', { op: 'dm', p: filled(10, 1) }],
    ['dm p a string', { op: 'dm', p: 'post' }],
    ['dm with a bad post', { op: 'dm', p: { ...p, c: filled(31, 0) } }],
    ['ack without id', { op: 'ack' }],
    ['ack id 15 bytes', { op: 'ack', id: filled(15, 0) }],
    ['ack id 17 bytes', { op: 'ack', id: filled(17, 0) }],
    ['ack id a string', { op: 'ack', id: 'x'.repeat(16) }],
    ['room r 31 bytes', { op: 'room', r: filled(31, 0), n: filled(24, 0), c: filled(16, 0) }],
    ['room nonce 23 bytes', { op: 'room', r: room, n: filled(23, 0), c: filled(16, 0) }],
    ['room nonce 25 bytes', { op: 'room', r: room, n: filled(25, 0), c: filled(16, 0) }],
    ['room sealed 15 bytes (shorter than a tag)', { op: 'room', r: room, n: filled(24, 0), c: filled(15, 0) }],
    ['room sealed over FRAME_MAX_BYTES', { op: 'room', r: room, n: filled(24, 0), c: filled(FRAME_MAX_BYTES + 1, 0) }],
    ['room without sealed', { op: 'room', r: room, n: filled(24, 0) }],
    ['join proof 31 bytes', { op: 'join', r: room, p: filled(31, 0), s: 0 }],
    ['join proof missing', { op: 'join', r: room, s: 0 }],
    ['join since negative', { op: 'join', r: room, p: filled(32, 0), s: -1 }],
    ['join since fractional', { op: 'join', r: room, p: filled(32, 0), s: 0.5 }],
    ['join since a string', { op: 'join', r: room, p: filled(32, 0), s: '0' }],
    ['join since unsafe', { op: 'join', r: room, p: filled(32, 0), s: 2 ** 53 }],
    ['join since missing', { op: 'join', r: room, p: filled(32, 0) }],
    ['welcome m not a list', { op: 'welcome', r: room, p: room, m: filled(391, 0) }],
    ['welcome m missing', { op: 'welcome', r: room, p: room }],
    ['welcome proof missing', { op: 'welcome', r: room, m: [] }],
    ['welcome with 33 members', { op: 'welcome', r: room, p: room, m: Array.from({ length: MAX_WELCOME_MEMBERS + 1 }, () => filled(391, 0)) }],
    ['welcome member of 390 bytes', { op: 'welcome', r: room, p: room, m: [filled(391, 0), filled(390, 0)] }],
    ['welcome member a string', { op: 'welcome', r: room, p: room, m: ['dest'] }],
    ['welcome room bad', { op: 'welcome', r: filled(3, 0), m: [] }],
    ['deny room missing', { op: 'deny' }],
    ['deny room 33 bytes', { op: 'deny', r: filled(33, 0) }],
    ['part room a number', { op: 'part', r: 5 }]
  ]
  for (const [what, r] of bad) {
    const err = thrown(() => decodeFrame(crypto, r))
    t.ok(err instanceof DecodeError, `${what}: DecodeError`)
    t.notOk(err instanceof DecodeError && err.message.startsWith('unknown op'), `${what}: not reported as an unknown op`)
  }
  const err = thrown(() => decodeFrame(crypto, { op: 'welcome', r: room, p: room, m: [filled(391, 0), filled(390, 0)] }))
  t.match((err as Error).message, /member 1/, 'the bad member is named')
})

t.test('decodeFrame: an unknown op is a DecodeError whose message starts with "unknown op"', async t => {
  const unknown: PlainRecord[] = [
    { op: 'shout', r: room },
    { op: 'DM', p: postRecord(sign(alice)) },
    { op: '' },
    { op: 'toString' },
    { op: 'constructor' },
    { op: 7 },
    { op: null },
    { op: filled(2, 0x64) },
    { op: ['dm'] },
    {},
    { op: 'x'.repeat(1000) }
  ]
  for (const r of unknown) {
    const err = thrown(() => decodeFrame(crypto, r))
    t.ok(err instanceof DecodeError, `${JSON.stringify(plain(r.op))?.slice(0, 30)}: DecodeError`)
    t.match((err as Error).message, /^unknown op/, 'message starts with "unknown op"')
  }
  const long = thrown(() => decodeFrame(crypto, { op: 'x'.repeat(1000) })) as Error
  t.ok(long.message.length < 40, 'a long op is truncated in the message')
  t.equal((thrown(() => decodeFrame(crypto, { op: 7 })) as Error).message, 'unknown op number')
})

t.test('decodeFrame: random records throw nothing but DecodeError', async t => {
  const p = postRecord(sign(alice))
  const value: fc.Arbitrary<RecordValue> = fc.oneof(
    fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.nat(), fc.constant(T0),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.constantFrom('dm', 'ack', 'room', 'join', 'welcome', 'deny', 'part', 'say', 'leave', 'alice', ''),
    fc.uint8Array({ maxLength: 70 }),
    fc.constantFrom(16, 24, 31, 32, 33, 64, 390, 391, 392).map(n => filled(n, 1)),
    fc.array(fc.constantFrom(390, 391).map(n => filled(n, 2)), { maxLength: 40 }),
    fc.array(fc.oneof(fc.integer(), fc.string(), fc.uint8Array({ maxLength: 5 })), { maxLength: 3 }),
    fc.constant(p)
  )
  const postKeys = fc.constantFrom('k', 'c', 'a', 'n', 't', 'x', 's', 'z')
  /** `base` with some fields replaced (null: removed). */
  const edit = (base: PlainRecord, over: Record<string, RecordValue>): PlainRecord => {
    const r: PlainRecord = { ...base }
    for (const [k, v] of Object.entries(over)) { if (v === null) delete r[k]; else r[k] = v }
    return r
  }
  const post = fc.dictionary(postKeys, value, { maxKeys: 2 }).map(over => edit(p, over))
  const keys = fc.constantFrom('op', 'p', 'id', 'r', 'n', 'c', 'h', 's', 'm', 'x')
  // Valid frame records with a field or two replaced or removed (the post of a dm as well).
  const valid = frames.map(([, f]) => frameRecordOf(f))
  const nearValid = fc.tuple(fc.nat(valid.length - 1), fc.dictionary(keys, fc.oneof(value, post), { maxKeys: 2 }))
    .map(([i, over]) => edit(valid[i] as PlainRecord, over))
  const random = fc.tuple(
    fc.constantFrom('dm', 'ack', 'room', 'join', 'welcome', 'deny', 'part', 'nope'),
    fc.dictionary(keys, fc.oneof(value, post), { maxKeys: 6 })
  ).map(([op, r]) => ({ op, ...r }) as PlainRecord)
  const record = fc.oneof(nearValid, random, fc.dictionary(keys, value, { maxKeys: 6 }))
  let decoded = 0
  fc.assert(fc.property(record, r => {
    const err = thrown(() => decodeFrame(crypto, r))
    if (err === undefined) decoded++
    if (err !== undefined && !(err instanceof DecodeError)) return false
    // Through real MessagePack as well (where it packs: a record may be over the frame bound).
    let bytes: Uint8Array
    try { bytes = packRecord(r, FRAME_MAX_BYTES) } catch (e) { return e instanceof LimitError }
    return onlyDecodeError(() => decodeFrame(crypto, unpackRecord(bytes, FRAME_MAX_BYTES)))
  }), { numRuns: 1000 })
  t.ok(decoded > 50, `some random records decode (${decoded} of 1000): the property reaches the success paths`)
})

t.test('random bytes: unpackRecord + decodeFrame throw nothing but DecodeError', async t => {
  const valid = frames.map(([, f]) => packRecord(frameRecordOf(f), FRAME_MAX_BYTES))
  // Valid frames with a few bytes changed, truncated, or extended.
  const mutated = fc.tuple(fc.nat(valid.length - 1), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), fc.nat(3))
    .map(([i, edits, how]) => {
      const v = valid[i] as Uint8Array
      const b = Uint8Array.from(v)
      for (const [at, x] of edits) b[at % b.length] = x
      if (how === 1) return b.subarray(0, (edits[0]?.[0] ?? 0) % b.length)
      if (how === 2) return Uint8Array.from([...b, 0xc0])
      return b
    })
  const mapLike = fc.tuple(fc.integer({ min: 0x80, max: 0x8f }), fc.uint8Array({ maxLength: 200 }))
    .map(([t, b]) => Uint8Array.of(t, 0xa2, 0x6f, 0x70, ...b))
  let records = 0
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 400 }), mutated, mapLike), bytes => {
    let r: PlainRecord
    try { r = unpackRecord(bytes, FRAME_MAX_BYTES) } catch (err) { return err instanceof DecodeError }
    records++
    return onlyDecodeError(() => decodeFrame(crypto, r))
  }), { numRuns: 2000 })
  t.ok(records > 0, `some random byte strings are records (${records}): decodeFrame was exercised`)
})

t.test('errors from the decoders are UmbraErrors with name DecodeError', async t => {
  const err = thrown(() => decodeFrame(crypto, { op: 'ack', id: filled(3, 0) }))
  t.ok(err instanceof UmbraError)
  t.equal((err as Error).name, 'DecodeError')
})

// Bugs found in review (fixed): inherited kind names, verifyPost on out-of-range fields, an oversized welcome.

t.test('decodePost/decodeFrame/signPost: a kind named like an Object.prototype member is a DecodeError', async t => {
  const r = postRecord(sign(alice))
  for (const k of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
    const viaFrame = thrown(() => decodeFrame(crypto, { op: 'dm', p: { ...r, k } }))
    t.ok(viaFrame instanceof UmbraError, `decodeFrame dm kind ${k}: refused with an UmbraError`)
    t.ok(viaFrame instanceof DecodeError, `decodeFrame dm kind ${k}: DecodeError`)
    const viaSign = thrown(() => sign(alice, { kind: k as PostKind }))
    t.ok(viaSign instanceof UmbraError, `signPost kind ${k}: refused with an UmbraError`)
    t.ok(viaSign instanceof DecodeError, `signPost kind ${k}: DecodeError`)
  }
})

t.test('verifyPost: returns false (does not throw) for out-of-range fields', async t => {
  const p = sign(alice)
  const cases: Array<[string, Post]> = [
    ['nick over 128 bytes', { ...p, nick: 'n'.repeat(200) }],
    ['negative ts', { ...p, ts: -1 }],
    ['unknown kind', { ...p, kind: 'shout' as PostKind }],
    ['text over 4096 bytes', { ...p, text: 'x'.repeat(MAX_TEXT_BYTES + 1) }]
  ]
  for (const [what, q] of cases) {
    let result: boolean | undefined
    const err = thrown(() => { result = verifyPost(crypto, q) })
    t.notOk(result, `${what}: not accepted`)
    t.equal(err, undefined, `${what}: no exception`)
  }
})

t.test('a welcome naming MAX_WELCOME_MEMBERS destinations fits in a frame', async t => {
  const members = (n: number): Uint8Array[] => Array.from({ length: n }, () => alice.destination.bytes)
  const fits = (n: number): boolean => thrown(() => packRecord(frameRecordOf({ op: 'welcome', room, proof: room, members: members(n) }), FRAME_MAX_BYTES)) === undefined
  t.ok(fits(MAX_WELCOME_MEMBERS - 1), `${MAX_WELCOME_MEMBERS - 1} members fit`)
  t.ok(fits(MAX_WELCOME_MEMBERS), `${MAX_WELCOME_MEMBERS} members fit`)
})
