/**
 * NetDb at scale: a network of N routers (default 1000) in one process over the memory
 * transport, with real links and the real netDb. Each router bootstraps from one random earlier
 * router; then LeaseSets are published from random routers and looked up from others, and
 * RouterInfos of random routers are looked up from random routers. Prints lookup success rate,
 * median and p95 hops, memory per router, and setup time.
 *   npm run bench -- netdb [--json] [--routers 1000] [--lookups 500]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import v8 from 'node:v8'
import vm from 'node:vm'
import { loadCrypto } from '../src/crypto/index.ts'
import { Router } from '../src/router/router.ts'
import { generateDestination, destinationHash } from '../src/identity/destination.ts'
import { signLeaseSet, verifyLeaseSet } from '../src/identity/lease-set.ts'
import { median, note, numArg, percentile as pct, type report as Report } from './report.ts'

function arg (args: string[], name: string, dflt: number): number {
  const v = numArg(args, name, dflt)
  if (!Number.isInteger(v) || v < 2) throw new Error(`${name} must be a whole number >= 2`)
  return v
}


v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void
function heap (): number { gc(); gc(); const m = process.memoryUsage(); return m.heapUsed + m.external + m.arrayBuffers }

export async function run (args: string[], report: typeof Report): Promise<void> {
  const n = arg(args, '--routers', 1000)
  const lookups = arg(args, '--lookups', 500)
  const crypto = await loadCrypto()
  const base = await mkdtemp(join(tmpdir(), 'umbra-bench-netdb-'))
  const tag = Math.random().toString(36).slice(2)
  const routers: Router[] = []
  const rand = (k: number): number => Math.floor(Math.random() * k)
  try {
    const mem0 = heap()
    const t0 = performance.now()
    for (let i = 0; i < n; i++) {
      const seeds = i === 0 ? [] : [routers[rand(i)]!.info.raw]
      const r = await Router.start({ dataDir: join(base, `r${i}`), listen: [`memory://bench-${tag}-${i}`], network: 'bench', seeds, persist: false, limits: { keepaliveMs: 600_000, idleTimeoutMs: 3600_000 } }, { crypto })
      routers.push(r)
      await r.bootstrapped
      if ((i + 1) % 100 === 0) note(`  ${i + 1} routers up (${((performance.now() - t0) / 1000).toFixed(1)} s)`)
    }
    const setupS = (performance.now() - t0) / 1000
    const mem1 = heap()
    const links = routers.reduce((a, r) => a + r.links.all().length, 0)

    // LeaseSets published from random routers, looked up from random others.
    const lsHops: number[] = []
    let lsOk = 0
    const now = Date.now()
    const keys: Uint8Array[] = []
    const pubs = Math.min(lookups, 200)
    for (let i = 0; i < pubs; i++) {
      const pub = routers[rand(n)]!
      const dest = generateDestination(crypto)
      const ls = verifyLeaseSet(crypto, signLeaseSet(crypto, dest, { published: now, expires: now + 600_000, leases: [] }), { now, maxSkewMs: 1000 })
      await pub.netdb.publishLeaseSet(ls)
      keys.push(destinationHash(crypto, dest.destination.bytes))
    }
    for (let i = 0; i < lookups; i++) {
      const r = routers[rand(n)]!
      const before = r.netdb.stats().lookups.hops.length
      try {
        await r.netdb.findLeaseSet(keys[i % keys.length]!)
        lsOk++
        const h = r.netdb.stats().lookups.hops
        lsHops.push(h.length > before ? h[h.length - 1]! : 0)
      } catch {}
    }
    // RouterInfos of random routers.
    const riHops: number[] = []
    let riOk = 0
    let local = 0
    for (let i = 0; i < lookups; i++) {
      const a = routers[rand(n)]!
      let b = routers[rand(n)]!
      if (b === a) b = routers[(routers.indexOf(a) + 1) % n]!
      const before = a.netdb.stats().lookups.hops.length
      try {
        await a.netdb.findRouter(b.id)
        riOk++
        const h = a.netdb.stats().lookups.hops
        if (h.length > before) riHops.push(h[h.length - 1]!)
        else { riHops.push(0); local++ }
      } catch {}
    }
    const c = `${n} routers`
    report('netdb', c, 'setup (start+bootstrap)', setupS, 's')
    report('netdb', c, 'memory per router', (mem1 - mem0) / n / 1024, 'KiB', `(${(links / n).toFixed(1)} links each)`)
    report('netdb', c, 'LeaseSet lookup success', 100 * lsOk / lookups, '%')
    report('netdb', c, 'LeaseSet lookup hops p50', median(lsHops), 'hops', `(log2 N = ${Math.log2(n).toFixed(1)})`)
    report('netdb', c, 'LeaseSet lookup hops p95', pct(lsHops, 0.95), 'hops')
    report('netdb', c, 'RouterInfo lookup success', 100 * riOk / lookups, '%', `(${local} answered locally)`)
    report('netdb', c, 'RouterInfo lookup hops p50', median(riHops), 'hops')
    report('netdb', c, 'RouterInfo lookup hops p95', pct(riHops, 0.95), 'hops')
  } finally {
    await Promise.allSettled(routers.map(async r => { await r.stop() }))
    await rm(base, { recursive: true, force: true })
  }
}
