/** Seed files: format/parse round trip, comments and whitespace, bounds, and hostile input. */
import t from 'tap'
import fc from 'fast-check'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeSeedInfo, formatSeedFile, MAX_SEED_FILE_BYTES, parseSeedFile, SEED_FILE_LIMITS, SeedFileError } from '../../src/router/seed-file.ts'
import { loadSeeds } from '../../src/router/seeds.ts'
import { b64, makeInfos } from './seed-fixtures.ts'

t.test('round trip: format then parse gives the same bytes, in order', async t => {
  const infos = await makeInfos(3)
  const text = formatSeedFile(infos, ['umbra seed file', 'two\nlines'])
  t.match(text, /^# umbra seed file\n# two lines\n/, 'comments are prefixed and kept on one line')
  const entries = parseSeedFile(text)
  t.same(entries.map(e => e.bytes), infos)
  t.same(entries.map(e => e.line), [3, 4, 5], 'line numbers are 1-based and count comments')
  t.same(entries[0]!.info.addresses, [{ url: 'tcp://127.0.0.1:7000', cost: 20 }], 'each entry is parsed')
  t.equal(formatSeedFile(entries.map(e => e.bytes), ['umbra seed file', 'two\nlines']), text, 'byte-identical re-format')
  t.equal(formatSeedFile([]), '', 'an empty seed file')
  t.same(parseSeedFile(''), [])
})

t.test('comments, blank lines, CRLF, surrounding space and duplicates', async t => {
  const [a, b] = await makeInfos(2)
  const text = `\r\n# comment\n   # indented comment\n\t${b64(a!)}  \r\n\n${b64(b!)}\r\n${b64(a!)}`
  const entries = parseSeedFile(text)
  t.same(entries.map(e => e.bytes), [a, b], 'duplicates kept once, no trailing newline needed')
  t.same(entries.map(e => e.line), [4, 6])
})

t.test('bad lines are refused with their line number', async t => {
  const [a] = await makeInfos(1)
  const good = b64(a!)
  const flipped = Buffer.from(a!)
  flipped[0] = 99
  const cases: Array<[string, number, RegExp]> = [
    [`${good}\nnot base64 at all\n`, 2, /line 2: not padded standard base64/],
    [`# c\n${good.slice(0, -1)}\n`, 2, /line 2: not padded standard base64/],
    [`${good.replace(/\+/g, '-').replace(/\//g, '~')}\n`, 1, /line 1: not padded standard base64/],
    ['QQ==\n', 1, /line 1: not a RouterInfo/],
    ['QR==\n', 1, /line 1: non-canonical base64/],
    [`${b64(flipped)}\n`, 1, /line 1: not a RouterInfo: unknown RouterInfo version 99/],
    [`${b64(new Uint8Array([...a!, 0]))}\n`, 1, /line 1: not a RouterInfo/],
    [`${good} ${good}\n`, 1, /line 1: not padded standard base64/],
    [`\n\n${'A'.repeat(SEED_FILE_LIMITS.lineBytes + 1)}\n`, 3, /line 3: line longer than 8192 bytes/]
  ]
  for (const [text, line, msg] of cases) {
    const err = t.throws(() => parseSeedFile(text), { name: 'DecodeError', message: msg }, msg.source) as unknown
    t.ok(err instanceof SeedFileError && err.line === line, `line ${line}`)
  }
})

t.test('bounds: lines and size', async t => {
  t.throws(() => parseSeedFile('#\n'.repeat(SEED_FILE_LIMITS.lines + 1)), { name: 'DecodeError', message: /more than 1000 lines/ })
  t.same(parseSeedFile('#\n'.repeat(SEED_FILE_LIMITS.lines)), [], 'exactly 1000 lines is fine')
  t.throws(() => parseSeedFile('#'.repeat(MAX_SEED_FILE_BYTES + 1)), { name: 'DecodeError', message: /larger than/ })
  t.throws(() => formatSeedFile([], Array.from({ length: 1001 }, () => 'c')), { name: 'DecodeError' })
  t.throws(() => formatSeedFile([new Uint8Array(7000)]), { name: 'DecodeError', message: /longer than 8192/ })
  t.throws(() => decodeSeedInfo('A'.repeat(9000)), { name: 'DecodeError', message: /longer than 8192/ })
})

t.test('hostile input: random text never throws anything but SeedFileError, and never hangs', async t => {
  const [a] = await makeInfos(1)
  const good = b64(a!)
  fc.assert(fc.property(fc.array(fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.constant(good),
    fc.constant('# comment'),
    fc.base64String({ maxLength: 400 }),
    fc.string({ maxLength: 20 }).map(s => good.slice(0, 100) + s + good.slice(100))
  ), { maxLength: 30 }), (lines) => {
    try {
      const entries = parseSeedFile(lines.join('\n'))
      for (const e of entries) t.equal(b64(e.bytes), good, 'only the genuine RouterInfo parses')
    } catch (err) {
      if (!(err instanceof SeedFileError)) throw err
    }
  }), { numRuns: 300 })
})

t.test('loadSeeds: files and inline infos, errors name the file and line', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'umbra-seeds-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const [a, b, c] = await makeInfos(3)
  await writeFile(join(dir, 'one.txt'), formatSeedFile([a!, b!], ['seeds']))
  await writeFile(join(dir, 'two.txt'), formatSeedFile([b!]))
  const got = await loadSeeds({ files: [join(dir, 'one.txt'), join(dir, 'two.txt')], infos: [b64(c!), b64(a!)] })
  t.same(got.map(e => e.bytes), [a, b, c], 'in order, duplicates across sources kept once')

  await writeFile(join(dir, 'bad.txt'), `${b64(a!)}\ngarbage\n`)
  await t.rejects(loadSeeds({ files: [join(dir, 'bad.txt')], infos: [] }), { name: 'ConfigError', message: /seed file .*bad\.txt: line 2: not padded standard base64/ })
  await t.rejects(loadSeeds({ files: [join(dir, 'none.txt')], infos: [] }), { name: 'ConfigError', message: /cannot read .*none\.txt: no such file/ })
  await t.rejects(loadSeeds({ files: [], infos: ['AAAA'] }), { name: 'ConfigError', message: /seeds\.infos\[0\]: not a RouterInfo/ })
  await writeFile(join(dir, 'huge.txt'), Buffer.alloc(MAX_SEED_FILE_BYTES + 1, 0x23))
  await t.rejects(loadSeeds({ files: [join(dir, 'huge.txt')], infos: [] }), { name: 'ConfigError', message: /larger than/ })
})
