// A netDb network in one process: 20 routers over the memory transport bootstrap from one seed,
// then every router finds every RouterInfo and a published LeaseSet; an unknown key ends in a
// NotFoundError within the lookup deadline.
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Router } from '../../src/router/router.ts'
import { generateDestination, destinationHash } from '../../src/identity/destination.ts'
import { signLeaseSet, verifyLeaseSet } from '../../src/identity/lease-set.ts'
import { toHex } from '../../src/util/bytes.ts'
import { routerHash } from '../../src/identity/router-identity.ts'

const N = 20

t.test('20 routers over memory: every RouterInfo and a LeaseSet are found everywhere', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'umbra-netdb-'))
  const tag = Math.random().toString(36).slice(2)
  const routers: Router[] = []
  t.teardown(async () => {
    await Promise.allSettled(routers.map(async r => { await r.stop() }))
    await rm(base, { recursive: true, force: true })
  })
  for (let i = 0; i < N; i++) {
    const seeds = i === 0 ? [] : [routers[0]!.info.raw]
    routers.push(await Router.start({ dataDir: join(base, `r${i}`), listen: [`memory://netdb-${tag}-${i}`], network: 'test', seeds, netdb: { lookupDeadlineMs: 5000 } }))
  }
  await Promise.all(routers.map(async r => await r.bootstrapped))
  // A second round of exploration, as the periodic timer would do.
  await Promise.all(routers.map(async r => await r.netdb.explore()))

  let found = 0
  for (const a of routers) {
    for (const b of routers) {
      if (a === b) continue
      const info = await a.netdb.findRouter(b.id, AbortSignal.timeout(10_000))
      if (toHex(routerHash(a.crypto, info.identity)) === b.idHex) found++
    }
  }
  t.equal(found, N * (N - 1), 'every router finds every RouterInfo')
  const hops = routers.flatMap(r => r.netdb.stats().lookups.hops)
  t.comment(`iterative lookups: ${hops.length}, hops ${JSON.stringify(hops.slice(0, 40))}`)

  const publisher = routers[7]!
  const dest = generateDestination(publisher.crypto)
  const now = Date.now()
  const ls = verifyLeaseSet(publisher.crypto, signLeaseSet(publisher.crypto, dest, {
    published: now, expires: now + 10 * 60_000, leases: [{ gateway: publisher.id, tunnelId: 42, end: now + 10 * 60_000 }]
  }), { now, maxSkewMs: 1000 })
  const acks = await publisher.netdb.publishLeaseSet(ls)
  t.ok(acks >= 2, `LeaseSet stored at ${acks} routers (replication 3)`)
  const key = destinationHash(publisher.crypto, dest.destination.bytes)
  let lsFound = 0
  for (const r of routers) {
    const got = await r.netdb.findLeaseSet(key, AbortSignal.timeout(10_000))
    if (toHex(got.raw) === toHex(ls.raw) && got.leases[0]?.tunnelId === 42) lsFound++
  }
  t.equal(lsFound, N, 'every router finds the LeaseSet')

  const t0 = Date.now()
  await t.rejects(routers[3]!.netdb.findLeaseSet(new Uint8Array(32).fill(7)), { name: 'NotFoundError' }, 'an unknown key is not found')
  t.ok(Date.now() - t0 < 6000, 'not-found within the lookup deadline')
  const s = routers[3]!.status()
  t.ok(s.netdb.routerInfos >= N - 1, `status shows ${s.netdb.routerInfos} RouterInfos`)
})
