/**
 * One link's cover shaper: fill-up chaff (slots - real, never negative, no carried excess), strict
 * release order, the queue bound, maxWaitMs overruns, the chaff cap, clear(), rate 0, mode misuse,
 * and end to end on 200 virtual seconds that a link observer counting cells per second cannot tell
 * an idle user from a busy one (while without cover it can). Virtual time and seeded randomness
 * only, so every number here is deterministic.
 */
import t from 'tap'
import fc from 'fast-check'
import { countsPerWindow, thresholdAccuracy } from '../../src/cover/classifier.ts'
import { PoissonClock, exponentialMs } from '../../src/cover/poisson.ts'
import { LinkShaper, type ShaperSettings } from '../../src/cover/shaper.ts'
import { ConfigError } from '../../src/util/errors.ts'
import { prng } from '../fixtures/prng.ts'


/** A "random" source giving gaps of exactly 1000/rate ms (u = 1 - 1/e), so slots are at known times. */
const steady = (): number => 1 - Math.exp(-1)

/** A shaper at 100 slots/s with slots at about 10, 20, 30, ... ms (polled between them). */
function steadyShaper (strict: boolean, more: Partial<ShaperSettings> = {}): LinkShaper<string> {
  return new LinkShaper<string>({ rate: 100, strict, maxQueueCells: 100, ...more }, steady, 0)
}

t.test('fill-up: chaff is the slots minus the real cells, never negative, excess not carried', async t => {
  const s = steadyShaper(false)
  t.same(s.tick(55), { release: [], chaff: 5 }, '5 slots, no real cells')
  s.sent(2)
  t.same(s.tick(105), { release: [], chaff: 3 }, '5 slots, 2 real')
  s.sent(8)
  t.same(s.tick(155), { release: [], chaff: 0 }, '5 slots, 8 real: no chaff, not -3')
  t.same(s.tick(205), { release: [], chaff: 5 }, 'the excess of 3 is forgotten')
  s.sent(1)
  s.sent(0)
  t.same(s.tick(205), { release: [], chaff: 0 }, 'no slot elapsed')
  t.same(s.tick(215), { release: [], chaff: 1 }, 'a real cell in a tick without slots was excess, and is forgotten too')
  t.same(s.stats, { realCells: 11, chaffCells: 14, skippedSlots: 0, queuedCells: 0, refusedCells: 0, overruns: 0 })
})

t.test('fill-up: chaff = max(0, slots - real) for any schedule', async t => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 2 ** 31 }),
    fc.array(fc.tuple(fc.double({ min: 0, max: 100, noNaN: true }), fc.nat(20)), { maxLength: 60 }),
    (seed, steps) => {
      const s = new LinkShaper<never>({ rate: 200, strict: false, maxQueueCells: 0 }, prng(seed), 0)
      const twin = new PoissonClock(200, prng(seed), 0)
      let now = 0
      for (const [dt, real] of steps) {
        now += dt
        s.sent(real)
        const { release, chaff } = s.tick(now)
        if (release.length !== 0 || chaff !== Math.max(0, twin.due(now) - real)) return false
      }
      return true
    }), { numRuns: 300 })
  t.pass('300 random schedules')
})

t.test('strict: items leave in order as slots allow; slots left become chaff', async t => {
  const s = steadyShaper(true)
  for (const x of ['a', 'b', 'c']) t.ok(s.offer(x, 1, 0))
  t.equal(s.stats.queuedCells, 3)
  t.same(s.tick(25), { release: ['a', 'b'], chaff: 0 }, '2 slots: 2 one-cell items')
  t.same(s.tick(55), { release: ['c'], chaff: 2 }, '3 slots: the last item and 2 chaff')
  t.same(s.tick(85), { release: [], chaff: 3 }, 'idle: all chaff')
  t.ok(s.offer('big', 3, 85))
  t.ok(s.offer('after', 1, 85))
  t.same(s.tick(105), { release: [], chaff: 2 }, 'a 3-cell item does not fit 2 slots; the next one waits behind it')
  t.same(s.tick(125), { release: [], chaff: 2 }, 'unused slots are not saved')
  t.same(s.tick(165), { release: ['big', 'after'], chaff: 0 }, '4 slots: both go')
  t.same(s.stats, { realCells: 7, chaffCells: 9, skippedSlots: 0, queuedCells: 0, refusedCells: 0, overruns: 0 })
})

