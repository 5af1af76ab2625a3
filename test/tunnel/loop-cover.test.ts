// Loop cover (issue #6): a destination with loop cover on sends loops through its own tunnels at
// Poisson times; when a hop starts dropping tunnel traffic (while still answering builds), the
// loops find it: every tunnel through that hop is retired within seconds and no healthy tunnel
// is blamed. A destination with neither loops nor tests keeps its broken tunnel (the test has
// teeth). Real routers over TCP, UDP and HTTP on 127.0.0.1.
import t from 'tap'
import { startNetwork, until } from './fixtures.ts'
import { TunnelType } from '../../src/tunnel/messages.ts'

t.test('loop cover finds a hop that drops traffic and retires only the tunnels through it', async (t) => {
  const net = await startNetwork(t, 6, { tunnels: { buildTimeoutMs: 3000 } })
  const [a, , x, y, z, b] = net as [typeof net[0], typeof net[0], typeof net[0], typeof net[0], typeof net[0], typeof net[0]]
  const hopIds = [net[1]!, x, y, z].map(r => r.idHex)
  // Loops time out after 2.5 s, so the judge's fallback (`loss.ts`) needs 5 s in which no loop
  // came back before it blames a tunnel it cannot clear: a CI machine that stalls for 3 s once
  // made it retire a healthy tunnel with 1.5 s.
  const alice = await a.createDestination({ via: hopIds, pool: { length: 1, quantity: 3, testIntervalMs: 0, testTimeoutMs: 2500, loopIntervalMs: 150 } })
  const pool = alice.pool
  t.ok(await until(() => pool.stats.testsPassed >= 20, 20_000), `loops come back (${pool.stats.testsPassed} of ${pool.stats.loopsSent} sent)`)
  // A loop counted lost because the machine stalled past its timeout still comes back (late).
  t.ok(await until(() => pool.stats.testsFailed === pool.stats.loopsLate, 10_000),
    `no loop was lost while every hop works (${pool.stats.testsFailed} timed out, ${pool.stats.loopsLate} of them came back late)`)
  t.ok(pool.stats.loopBytes > pool.stats.loopsSent * 17, 'loops are padded beyond their token')

  // The hop of alice's first outbound tunnel turns into a black hole for tunnel traffic.
  const tunnels = (): Array<{ uses: (id: string) => boolean }> => [...pool.outbound, ...pool.inbound]
  const hId = pool.outbound[0]!.hops[0]!.idHex
  const h = net.find(r => r.idHex === hId)!
  const bob = await b.createDestination({ via: [hId], pool: { length: 1, quantity: 1, testIntervalMs: 0, loopIntervalMs: 0 } })
  // Carol has no loop cover, only tests every 5 s: a lost test is followed at once by probes
  // that pin it, rather than by two more rounds of tests.
  const carol = await b.createDestination({ via: hopIds, pool: { length: 1, quantity: 2, testIntervalMs: 5000, testTimeoutMs: 1500, loopIntervalMs: 0 } })
  const carolTunnels = (): Array<{ uses: (id: string) => boolean }> => [...carol.pool.outbound, ...carol.pool.inbound]
  const carolThrough = carolTunnels().filter(tn => tn.uses(hId))
  const through = tunnels().filter(tn => tn.uses(hId))
  const clean = tunnels().filter(tn => !tn.uses(hId))
  t.ok(through.length >= 1 && clean.length >= 2, `${through.length} of alice's tunnels use the hop, ${clean.length} do not`)
  const why: string[] = []
  const fail = pool.fail.bind(pool)
  pool.fail = (tn, reason) => { if (clean.includes(tn)) why.push(`${tn.name}: ${reason} (strikes ${tn.strikes})`); fail(tn, reason) }
  const handle = h.tunnels.handle.bind(h.tunnels)
  let dropped = 0
  h.tunnels.handle = (from, msg) => {
    if (msg[0] === TunnelType.DATA || msg[0] === TunnelType.GATEWAY) { dropped++; return }
    handle(from, msg)
  }
  const lostBefore = pool.stats.testsFailed
  t.ok(await until(() => through.every(tn => !tunnels().includes(tn)), 25_000), 'every tunnel through the dropping hop was retired')
  t.ok(dropped > 0, `the hop dropped ${dropped} messages`)
  t.ok(pool.stats.testsFailed > lostBefore, `loops were lost (${pool.stats.testsFailed - lostBefore})`)
  t.ok(clean.every(tn => tunnels().includes(tn)), 'no healthy tunnel was retired', { why })
  t.equal(bob.pool.stats.retired, 0, 'without loops nor tests the same broken hop goes unnoticed')
  const t0 = performance.now()
  t.ok(await until(() => carolThrough.every(tn => !carolTunnels().includes(tn)), 20_000),
    `with tests every 5 s and probes, carol's ${carolThrough.length} tunnels through the hop were retired too (${((performance.now() - t0) / 1000).toFixed(1)} s after alice's)`)
  t.ok(bob.pool.outbound.some(o => o.uses(hId)), 'bob still sends through the dropping hop')

  const c = a.status().cover
  t.equal(c.loopsSent, pool.stats.loopsSent, 'status counts the cover loops')
  t.ok(c.loopsLost > 0 && c.loopsReturned >= 20, `status shows loops returned (${c.loopsReturned}) and lost (${c.loopsLost})`)
})
