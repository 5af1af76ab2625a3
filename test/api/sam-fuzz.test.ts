// Hostile input to the SAM bridge: random and mutated command lines to the pure parser, then
// fuzzed connections against a live bridge while a well-behaved client keeps working. Nothing
// crashes, every fuzzed connection is answered or closed, and the bridge ends with no
// connections or sessions left over.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { parseLine, LineSplitter, SamSyntaxError } from '../../src/api/sam/line.ts'
import { startSamNetwork, RawSam } from './sam-fixture.ts'
import { until } from '../tunnel/fixtures.ts'
import { prng } from '../fixtures/prng.ts'

const WORDS = ['HELLO', 'VERSION', 'SESSION', 'CREATE', 'ADD', 'REMOVE', 'STREAM', 'CONNECT', 'ACCEPT', 'FORWARD', 'NAMING', 'LOOKUP',
  'DEST', 'GENERATE', 'DATAGRAM', 'RAW', 'SEND', 'PING', 'QUIT', 'HELP', 'AUTH', 'STYLE=STREAM', 'STYLE=RAW', 'STYLE=PRIMARY', 'ID=x', 'ID=',
  'DESTINATION=TRANSIENT', 'DESTINATION=AAAA', 'NAME=ME', 'NAME=', 'SIZE=5', 'SIZE=99999999', 'SIZE=-1', 'PORT=0', 'PORT=70000', 'FROM_PORT=x',
  'SILENT=maybe', 'MIN=3.1', 'MAX=9', 'inbound.length=0', 'outbound.length=0', '"', '="', 'K="a\\"b"', 'K="unterminated', '\\', '=', '==', '\t', ' ', 'é', '\u0000']

function randomLine (r: () => number): string {
  const n = Math.floor(r() * 8)
  const parts: string[] = []
  for (let i = 0; i < n; i++) parts.push(r() < 0.85 ? WORDS[Math.floor(r() * WORDS.length)]! : randomBytes(Math.floor(r() * 12)).toString('latin1'))
  return parts.join(r() < 0.8 ? ' ' : '  ')
}

t.test('the line parser and splitter never fail other than with SamSyntaxError', async (t) => {
  const r = prng(1)
  let parsed = 0
  let refused = 0
  for (let i = 0; i < 20_000; i++) {
    const line = randomLine(r)
    try { parseLine(line); parsed++ } catch (err) {
      if (!(err instanceof SamSyntaxError)) throw err
      refused++
    }
  }
  t.ok(parsed > 1000 && refused > 100, `${parsed} parsed, ${refused} refused`)
  const s = new LineSplitter(1024)
  let overflow = 0
  for (let i = 0; i < 2000; i++) {
    s.push(randomBytes(Math.floor(r() * 200)))
    try { while (s.nextLine() !== undefined); } catch (err) {
      if (!(err instanceof SamSyntaxError)) throw err
      overflow++
      s.takeRest()
    }
    t.ok(s.buffered <= 1024 + 200, 'the splitter holds at most one line plus a chunk') || i
  }
  t.ok(overflow > 0, 'long runs without LF are refused, not buffered')
})

t.test('fuzzed connections against a live bridge', async (t) => {
  const { bridges } = await startSamNetwork(t, { routers: 2, hops: 0, limits: { helloTimeoutMs: 2000, idleTimeoutMs: 2000 } })
  const port = bridges[0]!.port
  // A well-behaved client with a session, used before, during and after the fuzzing.
  const good = await RawSam.open(t, port)
  t.equal(await good.cmd('HELLO VERSION'), 'HELLO REPLY RESULT=OK VERSION=3.3')
  t.match(await good.cmd('SESSION CREATE STYLE=STREAM ID=good DESTINATION=TRANSIENT inbound.length=0 outbound.length=0'), /RESULT=OK/)

  const r = prng(2)
  const fuzzers = await Promise.all(Array.from({ length: 40 }, async () => await RawSam.open(t, port)))
  for (let round = 0; round < 25; round++) {
    for (const f of fuzzers) {
      if (f.closed) continue
      const k = r()
      if (k < 0.1) f.write(randomBytes(Math.floor(r() * 3000)))
      else if (k < 0.15) f.write('HELLO VERSION\n')
      else f.write(randomLine(r) + (r() < 0.9 ? '\n' : ''))
    }
    t.equal(await good.cmd(`PING ${round}`), `PONG ${round}`, `round ${round}: the good client is served`)
  }
  t.match(await good.cmd('NAMING LOOKUP NAME=ME'), /^NAMING REPLY RESULT=OK NAME=ME VALUE=/, 'its session is intact')
  for (const f of fuzzers) f.socket.end()
  t.ok(await until(() => bridges[0]!.stats().connections === 1, 15_000), `only the good connection is left (${bridges[0]!.stats().connections})`)
  good.socket.destroy()
  t.ok(await until(() => bridges[0]!.stats().connections === 0 && bridges[0]!.stats().sessions === 0, 10_000), 'no connection or session left over')
})