t.test('strict: the queue is bounded in cells; beyond it items are refused', async t => {
  const s = steadyShaper(true, { maxQueueCells: 5 })
  t.ok(s.offer('a', 3, 0))
  t.notOk(s.offer('b', 3, 0), '3 + 3 > 5')
  t.ok(s.offer('c', 2, 0), '3 + 2 = 5 fits')
  t.notOk(s.offer('d', 1, 0), 'full')
  t.notOk(s.offer('huge', 6, 0), 'bigger than the whole queue')
  t.same(s.stats, { realCells: 0, chaffCells: 0, skippedSlots: 0, queuedCells: 5, refusedCells: 10, overruns: 0 })
  t.same(s.tick(35).release, ['a'], 'room again after a release')
  t.ok(s.offer('e', 3, 35))
  t.notOk(new LinkShaper<string>({ rate: 1, strict: true, maxQueueCells: 0 }, steady, 0).offer('x', 1, 0), 'a zero-cell queue refuses everything')
})

t.test('strict: a head too big for any tick goes after maxWaitMs, as an overrun', async t => {
  const s = steadyShaper(true, { maxWaitMs: 100 })
  t.ok(s.offer('big', 50, 5))
  t.ok(s.offer('next', 1, 5))
  for (let now = 15; now < 100; now += 10) t.same(s.tick(now), { release: [], chaff: 1 }, `${now} ms: waits, the slot is chaff`)
  t.same(s.tick(105), { release: [], chaff: 1 }, 'waited 100 ms, not more: still waits')
  t.same(s.tick(105.5), { release: [], chaff: 0 }, 'waited longer, but no slot in this tick: still waits')
  t.same(s.tick(115), { release: ['big'], chaff: 0 }, 'the next slot lets it go, using that slot')
  t.equal(s.stats.overruns, 1)
  t.same(s.tick(125), { release: ['next'], chaff: 0 }, 'the item behind it goes at the next slot')
  t.same(s.stats, { realCells: 51, chaffCells: 10, skippedSlots: 0, queuedCells: 0, refusedCells: 0, overruns: 1 })
  const d = steadyShaper(true)
  t.equal(d.maxWaitMs, 1000, 'default maxWaitMs')
  t.ok(d.offer('big', 5, 0))
  const early: string[] = []
  for (let now = 5; now < 1000; now += 10) early.push(...d.tick(now).release) // one slot per tick
  t.same(early, [], 'not within 1000 ms')
  t.same(d.tick(1005).release, ['big'], 'then at the next slot')
  const never = steadyShaper(true, { maxWaitMs: Infinity })
  never.offer('big', 5, 0)
  const out: string[] = []
  for (let now = 5; now < 100_000; now += 10) out.push(...never.tick(now).release)
  t.same(out, [], 'maxWaitMs Infinity never overruns')
})

t.test('strict: a tick releases at most one overrun, so overruns do not burst', async t => {
  const s = steadyShaper(true, { maxWaitMs: 10 })
  for (const x of ['a', 'b', 'c']) s.offer(x, 20, 0)
  t.same(s.tick(35), { release: ['a'], chaff: 0 }, 'three stale heads, one goes per tick with slots')
  t.same(s.tick(45), { release: ['b'], chaff: 0 })
  t.same(s.tick(55), { release: ['c'], chaff: 0 })
  t.equal(s.stats.overruns, 3)
})

t.test('the chaff cap applies per tick and is not carried over', async t => {
  const fill = steadyShaper(false)
  t.same(fill.tick(55, 2), { release: [], chaff: 2 }, '5 slots, cap 2')
  t.same(fill.tick(105), { release: [], chaff: 5 }, 'the 3 dropped are not owed')
  t.same(fill.tick(155, 2.9), { release: [], chaff: 2 }, 'a fractional cap rounds down')
  t.same(fill.tick(205, 0), { release: [], chaff: 0 })
  t.equal(fill.stats.chaffCells, 9)
  t.equal(fill.stats.skippedSlots, 11, 'the slots the caps dropped are counted: 3 + 3 + 5')
  const strict = steadyShaper(true)
  strict.offer('a', 1, 0)
  t.same(strict.tick(55, 1), { release: ['a'], chaff: 1 }, 'the cap limits chaff, never real items')
  t.equal(strict.stats.skippedSlots, 3, 'strict: of 5 slots the item took 1, chaff 1, and 3 are skipped')
  const busy = steadyShaper(false)
  busy.sent(2)
  t.same(busy.tick(55, 1), { release: [], chaff: 1 }, 'fill-up: 5 slots less 2 real cells, cap 1')
  t.equal(busy.stats.skippedSlots, 2, 'fill-up: the slots real cells used are not skipped')
  t.throws(() => strict.tick(60, -1), ConfigError)
  t.throws(() => strict.tick(60, Number.NaN), ConfigError)
})

