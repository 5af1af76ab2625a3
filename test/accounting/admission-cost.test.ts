/**
 * The admission-cost benchmark (`bench/admission.ts`) measures what it claims: with tiny counts,
 * a transit hop relays every cell it is fed with each accountant; the no-op accountant relays
 * exactly the cells the real one relays while resources are in excess (byte for byte); with a
 * bandwidth limit in excess cells stay free; while scarce every cell is paid for and the
 * sender's credit is charged one unit per cell. No timing is asserted. Also the one shortcut
 * the accountant takes for speed (no credit lookup while nothing is limited and all is in
 * excess) leaves a scarce queue judging cells by credit.
 */
import t from 'tap'
import { Accountant } from '../../src/accounting/accountant.ts'
import { checkRun, measureCalls, measureHops, MODES, SCARCE_CREDIT } from '../../bench/admission.ts'

const LIMIT = 1_000_000

for (const batch of [64, 1]) {
  t.test(`one transit hop per accountant, ${batch} cell(s) per message`, async t => {
    const got = await measureHops({ cells: 2048, batch, limitBytesPerSec: LIMIT, slice: 1024, seed: 'admission-cost', record: true })
    for (const mode of MODES) {
      const r = got[mode]
      t.equal(r.fed, 2048, `${mode}: fed`)
      t.equal(r.relayed, r.fed, `${mode}: every cell relayed`)
      t.equal(r.forwarded, r.fed, `${mode}: every cell sent on`)
      t.equal(r.refused + r.replayed, 0, `${mode}: nothing dropped`)
      t.ok(r.cpuMs > 0, `${mode}: CPU time measured`)
      t.doesNotThrow(() => { checkRun(r) }, `${mode}: the bench's own check passes`)
    }
    const same = (a: Uint8Array[], b: Uint8Array[]): boolean =>
      a.length === b.length && a.every((m, i) => Buffer.compare(m, b[i]!) === 0)
    t.ok(got.excess.sent.length > 0, 'messages were recorded')
    t.ok(same(got.noop.sent, got.excess.sent), 'noop relays the same cells as the real accountant in excess')
    t.ok(same(got.noop.sent, got.scarce.sent), 'and as the real accountant while scarce')

    t.equal(got.noop.free + got.noop.paid + got.noop.charged, 0, 'noop records nothing')
    t.equal(got.excess.free, 2048, 'excess: every cell free')
    t.equal(got.excess.charged, 0, 'excess: nothing charged')
    t.ok(got.excess.load < 1, 'excess: load below 1')
    t.equal(got.limited.free, 2048, 'limited, in excess: every cell free')
    t.equal(got.limited.charged, 0, 'limited: nothing charged')
    t.ok(got.limited.load > 0 && got.limited.load < 1, `limited: load in excess (${got.limited.load.toFixed(2)})`)
    t.equal(got.scarce.paid, 2048, 'scarce: every cell paid for')
    t.equal(got.scarce.free, 0, 'scarce: none free')
    t.equal(got.scarce.charged, 2048, 'scarce: one unit per cell charged')
    t.equal(got.scarce.credit, SCARCE_CREDIT - 2048, "scarce: the sender's credit went down by as much")
    t.ok(got.scarce.load >= 1 && got.scarce.load < 2, `scarce: load in the scarce band (${got.scarce.load.toFixed(2)})`)
  })
}

t.test('the accountant calls alone admit every cell in every mode', async t => {
  for (const batch of [64, 1]) {
    for (const mode of MODES) {
      const r = measureCalls({ mode, cells: 4096, batch, limitBytesPerSec: LIMIT })
      t.equal(r.cells, 4096, `${mode}, ${batch}/msg: cells`)
      t.equal(r.admitted, r.cells, `${mode}, ${batch}/msg: all admitted`)
      t.ok(Number.isFinite(r.nsPerCell) && r.nsPerCell > 0, `${mode}, ${batch}/msg: a time`)
    }
  }
})

t.test('without bandwidth limits a scarce queue still judges cells by credit', async t => {
  // The accountant skips the credit lookup only while nothing is limited and the load is below 1;
  // the send queue can make cells scarce without any limit, and then credit decides.
  const clock = { now: () => 1000, wall: () => 1_800_000_000_000 }
  // (No random early drop: the draw is always just below 1; this is about the credit lookup.)
  const acct = new Accountant({}, clock, undefined, () => 0.9999999999)
  const A = 'aa'.repeat(32)
  const F = 'ff'.repeat(32)
  acct.earn(A, 10)
  acct.beginCells(F)
  t.equal(acct.admitCell(4), true, 'in excess a peer without credit is served')
  t.equal(acct.stats.free.cell, 1, 'free')
  for (let i = 0; i < 30; i++) acct.queued(300)
  t.ok(acct.queue.load(clock.now()) >= 1, 'the queue is scarce')
  acct.beginCells(A)
  t.equal(acct.admitCell(4), true, 'a peer with credit is served')
  t.equal(acct.stats.paid.cell, 1, 'for credit')
  t.equal(acct.ledger.credit(A), 9, 'and charged')
  acct.beginCells(F)
  t.equal(acct.admitCell(4), false, 'a peer without credit is not')
  t.equal(acct.stats.dropped.cell.priority, 1)
})
