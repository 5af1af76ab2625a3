/**
 * File-sharing URIs: the golden chk URI of the 100 × 0x61 block, chk and ksk round trips
 * (fast-check), trimming and the case-insensitive scheme, and a table of bad inputs with the
 * error class each must raise (LimitError for oversize input, DecodeError for the rest; format
 * refuses bad arguments with ConfigError).
 */
import t from 'tap'
import fc from 'fast-check'
import { loadCrypto } from '../../../src/crypto/index.ts'
import { chkEquals, encryptBlock } from '../../../src/apps/fs/chk.ts'
import { MAX_FILE_SIZE } from '../../../src/apps/fs/tree.ts'
import { formatChkUri, formatKskUri, MAX_URI_LENGTH, parseUri } from '../../../src/apps/fs/uri.ts'
import { ConfigError, DecodeError, LimitError } from '../../../src/util/errors.ts'

const crypto = await loadCrypto()
const GOLDEN_KEY = '64bgtk7zwo2djdrliz6rviqugvb35wzazketqrggj3d54jffkoeq'
const GOLDEN_QUERY = '7fwis7efpir7k4ms5dtafweefy6avidp3uvcelhmh3ihpvupgdza'
const GOLDEN = `umbra://fs/chk/${GOLDEN_KEY}.${GOLDEN_QUERY}.100`

t.test('golden chk URI: the block of 100 bytes of 0x61', async t => {
  const { chk } = encryptBlock(crypto, new Uint8Array(100).fill(0x61))
  t.equal(formatChkUri(chk, 100), GOLDEN)
  const u = parseUri(GOLDEN)
  t.ok(u.kind === 'chk' && chkEquals(u.chk, chk) && u.size === 100)
  t.same(parseUri(`  \n UMBRA://FS/chk/${GOLDEN_KEY}.${GOLDEN_QUERY}.100\t`), u, 'trimmed, scheme case-insensitive')
  t.equal(formatKskUri(['holiday photos', 'a+b', 'ünï']), 'umbra://fs/ksk/holiday%20photos+a%2Bb+%C3%BCn%C3%AF')
})

t.test('chk round trip', async t => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }),
    fc.integer({ min: 0, max: MAX_FILE_SIZE }), (key, query, size) => {
      const u = parseUri(formatChkUri({ key, query }, size))
      return u.kind === 'chk' && chkEquals(u.chk, { key, query }) && u.size === size
    }), { numRuns: 200 })
  t.pass('200 random CHKs and sizes')
})

t.test('ksk round trip', async t => {
  fc.assert(fc.property(fc.array(fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' }), { minLength: 1, maxLength: 8 }), keywords => {
    const u = parseUri(formatKskUri(keywords))
    return u.kind === 'ksk' && JSON.stringify(u.keywords) === JSON.stringify(keywords)
  }), { numRuns: 200 })
  t.same(parseUri('umbra://fs/ksk/x'), { kind: 'ksk', keywords: ['x'] })
})

t.test('bad inputs and the error each raises', async t => {
  const k = GOLDEN_KEY
  const q = GOLDEN_QUERY
  const table: Array<[string, string, typeof DecodeError | typeof LimitError]> = [
    ['empty', '', DecodeError],
    ['wrong scheme', `gnunet://fs/chk/${k}.${q}.100`, DecodeError],
    ['no fs host', `umbra://chk/${k}.${q}.100`, DecodeError],
    ['unknown kind', `umbra://fs/sks/${k}/root`, DecodeError],
    ['kind case', `umbra://fs/CHK/${k}.${q}.100`, DecodeError],
    ['missing kind', 'umbra://fs/', DecodeError],
    ['no chk body', 'umbra://fs/chk', DecodeError],
    ['two parts', `umbra://fs/chk/${k}.${q}`, DecodeError],
    ['four parts', `umbra://fs/chk/${k}.${q}.1.2`, DecodeError],
    ['short key', `umbra://fs/chk/${k.slice(1)}.${q}.100`, DecodeError],
    ['uppercase base32', `umbra://fs/chk/${k.toUpperCase()}.${q}.100`, DecodeError],
    ['bad base32 char', `umbra://fs/chk/${k.slice(0, -1)}1.${q}.100`, DecodeError],
    ['non-canonical trailing bits', `umbra://fs/chk/${k}.${q.slice(0, -1)}b.100`, DecodeError],
    ['empty size', `umbra://fs/chk/${k}.${q}.`, DecodeError],
    ['leading zero', `umbra://fs/chk/${k}.${q}.0100`, DecodeError],
    ['negative size', `umbra://fs/chk/${k}.${q}.-1`, DecodeError],
    ['fractional size', `umbra://fs/chk/${k}.${q}.1.5`, DecodeError],
    ['hex size', `umbra://fs/chk/${k}.${q}.0x10`, DecodeError],
    ['size too big', `umbra://fs/chk/${k}.${q}.${MAX_FILE_SIZE + 1}`, DecodeError],
    ['size far too big', `umbra://fs/chk/${k}.${q}.${'9'.repeat(40)}`, DecodeError],
    ['inner space', `umbra://fs/chk/${k}.${q}. 100`, DecodeError],
    ['no keywords', 'umbra://fs/ksk/', DecodeError],
    ['no keyword slash', 'umbra://fs/ksk', DecodeError],
    ['leading +', 'umbra://fs/ksk/+a', DecodeError],
    ['trailing +', 'umbra://fs/ksk/a+', DecodeError],
    ['++', 'umbra://fs/ksk/a++b', DecodeError],
    ['bad escape', 'umbra://fs/ksk/a%zz', DecodeError],
    ['bad utf-8 escape', 'umbra://fs/ksk/%c3', DecodeError],
    ['too long', 'umbra://fs/ksk/' + 'a'.repeat(MAX_URI_LENGTH), LimitError]
  ]
  for (const [what, input, cls] of table) t.throws(() => parseUri(input), cls, what)
  t.throws(() => parseUri(`umbra://fs/chk/${k}.${q}.0100`), { message: /leading zeros/ }, 'message says what is wrong')
  t.throws(() => parseUri(`umbra://fs/ksk/a++b`), { message: /empty/ })
  t.equal(parseUri(`umbra://fs/chk/${k}.${q}.${MAX_FILE_SIZE}`).kind, 'chk', 'MAX_FILE_SIZE itself is fine')
  t.equal(parseUri(`umbra://fs/chk/${k}.${q}.0`).kind, 'chk', 'size 0 is fine')
})

t.test('format refuses bad arguments', async t => {
  const chk = { key: new Uint8Array(32), query: new Uint8Array(32) }
  t.throws(() => formatChkUri(chk, -1), ConfigError)
  t.throws(() => formatChkUri(chk, 1.5), ConfigError)
  t.throws(() => formatChkUri(chk, MAX_FILE_SIZE + 1), ConfigError)
  t.throws(() => formatChkUri({ key: new Uint8Array(31), query: chk.query }, 1), ConfigError)
  t.throws(() => formatKskUri([]), ConfigError)
  t.throws(() => formatKskUri(['a', '']), ConfigError)
  t.throws(() => formatKskUri(['\ud800']), ConfigError, 'lone surrogate')
  t.throws(() => formatKskUri(['a'.repeat(MAX_URI_LENGTH)]), LimitError)
})
