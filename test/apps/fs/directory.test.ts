/**
 * Directory listings: round trip, the magic, the path-traversal guard on a table of hostile
 * paths (on both encode and decode), duplicate paths and file/directory clashes, entry bounds,
 * and random bytes or random records after the magic: only DecodeError or LimitError.
 */
import t from 'tap'
import fc from 'fast-check'
import {
  decodeDirectory, DIRECTORY_MAGIC, encodeDirectory, isDirectory, MAX_DIR_ENTRIES, safeRelativePath, type DirEntry
} from '../../../src/apps/fs/directory.ts'
import { ConfigError, DecodeError, LimitError } from '../../../src/util/errors.ts'
import { packRecord } from '../../../src/wire/msgpack.ts'

/** A listing with any entries, bypassing encodeDirectory's checks. */
function raw (record: object): Uint8Array {
  const body = packRecord(record)
  const out = new Uint8Array(DIRECTORY_MAGIC.length + body.length)
  out.set(DIRECTORY_MAGIC)
  out.set(body, DIRECTORY_MAGIC.length)
  return out
}

const entries: DirEntry[] = [
  { path: 'readme.txt', uri: 'umbra://fs/chk/a', size: 12, type: 'text/plain' },
  { path: 'src/main.c', uri: 'umbra://fs/chk/b', size: 0 },
  { path: 'src/lib/ünïcode 文件.bin', uri: 'umbra://fs/chk/c', size: 2 ** 40 },
  { path: '.hidden/..x/x..', uri: 'umbra://fs/chk/d', size: 1 }
]

t.test('round trip', async t => {
  const bytes = encodeDirectory(entries)
  t.same(DIRECTORY_MAGIC, Uint8Array.of(0x55, 0x4d, 0x42, 0x52, 0x41, 0x44, 0x49, 0x52, 1))
  t.ok(isDirectory(bytes))
  t.ok(isDirectory(bytes.subarray(0, 9)))
  t.notOk(isDirectory(bytes.subarray(0, 8)))
  t.notOk(isDirectory(new TextEncoder().encode('UMBRADIR\u0002...')))
  t.same(decodeDirectory(bytes), entries)
  t.same(decodeDirectory(encodeDirectory([])), [])
  t.same(decodeDirectory(raw({ entries: [{ path: 'a', uri: 'u', size: 1, extra: 1 }], future: true })), [{ path: 'a', uri: 'u', size: 1 }],
    'unknown fields dropped')
})

const hostile = [
  '../x', 'a/../b', '..', 'a/..', '/etc/passwd', '/', 'C:/x', 'c:x', 'C:', 'a\\b', '..\\x', 'a//b', 'a/', '', '.', './a', 'a/./b',
  'x\u0000y', 'a\nb', 'a\u007fb', 'a\u009bb', '.. /x', 'a/...', ' ', 'x'.repeat(300), `a/${'é'.repeat(128)}/b`,
  `${'a/'.repeat(2048)}b`, '\ud800'
]

t.test('hostile paths are rejected, on decode and on encode', async t => {
  for (const p of hostile) {
    const name = JSON.stringify(p.length > 40 ? `${p.slice(0, 40)}...(${p.length})` : p)
    t.throws(() => safeRelativePath(p), DecodeError, name)
    t.throws(() => decodeDirectory(raw({ entries: [{ path: p, uri: 'u', size: 1 }] })), DecodeError, `decode ${name}`)
    t.throws(() => encodeDirectory([{ path: p, uri: 'u', size: 1 }]), ConfigError, `encode ${name}`)
  }
  t.throws(() => safeRelativePath(5 as unknown as string), DecodeError)
  for (const ok of ['a', 'a/b/c', '...x', 'x.', '.a', `${'é'.repeat(127)}x`, `${'a/'.repeat(2047)}bc`]) {
    t.equal(safeRelativePath(ok), ok, `accepted: ${ok.slice(0, 20)}`)
  }
})