t.test('clear() drops the queue and returns it in order', async t => {
  const s = steadyShaper(true)
  for (const x of ['a', 'b', 'c', 'd']) s.offer(x, 1, 0)
  t.same(s.tick(15).release, ['a'])
  t.same(s.clear(), ['b', 'c', 'd'])
  t.equal(s.stats.queuedCells, 0)
  t.same(s.clear(), [], 'twice is harmless')
  t.same(s.tick(45), { release: [], chaff: 3 }, 'the clock runs on: all chaff')
  t.ok(s.offer('e', 100, 45), 'the whole queue is free again')
  const f = steadyShaper(false)
  f.sent(10)
  t.same(f.clear(), [], 'fill-up: nothing queued')
  t.same(f.tick(55).chaff, 5, 'real cells reported before clear() are forgotten')
})

t.test('rate 0: no chaff; a strict queue passes everything at the next tick', async t => {
  const f = new LinkShaper<string>({ rate: 0, strict: false, maxQueueCells: 0 }, steady, 0)
  f.sent(5)
  t.same(f.tick(1e9), { release: [], chaff: 0 })
  t.equal(f.nextSlotIn(0), Infinity)
  const s = new LinkShaper<string>({ rate: 0, strict: true, maxQueueCells: 10 }, steady, 0)
  t.equal(s.nextSlotIn(0), Infinity, 'empty: no timer needed')
  s.offer('a', 4, 0)
  s.offer('b', 6, 0)
  t.notOk(s.offer('c', 1, 0), 'the bound still holds')
  t.equal(s.nextSlotIn(0), 0, 'queued items: tick now')
  t.same(s.tick(0), { release: ['a', 'b'], chaff: 0 })
  t.equal(s.nextSlotIn(0), Infinity)
})

t.test('nextSlotIn counts down to the next slot', async t => {
  const s = new LinkShaper<string>({ rate: 50, strict: false, maxQueueCells: 0 }, prng(9), 1000)
  const wait = s.nextSlotIn(1000)
  t.ok(wait > 0 && Number.isFinite(wait))
  t.equal(s.nextSlotIn(1000 + wait / 2), wait / 2)
  t.equal(s.nextSlotIn(1000 + wait + 5), 0, 'overdue')
  t.equal(s.tick(1000 + wait).chaff, 1, 'a tick at that time finds the slot')
  t.ok(s.nextSlotIn(1000 + wait) > 0)
})

t.test('each mode refuses the other mode\'s call; bad settings and counts are ConfigErrors', async t => {
  t.throws(() => steadyShaper(false).offer('a', 1, 0), ConfigError, 'offer in fill-up mode')
  t.throws(() => steadyShaper(true).sent(1), ConfigError, 'sent in strict mode')
  t.throws(() => steadyShaper(false).sent(-1), ConfigError)
  t.throws(() => steadyShaper(false).sent(1.5), ConfigError)
  t.throws(() => steadyShaper(true).offer('a', 0, 0), ConfigError, 'an item of 0 cells')
  t.throws(() => steadyShaper(true).offer('a', 2.5, 0), ConfigError)
  for (const bad of [{ rate: -1 }, { rate: Number.NaN }, { rate: Infinity }, { maxQueueCells: -1 }, { maxQueueCells: 1.5 },
    { maxWaitMs: -1 }, { maxWaitMs: Number.NaN }] as Array<Partial<ShaperSettings>>) {
    t.throws(() => steadyShaper(true, bad), ConfigError, JSON.stringify(bad))
  }
})

t.test('strict, one-cell items: real + chaff = slots each tick, and order is kept', async t => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 2 ** 31 }),
    fc.array(fc.tuple(fc.double({ min: 0, max: 50, noNaN: true }), fc.nat(8)), { maxLength: 60 }),
    (seed, steps) => {
      const s = new LinkShaper<number>({ rate: 300, strict: true, maxQueueCells: 20 }, prng(seed), 0)
      const twin = new PoissonClock(300, prng(seed), 0)
      const accepted: number[] = []
      const out: number[] = []
      let now = 0
      let id = 0
      for (const [dt, offers] of steps) {
        now += dt
        for (let i = 0; i < offers; i++, id++) if (s.offer(id, 1, now)) accepted.push(id)
        const { release, chaff } = s.tick(now)
        if (release.length + chaff !== twin.due(now)) return false
        out.push(...release)
      }
      out.push(...s.clear())
      const st = s.stats
      return JSON.stringify(out) === JSON.stringify(accepted) && st.overruns === 0 &&
        st.refusedCells === id - accepted.length
    }), { numRuns: 300 })
  t.pass('300 random schedules')
})

/** One simulated link: its cover, its user, its driver. */
interface Sim {
  /** Shaper settings (the link's cover). */
  settings: ShaperSettings
  /** Real cells per second the user offers (Poisson arrivals, one cell each). */
  userRate: number
  /** Fill-up driver: tick every this many ms; 0 = tick at every slot. Strict drivers tick at every slot. */
  tickMs?: number
  seed: number
}

const SECONDS = 200

