// Strict shaping end to end (issue #6): routers whose every link sends one cell-sized message
// per slot, real or chaff, still carry a stream between two destinations intact, with real cells
// waiting for slots (counted) and chaff in the rest. Real routers over TCP, UDP and HTTP on
// 127.0.0.1.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { collectStream, startNetwork } from '../tunnel/fixtures.ts'
import { COVER_PRESETS } from '../../src/cover/presets.ts'

t.test('a stream crosses strictly shaped links intact', async t => {
  const cover = { ...COVER_PRESETS.high, linkRate: 200, loopIntervalMs: 0 }
  const net = await startNetwork(t, 5, { cover, pool: { length: 2, quantity: 2 } })
  const [alice, bob] = await Promise.all([net[0]!.createDestination(), net[1]!.createDestination()])
  const data = randomBytes(192 * 1024)
  const { chunks: got, done } = collectStream(bob, 80)
  const s = await alice.connect(bob.address, { toPort: 80 })
  s.on('error', () => {}) // the routers stop at teardown
  s.resume()
  const t0 = performance.now()
  s.end(data)
  await done
  const seconds = (performance.now() - t0) / 1000
  t.equal(createHash('sha256').update(Buffer.concat(got)).digest('hex'), createHash('sha256').update(data).digest('hex'), 'byte-identical')
  const c = net[0]!.status().cover
  t.comment(`${(data.length / 1024 / seconds).toFixed(0)} KiB/s; alice's router: ${c.realCellsSent} real cells, ${c.chaffSent} chaff, ${c.realCellsDropped} dropped at full queues`)
  t.ok(c.realCellsSent > data.length / 1024, 'the real cells went through the slots')
  t.ok(c.chaffSent > 0, 'and chaff filled the rest')
})
