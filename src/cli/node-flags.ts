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
 * The second flag caps each young-generation semi-space at 4 MB (V8 grows it to 16 MB). The
 * frames, packets and messages a router moves live in ArrayBuffers, whose backing stores V8
 * counts as external memory, and the young ones are only freed by a scavenge. Between scavenges
 * of a 16 MB semi-space, tens of MB of them piled up, and V8 answered the external-memory
 * pressure with full mark-compacts ("collect all external memory"), every ~300 ms in the routers
 * of `npm run bench -- fs` (23–57 per router and run; concurrent marking 11–16% of each router's
 * CPU). Scavenging ~4 times as often frees them young: 3–9 full GCs per router, and a download
 * median of 10.1–10.9 MB/s against 7.5–8.1 (alternating runs, same code).
 *
 * The flags must be given when node starts (V8 sizes its heap before any script runs). These
 * pass them: `bin/umbra.js` (its first lines exec node through sh), `npm start` and
 * `npm run bench` (package.json), the testnet's router and CLI processes, and the benchmarks'
 * peers. test/cli/node-flags.test.ts keeps the copies equal.
 */
export const NODE_HEAP_FLAGS: readonly string[] = ['--initial-old-space-size=64', '--max-semi-space-size=4']

/**
 * Node flags of a router process Umbra starts (testnet routers, bench peers): the heap flags,
 * and a CPU profile into the folder `UMBRA_BENCH_PROF` names, when it is set (benchmarks).
 */
export function routerNodeFlags (env: NodeJS.ProcessEnv = process.env): string[] {
  const prof = env.UMBRA_BENCH_PROF
  return [...NODE_HEAP_FLAGS, ...(prof !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [])]
}
