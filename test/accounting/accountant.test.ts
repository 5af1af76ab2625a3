/**
 * The accountant on virtual time: one admission path for builds, cells and lookups; a peer
 * without credit gets only excess capacity while one with credit is served and charged; earned
 * credit survives in the database; per-peer caps; status.
 */
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Accountant, CELL_WIRE_BYTES, Price } from '../../src/accounting/accountant.ts'
import { openDataStore } from '../../src/util/datastore.ts'
import { ConfigError } from '../../src/util/errors.ts'
import type { Clock } from '../../src/util/clock.ts'

const A = 'aa'.repeat(32)
const B = 'bb'.repeat(32)
const F = 'ff'.repeat(32)

function clock (): Clock & { t: number } {
  const c = { t: 1000, now: () => c.t, wall: () => 1_800_000_000_000 + c.t }
  return c
}

/** Judges `n` cells from `peer` in one message; returns how many were admitted. */
function cells (acct: Accountant, peer: string, n: number, priority = 4): number {
  acct.beginCells(peer)
  let ok = 0
  for (let i = 0; i < n; i++) if (acct.admitCell(priority)) ok++
  return ok
}

t.test('without limits everything is free and nobody is charged', async t => {
  const acct = new Accountant({}, clock())
  t.equal(cells(acct, F, 1000), 1000)
  t.equal(acct.admitBuild(F, 0), 'ok')
  t.equal(acct.admitLookup(F, 0), true)
  t.equal(acct.stats.free.cell, 1000)
  t.equal(acct.stats.charged, 0)
})

t.test('scarce bandwidth: a contributor is served free, then for credit; a freeloader gets nothing', async t => {
  const c = clock()
  // 100 cells/s downstream; the first half of the one-second burst is excess. (No random early
  // drops here: the draw is always just below 1.)
  const acct = new Accountant({ downBytesPerSec: 100 * CELL_WIRE_BYTES }, c, undefined, () => 0.999999)
  acct.earn(A, 40)
  t.equal(cells(acct, A, 60), 60, 'the contributor is served')
  t.equal(acct.stats.free.cell, 50, 'free while the bandwidth is in excess')
  t.equal(acct.stats.paid.cell, 10, 'then for credit')
  t.equal(acct.ledger.credit(A), 30, 'one unit per cell')
  t.equal(cells(acct, F, 10), 0, 'nothing for a peer without credit while scarce')
  t.equal(acct.stats.dropped.cell.priority, 10)
  // Priority 4 carries it to load 1.8 (90% of the burst used), not to exhaustion.
  const more = cells(acct, A, 40)
  t.ok(more >= 25 && more < 30, `served up to its priority's ceiling (${more} cells)`)
  t.equal(acct.ledger.credit(A), 30 - more, 'charged for each')
  acct.ledger.charge(A, 1000)
  t.equal(cells(acct, A, 5), 0, 'no credit left: dropped')
  // Time passes: capacity comes back; a freeloader gets some of what nobody wants.
  c.t += 2000
  const got = cells(acct, F, 200)
  t.ok(got > 0 && got <= 25, `idle capacity for the freeloader, a quarter-second burst at most (${got} cells)`)
})

t.test('a freeloader gets only what contributors leave idle', async t => {
  /** 20 s of 10 ms steps: A (credit plenty) offers `aRate` cells/s, F offers 300 cells/s; limit 100 cells/s. */
  const run = (aRate: number): { a: number, f: number, aOffered: number } => {
    const c = clock()
    const acct = new Accountant({ downBytesPerSec: 100 * CELL_WIRE_BYTES }, c)
    acct.earn(A, 1_000_000)
    let a = 0
    let f = 0
    let aOffered = 0
    for (let step = 0; step < 2000; step++) {
      c.t += 10
      const n = Math.floor((step + 1) * aRate / 100) - Math.floor(step * aRate / 100)
      a += cells(acct, A, n)
      aOffered += n
      f += cells(acct, F, 3)
    }
    return { a, f, aOffered }
  }
  const busy = run(100)
  t.ok(busy.a >= 0.9 * busy.aOffered, `a contributor using the whole limit keeps ${(100 * busy.a / busy.aOffered).toFixed(0)}% of it`)
  t.ok(busy.f < 0.05 * busy.a, `the freeloader gets almost nothing (${busy.f} cells against ${busy.a})`)
  const half = run(50)
  t.ok(half.a >= 0.95 * half.aOffered, 'a contributor using half the limit gets all it asks')
  t.ok(half.f > 0.25 * 100 * 20, `the freeloader gets a share of the idle half (${half.f} cells in 20 s)`)
  t.ok(half.f + half.a <= 1.1 * 100 * 20, 'never more than the limit in all')
})

t.test('paid cells are dropped early at random near their ceiling, more the nearer, none below', async t => {
  /** Cells of 100 judged at a load held where `held` cells of the 100-cell burst are used. */
  const dropsAt = (held: number): number => {
    const c = clock()
    let x = 12345
    const random = (): number => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x / 2 ** 32 }
    const acct = new Accountant({ downBytesPerSec: 100 * CELL_WIRE_BYTES }, c, undefined, random)
    acct.earn(A, 1_000_000)
    let dropped = 0
    for (let i = 0; i < 400; i++) {
      acct.received(held * CELL_WIRE_BYTES) // fill the bucket to the level, then judge one cell
      if (cells(acct, A, 1) === 0) dropped++
      c.t += 2000 // the bucket refills completely
    }
    return dropped
  }
  // Priority 4 at price 0: ceiling 1.8, the early band 1.4..1.8 = 70..90 of the 100-cell burst used.
  const below = dropsAt(65)
  const low = dropsAt(75)
  const high = dropsAt(86)
  t.equal(below, 0, 'no early drop below the band')
  t.ok(low > 0 && low < high, `more drops nearer the ceiling (${low} then ${high} of 400)`)
  t.ok(high < 400, 'but not all before it')
})

