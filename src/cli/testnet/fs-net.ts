/**
 * A file-sharing network of router processes, for tests and benchmarks that need the whole
 * thing as users run it: `n` `umbra router` processes on 127.0.0.1 (mixed transports, as
 * testnet/plan.ts lays out), each with a SAM bridge on a free port and an fs node; router 0
 * starts first and seeds everyone's netDb and fs node (`fs: false`: no fs nodes, e.g. for the
 * chat tests, whose chat nodes every router runs anyway; `fsNodes: k`: only routers 0..k-1 run
 * one, e.g. for a downloader whose own node holds no block). Also: waiting until the fs nodes
 * are online, from their control APIs.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { controlGet } from '../../api/control-client.ts'
import { formatSeedFile } from '../../router/seed-file.ts'
import { planTestnet } from './plan.ts'
import { converge, spawnRouter, stopRouter, type RouterProc } from './procs.ts'

/** What `GET /api/fs` says of a node (the fields used here). */
export interface FsNodeState { online?: boolean, nodes?: number }

/** The data directory of router `i` under `base`. */
export function routerDir (base: string, i: number): string {
  return join(base, `router-${i}`)
}

/**
 * Starts the network and resolves once every router's netDb knows all `n` RouterInfos (not yet
 * once the fs nodes are online: see {@link waitForFsNodes}). On failure, stops what started.
 */
export async function startFsNetwork (base: string, n: number, opts: { network: string, logLevel?: string, fs?: boolean, fsNodes?: number, extraArgs?: string[] }): Promise<RouterProc[]> {
  const plan = planTestnet(n)
  const procs: RouterProc[] = []
  const start = async (i: number, seedFiles: string[], fsSeeds: string[]): Promise<RouterProc> => {
    const p = await spawnRouter({
      index: i, dataDir: routerDir(base, i), listen: plan[i]!.listen, network: opts.network, control: '127.0.0.1:0',
      seedFiles, sam: '127.0.0.1:0', socks: 'off', fs: opts.fs === false || i >= (opts.fsNodes ?? n) ? 'off' : { seeds: fsSeeds }, logLevel: opts.logLevel ?? 'warn', ...(opts.extraArgs !== undefined ? { extraArgs: opts.extraArgs } : {})
    }, 60_000)
    procs.push(p)
    return p
  }
  try {
    const first = await start(0, [], [])
    const seedFile = join(base, 'seeds.txt')
    await writeFile(seedFile, formatSeedFile([Buffer.from(first.info, 'base64')], ['router 0']))
    await Promise.all(Array.from({ length: n - 1 }, async (_, i) => await start(i + 1, [seedFile], [first.fs])))
    await converge(procs.map(p => async () => await controlGet(p.control, '/api/status', { timeoutMs: 2000 })
      .then(s => (s as { netdb: { routerInfos: number } }).netdb.routerInfos, () => -1)), n, 60_000)
    return procs.sort((a, b) => a.spec.index - b.spec.index)
  } catch (err) {
    await Promise.allSettled(procs.map(async p => await stopRouter(p)))
    throw err
  }
}

/**
 * Polls the control APIs every 500 ms until every fs node is online and knows at least
 * `minNodes` others, or `timeoutMs` passes (or `signal` aborts). Returns the last states; a node
 * that does not answer is `{}`.
 */
export async function waitForFsNodes (controls: readonly string[], minNodes: number, timeoutMs: number, signal?: AbortSignal): Promise<FsNodeState[]> {
  const deadline = Date.now() + timeoutMs
  let states: FsNodeState[] = []
  while (signal?.aborted !== true) {
    states = await Promise.all(controls.map(async c => await controlGet(c, '/api/fs', { timeoutMs: 2000 }).catch(() => ({})) as FsNodeState))
    if (fsNodesReady(states, minNodes) || Date.now() >= deadline) break
    await new Promise(resolve => setTimeout(resolve, 500))
  }
  return states
}

/** Whether every state is online with at least `minNodes` known. */
export function fsNodesReady (states: readonly FsNodeState[], minNodes: number): boolean {
  return states.every(s => s.online === true && (s.nodes ?? 0) >= minNodes)
}
