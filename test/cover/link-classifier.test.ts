// The cover experiment of issue #6 as a test, on two routers over real UDP on 127.0.0.1 (see
// bench/cover.ts): an observer of a link counts cell-sized messages per 50 ms window while the
// sender alternates idle seconds with seconds of a 100 cells/s download. With cover off the best
// threshold classifier tells the two apart (> 90%); with strict shaping at the `high` preset's
// 400 slots/s it cannot (<= 60%: about 260 windows per class, where two samples of the same
// distribution score above 0.57 less than 1% of the time), while every real cell still arrives.
import t from 'tap'
import { observe } from '../../bench/cover.ts'
import { COVER_PRESETS } from '../../src/cover/presets.ts'

const WINDOW_MS = 50
const DOWNLOAD = 100

t.test('cover off: idle and downloading seconds are told apart', async t => {
  // 16 s (160 windows per class): a 1 s stall of a loaded machine in a busy second empties 20
  // busy windows, which leaves the accuracy above 0.9; over 8 s it did not.
  const o = await observe({ cover: COVER_PRESETS.off, rate: DOWNLOAD, seconds: 16, windowMs: WINDOW_MS })
  t.ok(o.accuracy > 0.9, `classifier accuracy ${o.accuracy.toFixed(3)} over ${o.idle.length}+${o.busy.length} windows`)
  t.ok(o.realReceived >= 0.95 * o.realSent, `${o.realReceived} of ${o.realSent} real cells arrived`)
})

t.test('strict shaping (high): idle and downloading seconds look the same, and the download gets through', async t => {
  const o = await observe({ cover: COVER_PRESETS.high, rate: DOWNLOAD, seconds: 26, windowMs: WINDOW_MS })
  const mean = (xs: number[]): number => xs.reduce((x, y) => x + y, 0) / xs.length
  t.comment(`mean per window: idle ${mean(o.idle).toFixed(2)}, busy ${mean(o.busy).toFixed(2)}; chaff ${o.chaffKBps.toFixed(0)} KB/s`)
  t.ok(o.idle.length >= 250 && o.busy.length >= 250, 'enough windows for the bound to mean something')
  t.ok(o.accuracy <= 0.6, `classifier accuracy ${o.accuracy.toFixed(3)} over ${o.idle.length}+${o.busy.length} windows`)
  t.ok(o.realReceived >= 0.95 * o.realSent, `${o.realReceived} of ${o.realSent} real cells arrived through the slots`)
})
