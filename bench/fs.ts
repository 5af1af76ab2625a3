/**
 * File-sharing figures (issue #7) on a local network of router processes, through the CLI as
 * users run it: `--routers` routers with fs nodes and one more without, `umbra publish` of a
 * random file through router 0 (encode + insert at 3 nodes), then `--downloads` (20, as issue
 * #7 asks) consecutive `umbra get` of it from the router without an fs node (each a fresh
 * client with its own tunnels; it bootstraps from router 1's node), each checked byte for byte.
 * Every block of those comes from another router, over 3+3 hops, as nearly every block does in
 * a large network. Then `--node-downloads` (5) from routers 1.. in turn, whose own fs node holds
 * some of the blocks (3 of 5 nodes hold each block here) and answers them inside the router:
 * reported apart, as it is not a figure of downloads across the network. Prints publish time,
 * download MB/s (median, min) and whether any download stalled (took over 5x the median or
 * failed).
 *
 *   npm run bench -- fs [--routers 5] [--mb 20] [--downloads 20] [--node-downloads 5] [--parallel 64] [--json]
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runUmbra as umbra, stopRouter, type RouterProc } from '../src/cli/testnet/procs.ts'
import { routerDir, startFsNetwork, waitForFsNodes } from '../src/cli/testnet/fs-net.ts'
import { median, note, numArg, type report as Report } from './report.ts'

export async function run (args: string[], report: typeof Report): Promise<void> {
  process.env.UMBRA_FROM_SOURCE = '1'
  const n = numArg(args, 'routers', 5)
  if (n < 2) throw new Error('--routers must be at least 2: one publishes, the others download')
  const mb = numArg(args, 'mb', 20)
  const downloads = numArg(args, 'downloads', 20)
  const nodeDownloads = numArg(args, 'node-downloads', 5)
  const parallel = numArg(args, 'parallel', 64)
  const base = await mkdtemp(join(tmpdir(), 'umbra-bench-fs-'))
  const procs: RouterProc[] = []
  try {
    procs.push(...await startFsNetwork(base, n + 1, { network: 'bench-fs', logLevel: 'error', fsNodes: n }))
    await waitForFsNodes(procs.slice(0, n).map(p => p.control), 2, 60_000)
    const dir = (i: number): string => routerDir(base, i)
    const size = Math.round(mb * 1024 * 1024)
    const file = join(base, 'file.bin')
    const content = randomBytes(size)
    const sha = createHash('sha256').update(content).digest('hex')
    await writeFile(file, content)
    note(`${n} routers with fs nodes and one without up; publishing ${mb} MiB through router 0`)
    const pub = await umbra(['publish', file, '-k', 'bench', '--data-dir', dir(0), '--json'], 600_000)
    if (pub.code !== 0) throw new Error(`publish failed: ${pub.err}`)
    const p = JSON.parse(pub.out.trim().split('\n').pop()!) as { uri: string, seconds: number, minReplicas: number }
    report('fs', `publish ${mb} MiB, replication 3`, 'time', p.seconds, 's', `${(size / 1e6 / p.seconds).toFixed(2)} MB/s of file, every block on >= ${p.minReplicas} nodes`)
    // The router without an fs node: its client reaches the fs network through router 1's node.
    const bare = procs[n]!
    const bareArgs = ['--data-dir', dir(n), '--sam', bare.sam.split(' ')[0]!, '--seed', procs[1]!.fs]
    await downloadRuns('download', `download ${mb} MiB, -j ${parallel}`, downloads, () => bareArgs)
    if (nodeDownloads > 0) {
      await downloadRuns('download via a node', `download ${mb} MiB via a router with an fs node`, nodeDownloads, (i) => ['--data-dir', dir(1 + (i % (n - 1)))], true)
    }

    /** `count` consecutive downloads with `where(i)`'s options; reports median, min and stalls. */
    async function downloadRuns (label: string, what: string, count: number, where: (i: number) => string[], apart = false): Promise<void> {
      const rates: number[] = []
      let failed = 0
      for (let i = 0; i < count; i++) {
        const out = join(base, `copy-${i}.bin`)
        const g = await umbra(['get', p.uri, '-o', out, '-j', String(parallel), ...where(i), '--json'], 600_000)
        const ok = g.code === 0 && createHash('sha256').update(await readFile(out).catch(() => Buffer.alloc(0))).digest('hex') === sha
        if (!ok) { failed++; note(`${label} ${i + 1} failed: ${g.err.trim().split('\n').pop() ?? ''}`); continue }
        const r = JSON.parse(g.out.trim().split('\n').pop()!) as { seconds: number }
        rates.push(size / 1e6 / r.seconds)
        note(`${label} ${i + 1}: ${(size / 1e6 / r.seconds).toFixed(2)} MB/s (${r.seconds.toFixed(1)} s)`)
        await rm(out, { force: true })
      }
      const med = rates.length > 0 ? median(rates) : 0
      report('fs', what, 'median', med, 'MB/s', `${rates.length} of ${count} intact${apart ? '; its own node answers some blocks inside the router' : '; every block from another router'}`)
      report('fs', what, 'min', rates.length > 0 ? Math.min(...rates) : 0, 'MB/s')
      const stalled = failed + rates.filter(r => r < med / 5).length
      report('fs', `${count} consecutive downloads${apart ? ' via a node' : ''}`, 'stalled or failed', stalled, 'downloads')
    }
  } finally {
    await Promise.allSettled(procs.map(async p => await stopRouter(p)))
    await rm(base, { recursive: true, force: true })
  }
}
