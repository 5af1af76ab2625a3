// A router keeps its identity and netDb across restarts (real TCP on 127.0.0.1): restarted from
// its data directory with no seeds, it loads the RouterInfos it knew, rejoins, and the others
// learn its newly signed RouterInfo.
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Router } from '../../src/router/router.ts'
import { RecordKind } from '../../src/netdb/messages.ts'

const TCP = ['tcp://127.0.0.1:0']

t.test('restart from the data dir: same identity, netDb kept, rejoins without a seed', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'umbra-restart-'))
  const running = new Set<Router>()
  const start = async (name: string, seeds: Uint8Array[] = []): Promise<Router> => {
    const r = await Router.start({ dataDir: join(base, name), listen: TCP, network: 'test', seeds })
    running.add(r)
    return r
  }
  const stop = async (r: Router): Promise<void> => { running.delete(r); await r.stop() }
  t.teardown(async () => {
    await Promise.allSettled([...running].map(async r => { await r.stop() }))
    await rm(base, { recursive: true, force: true })
  })
  const a = await start('a')
  const b = await start('b', [a.info.raw])
  const c = await start('c', [a.info.raw])
  await Promise.all([b.bootstrapped, c.bootstrapped])
  await c.netdb.explore()
  t.equal(c.netdb.store.count(RecordKind.ROUTER_INFO), 3, 'c knows all three RouterInfos')
  const oldId = c.idHex
  const oldPublished = c.info.published
  await stop(c)

  await new Promise(resolve => setTimeout(resolve, 5)) // a later publication time
  const c2 = await start('c')
  t.equal(c2.idHex, oldId, 'same identity after restart')
  t.equal(c2.netdb.store.count(RecordKind.ROUTER_INFO), 3, 'netDb loaded from disk')
  const known = await c2.bootstrapped
  t.ok(known >= 2, `rejoined without a seed (${known} routers in its table)`)
  t.ok(c2.info.published > oldPublished, 'a freshly signed RouterInfo')
  const atA = a.netdb.store.get(RecordKind.ROUTER_INFO, c2.id)
  t.equal(atA?.published, c2.info.published, 'the others hold the new RouterInfo')
  t.ok(c2.links.all().length >= 1, 'linked again')
})
