/**
 * V8 heap settings for Umbra's long-running processes (routers, and the CLI clients that move
 * bulk data).
 *
 * A router's live heap is small (~12 MB), but it allocates many short-lived objects per cell, so
 * V8 grows the young generation to 16 MB. With the defaults, the old generation's limit after a
 * full GC sits only ~16 MB above the live size, and V8 starts incremental marking as soon as the
 * old generation has no more room left than the young generation holds: at once, after every
 * full GC. A busy router ran a full mark-compact every ~150 ms (~20% of a transit hop's CPU, plus
 * the concurrent marker's threads), and scavenges hardly ran because each full GC emptied the
 * young generation too. A 64 MB floor under the old generation's limit ends that: a few full GCs
 * per 30 MB stream instead of ~40 (see `npm run bench -- tunnel`, which prints GC counts). The
 * cost is headroom: up to ~50 MB more garbage held before a full GC.
 *
 * The flags must be given when node starts (V8 sizes its heap before any script runs). These
 * pass them: `bin/umbra.js` (its first lines exec node through sh), `npm start` and
 * `npm run bench` (package.json), the testnet's router and CLI processes, and the benchmarks'
 * peers. test/cli/node-flags.test.ts keeps the copies equal.
 */
export const NODE_HEAP_FLAGS: readonly string[] = ['--initial-old-space-size=64']

/**
 * Node flags of a router process Umbra starts (testnet routers, bench peers): the heap flags,
 * and a CPU profile into the folder `UMBRA_BENCH_PROF` names, when it is set (benchmarks).
 */
export function routerNodeFlags (env: NodeJS.ProcessEnv = process.env): string[] {
  const prof = env.UMBRA_BENCH_PROF
  return [...NODE_HEAP_FLAGS, ...(prof !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [])]
}
