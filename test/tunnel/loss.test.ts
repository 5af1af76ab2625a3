// The loss judge: which of a lost loop's two tunnels is at fault, and when the fallback may
// retire tunnels while nothing comes back. Pure: times are given, nothing runs.
import t from 'tap'
import { LossJudge, MAX_UNRESOLVED, type Loop } from '../../src/tunnel/loss.ts'

interface Tn { name: string, strikes: number }
const tn = (name: string): Tn => ({ name, strikes: 0 })
const loop = (out: Tn, inb: Tn, sentAt: number): Loop<Tn> => ({ out, inb, sentAt })
const names = (v: Array<{ tunnel: Tn }>): string[] => v.map(x => x.tunnel.name)
const TIMEOUT = 1500
const QUIET = 2 * TIMEOUT

t.test('a loss is pinned on the tunnel that has not passed a later loop', async t => {
  const j = new LossJudge<Tn>(QUIET)
  const [o1, o2, i1] = [tn('o1'), tn('o2'), tn('i1')]
  const lost1 = loop(o1, i1, 0)
  t.same(j.passed(loop(o2, i1, 100), 300), [], 'a pass through i1 and o2')
  t.same(j.lost(lost1, TIMEOUT), [], 'one blame does not retire')
  t.equal(j.blames(o1), 1, 'o1 is blamed: i1 passed a loop sent later')
  t.equal(j.blames(i1), 0, 'i1 is cleared')
  t.same(names(j.lost(loop(o1, i1, 50), 50 + TIMEOUT)), ['o1'], 'the second blame retires o1')
  t.equal(i1.strikes, 2, 'i1 counts its losses but is not retired')
})

t.test('a loss neither tunnel can explain waits for the first of them to pass', async t => {
  const j = new LossJudge<Tn>(QUIET)
  const [o1, o2, i1, i2] = [tn('o1'), tn('o2'), tn('i1'), tn('i2')]
  j.passed(loop(o2, i2, 0), 100)
  t.same(j.lost(loop(o1, i1, 200), 1700), [])
  t.same(j.lost(loop(o1, i1, 300), 1800), [])
  t.equal(j.pending, 2, 'both losses wait')
  t.same(names(j.passed(loop(o2, i1, 400), 600)), ['o1'], 'i1 passes a later loop: both losses were o1\'s, and it is retired')
  t.equal(j.pending, 0)
  t.equal(i1.strikes, 0, 'i1 passed, so its strikes are cleared')
})

t.test('a healthy tunnel paired with a broken one is never retired', async t => {
  const j = new LossJudge<Tn>(QUIET)
  const [bad, good, partner] = [tn('bad'), tn('good'), tn('partner')]
  const retired: string[] = []
  let now = 0
  for (let i = 0; i < 20; i++) {
    now += 100
    // good passes with partner, and is paired with bad half the time
    retired.push(...names(j.passed(loop(partner, good, now), now + 50)))
    retired.push(...names(j.lost(loop(bad, good, now), now + TIMEOUT)))
  }
  t.ok(retired.includes('bad'), 'the broken tunnel is retired')
  t.notOk(retired.includes('good') || retired.includes('partner'), 'neither healthy tunnel is')
})

t.test('the fallback retires tunnels when nothing comes back at all', async t => {
  const j = new LossJudge<Tn>(QUIET)
  const [o1, i1] = [tn('o1'), tn('i1')]
  t.same(j.lost(loop(o1, i1, 0), TIMEOUT), [])
  t.same(j.lost(loop(o1, i1, 100), 100 + TIMEOUT), [])
  t.same(names(j.lost(loop(o1, i1, 200), 200 + TIMEOUT)), ['o1', 'i1'], 'three losses in a row, nothing ever came back: both go')
})

t.test('the fallback waits until nothing has come back for the quiet span', async t => {
  const j = new LossJudge<Tn>(QUIET)
  const [o1, i1] = [tn('o1'), tn('i1')]
  j.passed(loop(o1, i1, 0), 100)
  // A loaded machine: three later loops through the same healthy pair time out in a burst. No
  // loop sent after them came back (yet), but one came back 1.8 s ago: that is no evidence that
  // everything is broken.
  const burst = [200, 300, 400].map(sent => loop(o1, i1, sent))
  for (const l of burst) t.same(j.lost(l, l.sentAt + TIMEOUT), [], `loss of the loop sent at ${l.sentAt} retires nothing`)
  t.equal(o1.strikes, 3)
  // The machine catches up: a lost loop comes back late, which clears both.
  t.same(j.passed(burst[1]!, 2000), [], 'a late loop is a pass')
  t.equal(o1.strikes + i1.strikes, 0, 'strikes cleared')
  t.equal(j.pending, 1, 'the late loop and the loss before it are settled; the one sent after it still waits')
  // Nothing comes back any more: after the quiet span, three more losses retire the pair.
  const v = [5000, 5100, 5200].flatMap(sent => names(j.lost(loop(o1, i1, sent), sent + TIMEOUT)))
  t.same(v, ['o1', 'i1'], 'with nothing back for 2 timeouts, three losses retire both')
})

t.test('a late loop clears blame put on its tunnels', async t => {
  const j = new LossJudge<Tn>(QUIET)
  const [o1, o2, i1] = [tn('o1'), tn('o2'), tn('i1')]
  j.passed(loop(o2, i1, 100), 200)
  const l = loop(o1, i1, 0)
  j.lost(l, TIMEOUT)
  t.equal(j.blames(o1), 1)
  j.passed(l, TIMEOUT + 500)
  t.equal(j.blames(o1), 0, 'o1 carried the loop after all')
  t.same(j.lost(loop(o1, i1, 50), 50 + TIMEOUT), [], 'so the next loss is a first blame again')
})

t.test('waiting losses are bounded and forgotten with their tunnel', async t => {
  const j = new LossJudge<Tn>(QUIET)
  const ins = Array.from({ length: MAX_UNRESOLVED + 10 }, (_, i) => tn(`i${i}`))
  const o1 = tn('o1')
  j.passed(loop(tn('x'), tn('y'), 1e9), 1e9)
  for (const [k, i] of ins.entries()) j.lost(loop(o1, i, k), 1e9 + k)
  t.equal(j.pending, MAX_UNRESOLVED, `at most ${MAX_UNRESOLVED} wait`)
  j.forget(o1)
  t.equal(j.pending, 0, 'forgetting o1 drops every loss through it')
})
