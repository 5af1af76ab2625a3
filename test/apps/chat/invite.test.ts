/**
 * Room invites (apps/chat/invite.ts): formatInvite/parseInvite round trips (names needing URL
 * escapes, 0..MAX_VIA addresses), defaults, and every refusal: prefix, base32, secret length,
 * too many or malformed `via`, over-long text, bad room names. All refusals are DecodeErrors.
 */
import t from 'tap'
import { loadCrypto } from '../../../src/crypto/index.ts'
import { b32Address, generateDestination } from '../../../src/identity/destination.ts'
import { MAX_ROOM_NAME, MAX_VIA, checkRoomName, formatInvite, parseInvite, type Invite } from '../../../src/apps/chat/invite.ts'
import { DecodeError } from '../../../src/util/errors.ts'
import { base32Encode } from '../../../src/wire/base32.ts'

const crypto = await loadCrypto()
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
const PREFIX = 'umbra://chat/room/'
const SECRET = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1)
const addrs = Array.from({ length: MAX_VIA + 2 }, () => b32Address(crypto, generateDestination(crypto).destination.bytes))
const via = (n: number): string[] => addrs.slice(0, n)
const S32 = base32Encode(SECRET)

t.test('formatInvite: the documented layout', async t => {
  const text = formatInvite({ secret: SECRET, name: 'lobby', via: via(2) })
  t.equal(text, `${PREFIX}${S32}?name=lobby&via=${addrs[0]}&via=${addrs[1]}`)
  t.equal(S32.length, 52, '32 bytes are 52 base32 characters')
  t.match(S32, /^[a-z2-7]{52}$/, 'lowercase, unpadded')
})

t.test('format/parse round trip', async t => {
  const names = [
    'lobby', 'a', 'x'.repeat(MAX_ROOM_NAME), '😀'.repeat(MAX_ROOM_NAME), 'two words', 'a&b=c?d#e', '100% + more',
    'slash/and\\back', 'Grüße 世界', ' padded ', 'quote"\'`<>'
  ]
  for (const name of names) {
    for (const n of [0, 1, MAX_VIA]) {
      const inv: Invite = { secret: SECRET, name, via: via(n) }
      const back = parseInvite(formatInvite(inv))
      t.equal(hex(back.secret), hex(SECRET), `${JSON.stringify(name)} / ${n} via: secret`)
      t.equal(back.name, name, `${JSON.stringify(name)} / ${n} via: name`)
      t.same(back.via, inv.via, `${JSON.stringify(name)} / ${n} via: via`)
    }
  }
  for (let i = 0; i < 20; i++) {
    const secret = crypto.randomBytes(32)
    t.equal(hex(parseInvite(formatInvite({ secret, name: 'r', via: [] })).secret), hex(secret), `random secret ${i}`)
  }
})

t.test('formatInvite: names at most MAX_VIA members and checks the name', async t => {
  const text = formatInvite({ secret: SECRET, name: 'big', via: via(MAX_VIA + 2) })
  t.same(parseInvite(text).via, via(MAX_VIA), 'the first MAX_VIA are kept')
  t.throws(() => formatInvite({ secret: SECRET, name: '', via: [] }), DecodeError, 'empty name')
  t.throws(() => formatInvite({ secret: SECRET, name: 'a\nb', via: [] }), DecodeError, 'control character in name')
})

t.test('parseInvite: surrounding whitespace, defaults, case of addresses, extra parameters', async t => {
  const inv = parseInvite(`  \n${formatInvite({ secret: SECRET, name: 'lobby', via: via(1) })}\t \n`)
  t.equal(inv.name, 'lobby', 'trimmed')
  const bare = parseInvite(PREFIX + S32)
  t.equal(bare.name, 'room', 'no query: name defaults to room')
  t.same(bare.via, [])
  t.equal(hex(bare.secret), hex(SECRET))
  t.equal(parseInvite(`${PREFIX}${S32}?`).name, 'room', 'empty query')
  t.equal(parseInvite(`${PREFIX}${S32}?via=${addrs[0]}`).name, 'room', 'via only')
  const upper = (addrs[0] as string).toUpperCase()
  t.same(parseInvite(`${PREFIX}${S32}?via=${upper}`).via, [upper], 'an upper-case address is accepted (kept as given)')
  const i2p = (addrs[0] as string).replace(/\.b32\.umbra$/, '.b32.i2p')
  t.same(parseInvite(`${PREFIX}${S32}?via=${i2p}`).via, [i2p], '.b32.i2p accepted')
  t.equal(parseInvite(`${PREFIX}${S32}?x=1&name=chat&name=second&y`).name, 'chat', 'unknown parameters ignored, the first name wins')
  t.equal(parseInvite(`${PREFIX}${S32}?name=two+words`).name, 'two words', 'form encoding of spaces')
  t.equal(parseInvite(`${PREFIX}${S32}?name=%F0%9F%98%80`).name, '😀', 'percent-encoded UTF-8')
})