t.test('exhausted bandwidth refuses even those with credit', async t => {
  const c = clock()
  const acct = new Accountant({ downBytesPerSec: 10 * CELL_WIRE_BYTES }, c)
  acct.earn(A, 1_000_000)
  acct.received(10 * CELL_WIRE_BYTES)
  t.equal(cells(acct, A, 10, 65535), 0, 'our own traffic used it all: nothing for anyone')
  t.equal(acct.stats.dropped.cell.exhausted, 10)
  t.equal(acct.ledger.credit(A), 1_000_000, 'nothing charged for refused cells')
})

t.test('builds: transit limit and priority; refusals say which resource', async t => {
  const c = clock()
  const acct = new Accountant({ maxTransit: 10 }, c)
  acct.carrying(9)
  t.equal(acct.admitBuild(F, 4), 'transit', 'near the limit a build without credit is refused')
  acct.earn(A, 100)
  t.equal(acct.admitBuild(A, 4), 'ok', 'one with credit is taken')
  t.equal(acct.ledger.credit(A), 96, 'and charged its effective priority')
  acct.carrying(10)
  t.equal(acct.admitBuild(A, 4), 'transit', 'at the limit nobody')
  const bw = new Accountant({ upBytesPerSec: 1000 }, c)
  bw.sent(5000)
  t.equal(bw.admitBuild(F, 4), 'bandwidth')
  t.equal(bw.stats.dropped.build.exhausted, 1)
})

t.test('lookups: rate limited with the same rule', async t => {
  const c = clock()
  const acct = new Accountant({ lookupsPerSec: 10 }, c)
  let served = 0
  for (let i = 0; i < 30; i++) if (acct.admitLookup(F, 4)) served++
  t.ok(served >= 4 && served <= 6, `a freeloader gets the excess (${served})`)
  acct.earn(B, 2)
  t.equal(acct.admitLookup(B, 4), true)
  t.equal(acct.admitLookup(B, 4), false, 'credit 2 covers one lookup at effective priority 2')
})

t.test('per-peer cap on transit cells', async t => {
  const c = clock()
  const acct = new Accountant({ perPeerBytesPerSec: 20 * CELL_WIRE_BYTES }, c)
  t.equal(cells(acct, F, 50), 20)
  t.equal(acct.stats.dropped.cell['peer-limit'], 30)
  t.equal(cells(acct, A, 5), 5, 'another peer has its own bucket')
})

t.test('offered priorities stay within a constant factor of what we observe', async t => {
  const acct = new Accountant({ priority: 1000 }, clock())
  t.equal(acct.offer(), 2, 'nothing observed yet: 2*(1+0)')
  for (let i = 0; i < 200; i++) acct.admitLookup(A, 10)
  t.ok(acct.offer() <= 2 * (1 + acct.ledger.avgReceived))
  t.ok(acct.offer() > 2)
})

t.test('the ledger survives in the database; damaged records are skipped', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'umbra-acct-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const c = clock()
  let store = await openDataStore(join(dir, 'db'))
  let acct = new Accountant({}, c, store.bucket('credit'))
  acct.earn(A, 123)
  acct.earn(B, 5)
  await acct.flush()
  acct.earn(B, 1)
  await acct.close()
  await store.bucket('credit').put(new Uint8Array(32).fill(0xcc), new Uint8Array(3))
  await store.close()

  store = await openDataStore(join(dir, 'db'))
  acct = new Accountant({}, c, store.bucket('credit'))
  t.equal(acct.ledger.credit(A), 123)
  t.equal(acct.ledger.credit(B), 6, 'close flushes what changed since the last flush')
  t.equal(acct.ledger.credit('cc'.repeat(32)), 0, 'a damaged record is ignored')
  // Charged to nothing: the record goes.
  acct.earn(F, 1)
  await acct.flush()
  acct.ledger.charge(F, 1)
  await acct.close()
  t.equal(store.bucket('credit').get(new Uint8Array(32).fill(0xff)), undefined, 'zero credit is deleted')
  await store.close()
})

t.test('status is plain JSON with loads, credit and drops', async t => {
  const acct = new Accountant({ upBytesPerSec: 1000 }, clock())
  acct.earn(A, Price.BUILD)
  const s = acct.status()
  t.same(Object.keys(s.load).sort(), ['build', 'down', 'lookup', 'queue', 'transit', 'up'])
  t.same(s.credit, [{ peer: A, credit: Price.BUILD }])
  t.equal(s.limits.upBytesPerSec, 1000)
  t.same(JSON.parse(JSON.stringify(s)), s)
})

t.test('bad options are refused', async t => {
  t.throws(() => new Accountant({ upBytesPerSec: -1 }), ConfigError)
  t.throws(() => new Accountant({ flushMs: 5 }), ConfigError)
  t.throws(() => new Accountant({ priority: 70_000 }), ConfigError)
})

t.test('build messages: a flood from a peer without credit is dropped before it costs any crypto', async t => {
  const c = clock()
  const acct = new Accountant({ buildsPerSec: 100 }, c)
  acct.earn(A, 100)
  let opened = 0
  for (let i = 0; i < 1000; i++) if (acct.admitBuildMessage(F)) opened++
  t.ok(opened >= 49 && opened <= 51, `only the excess of build work is spent on the flood (${opened} of 1000)`)
  t.equal(acct.admitBuildMessage(A), true, 'a peer with credit is still heard')
  t.ok(acct.stats.dropped.build.priority >= 949)
})