t.test('duplicates and file/directory clashes are rejected', async t => {
  const dup = [{ path: 'a/b', uri: 'u', size: 1 }, { path: 'c', uri: 'u', size: 1 }, { path: 'a/b', uri: 'v', size: 2 }]
  t.throws(() => decodeDirectory(raw({ entries: dup })), DecodeError)
  t.throws(() => encodeDirectory(dup), ConfigError)
  const clash = [{ path: 'a/b/c', uri: 'u', size: 1 }, { path: 'a/b', uri: 'u', size: 1 }]
  t.throws(() => decodeDirectory(raw({ entries: clash })), DecodeError, "'a/b' both a file and a directory")
  t.same(decodeDirectory(raw({ entries: [{ path: 'a/b', uri: 'u', size: 1 }, { path: 'a/bc', uri: 'u', size: 1 }] })).length, 2)
})

t.test('entry and listing bounds', async t => {
  for (const [what, e] of [
    ['empty uri', { path: 'a', uri: '', size: 1 }], ['long uri', { path: 'a', uri: 'u'.repeat(2049), size: 1 }],
    ['negative size', { path: 'a', uri: 'u', size: -1 }], ['fractional size', { path: 'a', uri: 'u', size: 0.5 }],
    ['unsafe size', { path: 'a', uri: 'u', size: 2 ** 53 }], ['size string', { path: 'a', uri: 'u', size: '1' }],
    ['no path', { uri: 'u', size: 1 }], ['type number', { path: 'a', uri: 'u', size: 1, type: 3 }],
    ['long type', { path: 'a', uri: 'u', size: 1, type: 't'.repeat(128) }], ['entry not a map', 'a']
  ] as const) {
    t.throws(() => decodeDirectory(raw({ entries: [e] })), DecodeError, what)
  }
  t.throws(() => decodeDirectory(raw({ entries: {} })), DecodeError, 'entries not an array')
  t.throws(() => decodeDirectory(raw({})), DecodeError, 'no entries')
  t.throws(() => decodeDirectory(Uint8Array.of(1, 2, 3)), DecodeError, 'no magic')
  t.throws(() => decodeDirectory(DIRECTORY_MAGIC), DecodeError, 'magic only')
  t.throws(() => decodeDirectory(new Uint8Array(64 * 1024 * 1024 + 1)), LimitError, 'over 64 MiB')
  const many = Array.from({ length: MAX_DIR_ENTRIES + 1 }, (_, i) => ({ path: `f${i}`, uri: 'u', size: 0 }))
  t.throws(() => decodeDirectory(raw({ entries: many })), LimitError, 'too many entries')
  t.throws(() => encodeDirectory(many), LimitError)
  t.equal(decodeDirectory(encodeDirectory(many.slice(1))).length, MAX_DIR_ENTRIES, 'exactly the maximum')
})

t.test('random bytes or records after the magic: only DecodeError or LimitError', async t => {
  const typed = (b: Uint8Array): boolean => {
    try { decodeDirectory(b) } catch (err) { return err instanceof DecodeError || err instanceof LimitError }
    return true
  }
  const withMagic = (b: Uint8Array): Uint8Array => { const o = new Uint8Array(9 + b.length); o.set(DIRECTORY_MAGIC); o.set(b, 9); return o }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), b => typed(withMagic(b)) && typed(b)), { numRuns: 1000 })
  const entry = fc.record({ path: fc.oneof(fc.string(), fc.constantFrom(...hostile)), uri: fc.string(), size: fc.oneof(fc.integer(), fc.double()) },
    { requiredKeys: [] })
  fc.assert(fc.property(fc.array(fc.oneof(entry, fc.jsonValue())), es => {
    let b: Uint8Array
    try { b = raw({ entries: es }) } catch { return true }
    return typed(b)
  }), { numRuns: 500 })
  t.pass('1000 random byte strings, 500 random records')
})