/**
 * Runs a link for 200 virtual seconds as a driver would: the user's cells arrive at Poisson times;
 * a fill-up driver sends them at once and reports them, a strict one offers them (what the
 * bounded queue refuses is dropped, as back-pressure would hold it at the source); the driver's
 * timer fires at the next slot (or every `tickMs`) and sends what tick() says. Returns the cells
 * on the wire (real + chaff) per second.
 */
function simulate ({ settings, userRate, tickMs = 0, seed }: Sim): number[] {
  const userRandom = prng(seed * 7919 + 1)
  const s = new LinkShaper<number>(settings, prng(seed), 0)
  const wire: number[] = []
  const end = SECONDS * 1000
  let nextUser = userRate > 0 ? exponentialMs(userRate, userRandom) : Infinity
  const timer = (now: number): number => tickMs > 0 ? now + tickMs : now + s.nextSlotIn(now)
  let nextTick = timer(0)
  for (;;) {
    const now = Math.min(nextUser, nextTick)
    if (now >= end) break
    if (now === nextUser) {
      if (!settings.strict) { s.sent(1); wire.push(now) } else s.offer(0, 1, now)
      nextUser += exponentialMs(userRate, userRandom)
      if (s.nextSlotIn(now) === 0) nextTick = now // rate 0, strict: the driver ticks at once
      continue
    }
    const { release, chaff } = s.tick(now)
    for (let i = 0; i < release.length + chaff; i++) wire.push(now)
    nextTick = timer(now)
    if (nextTick === now) throw new Error('the driver would spin: nextSlotIn() is 0 right after a tick')
  }
  return countsPerWindow(wire, 0, 1000, SECONDS)
}

/** Mean of a sample. */
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

t.test('end to end: strict shaping at 400/s hides a busy user (600 cells/s offered) from an idle one', async t => {
  const settings = { rate: 400, strict: true, maxQueueCells: 400 }
  const idle = simulate({ settings, userRate: 0, seed: 11 })
  const busy = simulate({ settings, userRate: 600, seed: 12 })
  const acc = thresholdAccuracy(idle, busy)
  t.comment(`per-second cells: idle ${mean(idle)}, busy ${mean(busy)}; observer accuracy ${acc}`)
  t.ok(acc <= 0.6, `observer accuracy ${acc} <= 0.6`)
  t.ok(Math.abs(mean(idle) - 400) < 10 && Math.abs(mean(busy) - 400) < 10, 'both links carry about 400 cells/s')
  const off = { rate: 0, strict: true, maxQueueCells: 400 }
  const offIdle = simulate({ settings: off, userRate: 0, seed: 11 })
  const offBusy = simulate({ settings: off, userRate: 600, seed: 12 })
  const offAcc = thresholdAccuracy(offIdle, offBusy)
  t.comment(`without cover: idle ${mean(offIdle)}, busy ${mean(offBusy)} cells/s; observer accuracy ${offAcc}`)
  t.ok(offAcc > 0.9, `without cover the observer wins: accuracy ${offAcc}`)
})

t.test('end to end: fill-up at 400/s hides a user sending 100 cells/s from an idle one', async t => {
  const settings = { rate: 400, strict: false, maxQueueCells: 0 }
  const idle = simulate({ settings, userRate: 0, tickMs: 100, seed: 21 })
  const busy = simulate({ settings, userRate: 100, tickMs: 100, seed: 22 })
  const acc = thresholdAccuracy(idle, busy)
  t.comment(`ticks every 100 ms: idle ${mean(idle)}, busy ${mean(busy)} cells/s; observer accuracy ${acc}`)
  t.ok(acc <= 0.6, `observer accuracy ${acc} <= 0.6`)
  // Why the module comment asks fill-up drivers for coarse ticks: each tick forgets its real
  // excess, so ticking at every slot lets the bursts of the user show through as extra cells.
  const slotIdle = simulate({ settings, userRate: 0, seed: 21 })
  const slotBusy = simulate({ settings, userRate: 100, seed: 22 })
  t.comment(`ticks at every slot: idle ${mean(slotIdle)}, busy ${mean(slotBusy)} cells/s; accuracy ${thresholdAccuracy(slotIdle, slotBusy)}`)
  t.ok(mean(busy) - mean(idle) < 5, 'coarse ticks: the user adds under 5 cells/s')
  t.ok(mean(slotBusy) - mean(slotIdle) > 10, 'per-slot ticks: the user adds over 10 cells/s')
  const off = { rate: 0, strict: false, maxQueueCells: 0 }
  const offAcc = thresholdAccuracy(simulate({ settings: off, userRate: 0, tickMs: 100, seed: 21 }),
    simulate({ settings: off, userRate: 100, tickMs: 100, seed: 22 }))
  t.ok(offAcc > 0.9, `without cover the observer wins: accuracy ${offAcc}`)
})