t.test('parseInvite: a bad prefix is a DecodeError', async t => {
  for (const text of [
    `umbra://chat/dm/${S32}`, `umbra://chat/${S32}`, `https://chat/room/${S32}`, `UMBRA://CHAT/ROOM/${S32}`,
    `umbra:/chat/room/${S32}`, S32, '', '   ', `x${PREFIX}${S32}`
  ]) {
    t.throws(() => parseInvite(text), DecodeError, JSON.stringify(text.slice(0, 30)))
  }
})

t.test('parseInvite: a secret that is not base32 is a DecodeError', async t => {
  const cases: Array<[string, string]> = [
    ['upper case', S32.toUpperCase()],
    ['digit 1', '1' + S32.slice(1)],
    ['digit 8', S32.slice(0, 51) + '8'],
    ['padding', S32 + '===='],
    ['impossible length (53)', S32 + 'a'],
    ['non-canonical trailing bits', S32.slice(0, 51) + 'b'],
    ['a space inside', S32.slice(0, 20) + ' ' + S32.slice(21)],
    ['non-ASCII', S32.slice(0, 51) + 'é'],
    ['path segment', S32 + '/x']
  ]
  for (const [what, s] of cases) t.throws(() => parseInvite(`${PREFIX}${s}?name=x`), DecodeError, what)
  const err = (() => { try { parseInvite(`${PREFIX}${S32.toUpperCase()}`) } catch (e) { return e } })()
  t.ok(err instanceof DecodeError && err.cause instanceof DecodeError, 'the base32 error is the cause')
})

t.test('parseInvite: a secret of the wrong length is a DecodeError', async t => {
  for (const n of [0, 1, 16, 31, 33, 64]) {
    const text = `${PREFIX}${base32Encode(new Uint8Array(n).fill(5))}?name=x`
    t.throws(() => parseInvite(text), { name: 'DecodeError', message: new RegExp(`${n} bytes`) }, `${n} bytes`)
  }
})

t.test('parseInvite: too many via, or a via that is not a .b32.umbra address, is a DecodeError', async t => {
  const base = `${PREFIX}${S32}?name=x`
  const all = (list: string[]): string => base + list.map(v => `&via=${encodeURIComponent(v)}`).join('')
  t.equal(parseInvite(all(via(MAX_VIA))).via.length, MAX_VIA, 'MAX_VIA is fine')
  t.throws(() => parseInvite(all(via(MAX_VIA + 1))), DecodeError, 'MAX_VIA + 1')
  const a = addrs[0] as string
  const bad = [
    'example.com', '', a.slice(1), `a${a}`, a.replace('.b32.umbra', '.b33.umbra'), a.replace('.b32.umbra', ''),
    `${'1'.repeat(52)}.b32.umbra`, `${'a'.repeat(52)}.b32.umbra.evil`, `${'a'.repeat(56)}.b32.umbra`
  ]
  for (const v of bad) t.throws(() => parseInvite(all([a, v])), DecodeError, `via ${JSON.stringify(v.slice(0, 30))}`)
  const dest = Buffer.from(generateDestination(crypto).destination.bytes).toString('base64')
  t.throws(() => parseInvite(all([dest])), DecodeError, 'a base64 destination is not accepted')
})

t.test('parseInvite: over 2048 characters is a DecodeError', async t => {
  const base = `${PREFIX}${S32}?name=x&pad=`
  const exact = base + 'p'.repeat(2048 - base.length)
  t.equal(exact.length, 2048)
  t.equal(parseInvite(exact).name, 'x', '2048 characters are fine')
  t.throws(() => parseInvite(exact + 'p'), DecodeError, '2049 characters')
  t.throws(() => parseInvite('u'.repeat(100_000)), DecodeError, 'a huge paste')
  t.equal(parseInvite(`  ${exact}  `).name, 'x', 'surrounding whitespace does not count')
})

t.test('parseInvite: bad room names are DecodeErrors', async t => {
  const bad: Array<[string, string]> = [
    ['empty', ''],
    ['NUL', 'a%00b'],
    ['newline', 'a%0Ab'],
    ['tab', 'a%09b'],
    ['DEL', 'a%7Fb'],
    ['C1 control', 'a%C2%85b'],
    ['zero-width space', 'a%E2%80%8Bb'],
    ['right-to-left override', 'a%E2%80%AEb'],
    ['65 characters', 'x'.repeat(MAX_ROOM_NAME + 1)]
  ]
  for (const [what, name] of bad) t.throws(() => parseInvite(`${PREFIX}${S32}?name=${name}`), DecodeError, what)
})

t.test('checkRoomName: 1..64 characters without control or format characters', async t => {
  for (const n of ['a', 'x'.repeat(MAX_ROOM_NAME), '😀'.repeat(MAX_ROOM_NAME), 'two words', ' spaced ']) t.equal(checkRoomName(n), n, JSON.stringify(n))
  for (const n of ['', 'x'.repeat(MAX_ROOM_NAME + 1), '😀'.repeat(MAX_ROOM_NAME + 1), 'a\u0000', 'a\u001b', 'a\u200d', 'a\ud800', '\udfff']) {
    t.throws(() => checkRoomName(n), DecodeError, JSON.stringify(n))
  }
})
