/**
 * The cell outbox (src/tunnel/outbox.ts): cells batch per next router into TUNNEL_DATA
 * messages; a full message leaves at once, the rest at the end of the turn; a failing send loses
 * only its own message.
 */
import t from 'tap'
import { CellOutbox } from '../../src/tunnel/outbox.ts'
import { CELL_ENTRY, DATA_HEADER, forEachCell } from '../../src/tunnel/messages.ts'
import { CELL_BYTES } from '../../src/tunnel/layer.ts'

const turn = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }
const A = Uint8Array.of(0xa), B = Uint8Array.of(0xb)
/** [tunnel ID, first byte] of each cell of a TUNNEL_DATA message. */
const cellsOf = (m: Uint8Array): Array<[number, number]> => {
  const out: Array<[number, number]> = []
  forEachCell(m, (id, buf, off) => { out.push([id, buf[off]!]) })
  return out
}
const cell = (fill: number): Uint8Array => new Uint8Array(CELL_BYTES).fill(fill)

t.test('a full message leaves at once, the partly filled ones at the end of the turn, in order per router', async t => {
  const sent: Array<[number, Uint8Array]> = []
  const box = new CellOutbox((peer, msg) => { sent.push([peer[0]!, msg]) }, () => DATA_HEADER + 3 * CELL_ENTRY)
  for (let i = 0; i < 4; i++) box.push(A, 'a', 7, cell(i), 0)
  box.push(B, 'b', 9, cell(9), 0)
  t.equal(sent.length, 1, 'the first 3 cells for A left before the turn ended')
  t.same(sent[0]![0], 0xa)
  await turn()
  t.equal(sent.length, 3, 'then A\'s fourth cell and B\'s one')
  const forA = sent.filter(([p]) => p === 0xa).flatMap(([, m]) => cellsOf(m).map(c => c[1]))
  t.same(forA, [0, 1, 2, 3], 'A\'s cells in the order pushed')
  const forB = sent.filter(([p]) => p === 0xb).flatMap(([, m]) => cellsOf(m))
  t.same(forB, [[9, 9]])
  t.same(box.stats, { cellsSent: 5, messagesSent: 3 })
})

t.test('at most one partly filled message per router waits, and a send that throws loses only its own message', async t => {
  const sent: Uint8Array[] = []
  let fail = true
  const box = new CellOutbox((_, msg) => {
    if (fail) { fail = false; throw new Error('link gone') }
    sent.push(msg)
  }, () => DATA_HEADER + 4 * CELL_ENTRY)
  t.throws(() => { for (let i = 0; i < 4; i++) box.push(A, 'a', 1, cell(i), 0) }, /link gone/, 'the first full message meets the failing send')
  for (let i = 4; i < 10; i++) box.push(A, 'a', 1, cell(i), 0)
  t.equal(sent.length, 1, 'cells 4..7 left at once; 8 and 9 wait')
  await turn()
  t.equal(sent.length, 2, 'the waiting ones went at the end of the turn, scheduled before the failure')
  t.same(sent.flatMap(m => cellsOf(m).map(c => c[1])), [4, 5, 6, 7, 8, 9])
  t.same(box.stats, { cellsSent: 10, messagesSent: 3 }, 'counted when handed to the link')
})
