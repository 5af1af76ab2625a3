/** The log writers: levels, both line formats, child fields, and fields that do not serialize. */
import t from 'tap'
import { Writable } from 'node:stream'
import { createLogger, parseLogFormat, parseLogLevel, safeValue } from '../../src/util/log-writer.ts'
import type { LogFields } from '../../src/util/log.ts'

const WALL = Date.UTC(2024, 4, 1, 12, 34, 56, 789)
const clock = { now: () => 0, wall: () => WALL }

function sink (): { stream: Writable, lines: () => string[] } {
  let text = ''
  const stream = new Writable({ write (chunk: Buffer, _enc, cb) { text += chunk.toString(); cb() } })
  return { stream, lines: () => text.split('\n').filter(l => l !== '') }
}

t.test('json: one object per line with t, level, msg and fields', async t => {
  const s = sink()
  const log = createLogger({ level: 'info', format: 'json', stream: s.stream, clock })
  log.info('link up', { peer: 'ab12', transport: 'udp', n: 3, ok: true, none: null, gone: undefined })
  const [line] = s.lines()
  t.same(JSON.parse(line!), { t: '2024-05-01T12:34:56.789Z', level: 'info', msg: 'link up', peer: 'ab12', transport: 'udp', n: 3, ok: true, none: null })
  t.ok(line!.startsWith('{"t":'), 't comes first')
})

t.test('text: local HH:MM:SS.mmm, padded level, k=v with quoting', async t => {
  const s = sink()
  const log = createLogger({ level: 'debug', format: 'text', stream: s.stream, clock })
  log.warn('link down', { peer: 'ab12', error: 'timed out after 5 s', empty: '', n: 1.5 })
  const d = new Date(WALL)
  const p = (n: number, w = 2): string => String(n).padStart(w, '0')
  const time = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`
  t.same(s.lines(), [`${time} WARN  link down peer=ab12 error="timed out after 5 s" empty="" n=1.5`])
})

t.test('levels below the threshold are dropped', async t => {
  for (const [level, expected] of [['debug', 4], ['info', 3], ['warn', 2], ['error', 1]] as const) {
    const s = sink()
    const log = createLogger({ level, format: 'json', stream: s.stream, clock })
    log.debug('d'); log.info('i'); log.warn('w'); log.error('e')
    t.equal(s.lines().length, expected, level)
    t.same(s.lines().map(l => JSON.parse(l).level as string), ['debug', 'info', 'warn', 'error'].slice(4 - expected))
  }
})

t.test('child merges fields; the call\'s fields win; children nest', async t => {
  const s = sink()
  const root = createLogger({ level: 'info', format: 'json', stream: s.stream, clock })
  const a = root.child({ component: 'netdb', shard: 1 })
  const b = a.child({ shard: 2, peer: 'x' })
  a.info('one')
  b.info('two', { peer: 'y' })
  root.info('three')
  const recs = s.lines().map(l => JSON.parse(l) as Record<string, unknown>)
  t.match(recs[0], { msg: 'one', component: 'netdb', shard: 1 })
  t.match(recs[1], { msg: 'two', component: 'netdb', shard: 2, peer: 'y' })
  t.notOk('component' in recs[2]!, 'the parent is unchanged')
})

t.test('fields that do not serialize never crash the logger', async t => {
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  const weird = {
    big: 10n ** 30n,
    cyc: cyclic,
    fn: () => 1,
    sym: Symbol('s'),
    err: new TypeError('bad'),
    bytes: new Uint8Array(32),
    nan: Number.NaN,
    inf: Infinity,
    obj: { a: 1 },
    throwing: { toJSON () { throw new Error('no') } }
  } as unknown as LogFields
  for (const format of ['json', 'text'] as const) {
    const s = sink()
    const log = createLogger({ level: 'debug', format, stream: s.stream, clock })
    t.doesNotThrow(() => { log.info('weird', weird) }, format)
    t.equal(s.lines().length, 1, `${format}: one line`)
    if (format === 'json') {
      const rec = JSON.parse(s.lines()[0]!) as Record<string, unknown>
      t.match(rec, { big: '1000000000000000000000000000000', cyc: '[unserializable]', fn: '[function]', sym: 'Symbol(s)', err: 'TypeError: bad', bytes: '[32 bytes]', nan: 'NaN', inf: 'Infinity', obj: '{"a":1}', throwing: '[unserializable]' })
    }
  }
  t.equal(safeValue(undefined), undefined)
})

t.test('no forged lines: newlines in messages and values are escaped', async t => {
  for (const format of ['json', 'text'] as const) {
    const s = sink()
    const log = createLogger({ level: 'info', format, stream: s.stream, clock })
    log.info('evil\nERROR forged', { v: 'a\nb\u2028c', 'k ey': 'x', msg: 'shadow' })
    t.equal(s.lines().length, 1, format)
    if (format === 'json') {
      const rec = JSON.parse(s.lines()[0]!) as Record<string, unknown>
      t.equal(rec.msg, 'evil\nERROR forged')
      t.equal(rec._msg, 'shadow', 'a field named like a record key is renamed')
    } else {
      t.match(s.lines()[0], /evil\\nERROR forged v="a\\nb\\u2028c" "k ey"=x msg=shadow$/)
    }
  }
})

t.test('a stream that throws or errors does not take the process down', async t => {
  const bad = new Writable({ write (_c, _e, cb) { cb(new Error('EPIPE')) } })
  const log = createLogger({ level: 'info', format: 'text', stream: bad, clock })
  t.doesNotThrow(() => { log.info('x'); log.error('y') })
  await new Promise(resolve => setImmediate(resolve))
  const throwing = new Writable()
  throwing.write = () => { throw new Error('boom') }
  t.doesNotThrow(() => { createLogger({ level: 'info', format: 'json', stream: throwing }).info('x') })
})

t.test('parseLogLevel and parseLogFormat accept any case and refuse the rest with ConfigError', async t => {
  t.equal(parseLogLevel('DEBUG'), 'debug')
  t.equal(parseLogLevel(' warn '), 'warn')
  t.equal(parseLogFormat('JSON'), 'json')
  for (const bad of ['', 'verbose', 'trace', 'info,debug', '1']) {
    t.throws(() => parseLogLevel(bad), { name: 'ConfigError', message: /log level must be one of debug, info, warn, error/ }, `level '${bad}'`)
  }
  t.throws(() => parseLogFormat('yaml'), { name: 'ConfigError', message: /log format must be one of json, text/ })
})
