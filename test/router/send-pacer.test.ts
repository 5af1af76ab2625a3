// Poisson sending for destinations (issue #6): the pacer's own contract with real timers, and a
// destination that sends through it over real routers (TCP, UDP and HTTP on 127.0.0.1): its
// messages leave at the same mean rate of slots whether its user is idle or streaming, the idle
// slots carry loops through its own tunnels, and a stream through the slots arrives intact.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { SendPacer } from '../../src/router/send-pacer.ts'
import { collectStream, startNetwork, until } from '../tunnel/fixtures.ts'

t.test('the pacer sends what it is offered in order, one per slot, and fills empty slots with dummies', async t => {
  const sent: number[] = []
  let dummies = 0
  let room = true
  const p = new SendPacer<number>(400, 5, Math.random, (n) => { sent.push(n) }, () => { if (room) dummies++; return room })
  t.throws(() => new SendPacer<number>(-1, 5, Math.random, () => {}, () => true), { name: 'ConfigError' })
  for (let i = 0; i < 8; i++) p.offer(i)
  t.same(p.stats, { sent: 0, dummies: 0, missed: 0, skipped: 0, refused: 3, queued: 5 }, 'beyond the queue bound messages are refused')
  p.start()
  t.ok(await until(() => sent.length === 5 && dummies >= 5, 10_000), 'the queue drains and empty slots become dummies')
  t.same(sent, [0, 1, 2, 3, 4], 'in the order offered')
  t.equal(p.stats.dummies, dummies, 'dummies counted')
  room = false
  t.ok(await until(() => p.stats.missed > 0, 10_000), 'an empty slot whose dummy cannot go is counted as missed')
  p.offer(9)
  p.stop()
  const after = dummies
  await new Promise(resolve => setTimeout(resolve, 50))
  t.equal(dummies, after, 'a stopped pacer sends nothing')
  t.notOk(p.offer(10), 'a stopped pacer refuses messages')
  t.equal(p.stats.queued, 0, 'stop drops what waits')
})

t.test('a destination with Poisson sending keeps its rate while idle and while streaming', async t => {
  const rate = 60
  const net = await startNetwork(t, 5, { pool: { length: 2, quantity: 2 } })
  const [alice, bob] = await Promise.all([net[0]!.createDestination({ sendRate: rate }), net[1]!.createDestination()])
  const pacer = alice.pacer!
  t.ok(pacer !== undefined, 'the destination paces its sends')
  // A stalled event loop (a loaded CI machine) sends nothing; the slots it missed beyond what
  // one tick makes up are dropped and counted as skipped. The rate is over the time the
  // process could send: the window less the skipped slots' share. Slots may be skipped only
  // when the event loop was in fact held up: more than rate/5 = 12 slots come due within 50 ms
  // of a late timer with a chance of about 1e-5.
  const lag = monitorEventLoopDelay({ resolution: 10 })
  const window = async (work: () => Promise<void>): Promise<{ real: number, dummies: number, seconds: number, skipped: number, lagMs: number }> => {
    lag.reset()
    lag.enable()
    const s0 = pacer.stats
    const t0 = performance.now()
    await work()
    await new Promise(resolve => setTimeout(resolve, 20)) // an overdue slot tick runs first
    const s1 = pacer.stats
    lag.disable()
    const skipped = s1.skipped - s0.skipped
    return { real: s1.sent - s0.sent, dummies: s1.dummies - s0.dummies, seconds: (performance.now() - t0) / 1000 - skipped / rate, skipped, lagMs: lag.max / 1e6 }
  }
  const idle = await window(async () => { await new Promise(resolve => setTimeout(resolve, 3000)) })

  // About 100 packets: at ±40% the rate check sits 4 standard deviations from a Poisson count's
  // mean (with 96 KiB, 28 packets in 0.35 s, it was 2 and failed about one run in 20).
  const data = randomBytes(384 * 1024)
  const { chunks: got, done } = collectStream(bob, 80)
  const busy = await window(async () => {
    const s = await alice.connect(bob.address, { toPort: 80 })
    s.on('error', () => {}) // the routers stop at teardown
    s.resume()
    s.end(data)
    await done
  })
  const all = Buffer.concat(got)
  t.equal(createHash('sha256').update(all).digest('hex'), createHash('sha256').update(data).digest('hex'), 'the stream arrived intact through the slots')
  const per = (w: typeof idle): number => (w.real + w.dummies) / w.seconds
  t.comment(`idle: ${idle.real} real + ${idle.dummies} dummies in ${idle.seconds.toFixed(1)} s (${idle.skipped} slots skipped); streaming: ${busy.real} real + ${busy.dummies} dummies in ${busy.seconds.toFixed(1)} s (${busy.skipped} skipped)`)
  for (const [name, w] of [['idle', idle], ['streaming', busy]] as const) {
    t.ok(per(w) > 0.6 * rate && per(w) < 1.4 * rate, `${name}: ${per(w).toFixed(1)} messages/s leave, as the ${rate}/s of slots`)
    t.ok(w.skipped === 0 || w.lagMs >= 50, `${name}: slots skipped (${w.skipped}) only after a stall (longest event-loop delay ${w.lagMs.toFixed(0)} ms)`)
  }
  t.equal(idle.real, 0, 'idle: every slot carries a dummy')
  t.ok(busy.real > busy.dummies, 'streaming: real messages take the slots the dummies had')
  t.ok(alice.pool.stats.loopsSent >= idle.dummies && alice.pool.stats.testsPassed > 0, 'the dummies are loops through its own tunnels, and they come back')
})
