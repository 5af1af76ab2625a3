/**
 * The flood experiment (issue #6) on four router processes over TCP on 127.0.0.1 (see
 * bench/flood.ts): an attacker sends a router junk and replayed build requests at five times
 * its build capacity (the build requests it opens per second, configured at 100), while an
 * honest router that earned credit there builds 100 tunnels through it. Honest build success
 * stays at 95% or more; the target opens no more than its capacity, leaves the rest of the
 * flood unopened, and tells the replays it opens from junk.
 */
import t from 'tap'
import { flood } from '../../bench/flood.ts'

t.test('junk and replayed builds at 5x a router\'s capacity leave honest builds through it at >= 95%', async t => {
  const started = performance.now()
  const capacity = 100
  const r = await flood({ capacity, junkRate: 300, replayRate: 200, honest: 100, honestRate: 20 })
  const sent = r.junkSent + r.replaysSent
  const rate = sent / r.floodSec
  const a = r.atT
  const opened = a.unreadable + a.replayed + a.accepted + a.refused
  t.comment(`honest ${r.quiet}/100 quiet, ${r.flooded}/100 flooded; flood ${rate.toFixed(0)}/s (${r.junkSent} junk, ${r.replaysSent} replays); ` +
    `at T ${a.unopened} unopened, ${a.unreadable} junk, ${a.replayed} replays, ${a.accepted} accepted, ${(opened / r.spanSec).toFixed(0)} opened/s; credit ${r.credit.join(', ')}`)
  t.ok(r.credit.every(c => c > 0), 'the honest routers earned credit at T')
  t.ok(r.quiet >= 95, `honest builds succeed without the flood (${r.quiet} of 100)`)
  t.ok(r.flooded >= 95, `honest builds succeed under the flood (${r.flooded} of 100)`)
  t.ok(rate >= 3 * capacity, `the flood ran at several times T's capacity (${rate.toFixed(0)}/s against ${capacity}/s)`)
  t.ok(r.junkSent > 1000 && r.replaysSent > 500, `the attacker sent junk (${r.junkSent}) and replays (${r.replaysSent})`)
  t.ok(a.unopened + a.unreadable + a.replayed >= 0.95 * sent, `T dropped the flood (${a.unopened + a.unreadable + a.replayed} of ${sent})`)
  t.ok(a.unopened >= 0.5 * sent, `T left most of it unopened (${a.unopened} of ${sent})`)
  t.ok(opened <= 1.5 * capacity * r.spanSec + 2 * capacity, `T opened about its capacity (${opened} in ${r.spanSec.toFixed(1)} s)`)
  // Flood messages T opened, and the share of those that were replays (A sends both kinds mixed).
  const expectReplays = (a.unreadable + a.replayed) * r.replaysSent / sent
  t.ok(a.replayed >= 0.5 * expectReplays, `replays T opened were counted as replays (${a.replayed}, about ${expectReplays.toFixed(0)} expected)`)
  t.ok(a.accepted <= 100 + 1, `T took part in no tunnel for the flood but the one real request A replays (${a.accepted} accepted)`)
  t.ok(r.status.stats.dropped.build.priority >= a.unopened, 'T\'s accountant counts the unopened builds as dropped')
  t.ok(performance.now() - started < 90_000, 'the experiment takes well under 2 minutes')
})
