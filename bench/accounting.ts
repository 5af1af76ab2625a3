/**
 * Accounting benchmark and experiments: routers as separate processes on 127.0.0.1 (TCP).
 *   npm run bench -- accounting [--json] [--only freeloader|flood|cover|admission] [--mb 2] [--limit 1000] [--flood 3] [--builds 200] [--rounds 3]
 * Freeloader: a loaded router L (downstream limit --limit KB/s) carries a contributor's stream
 * (C1 → C2, 1-hop tunnels through L only); C1..C3 earned credit at L by carrying L's own
 * download beforehand. A freeloader F (relays nothing: transit limit 0) then floods L with
 * cells (--flood times L's limit) and build requests (--builds per second) while the stream is
 * measured again.
 * Figures: the contributor's throughput unloaded and under the flood (medians, and their
 * ratio), and the share of F's cells L dropped. (What admission costs per relayed cell:
 * `npm run bench -- admission`.)
 *
 * Flood (bench/flood.ts, 4 processes): an attacker sends a target router T junk build messages
 * (--junk-rate a second, default 300) and replays of one real build request (--replay-rate,
 * default 200), several times T's build capacity: the build requests T opens per second, its
 * accountant's configured `buildsPerSec` (--capacity, default 100). Meanwhile an honest router
 * builds --honest tunnels (default 100) through T, --honest-rate a second (default 20); the
 * honest routers earned credit at T beforehand (--no-credit: they did not; honest builds then
 * share T's idle capacity with the flood, and each one dropped costs a 5 s build timeout).
 * Figures: honest build success quiet and under the flood (target >= 95%), the flood's rate
 * against T's capacity, what T dropped (unopened, opened as junk, replays), how many build
 * requests T opened per second, T's CPU time, honest build times.
 *
 * Cover presets (bench/cover-cost.ts): for each of off, low and high, --cover-routers processes
 * (default 6) run with the preset; a --cover-mb MB stream (default 8) over 3+3 hops, and what
 * each router sends as cover (chaff and loops) while idle for --cover-idle seconds (default 5).
 * Figures: stream throughput and its cost against off; idle cover KB/s per router.
 *
 * Admission cost per relayed cell: bench/admission.ts (also `npm run bench -- admission`).
 *   --only freeloader | flood | cover | admission runs one experiment (default all).
 */
import { LOOPBACK_LISTEN, median, note, numArg as arg, type report as Report } from './report.ts'
import { Peer } from './tunnel.ts'
import { flood as floodExperiment } from './flood.ts'
import { presetCost } from './cover-cost.ts'
import { run as runAdmission } from './admission.ts'
import { CELL_WIRE_BYTES, type AccountingStatus } from '../src/accounting/accountant.ts'

const TCP = LOOPBACK_LISTEN[0]!

/** What {@link freeloader} measured. */
export interface FreeloaderResult {
  /** The contributor's stream alone and under the flood, bytes/s, each round. */
  unloaded: number[]
  flooded: number[]
  /** Cells F sent into its tunnel through L while the flooded streams ran, and cells L dropped meanwhile. */
  floodCells: number
  droppedAtL: number
  /** Build requests L refused meanwhile (F keeps asking for tunnels through L). */
  buildsRefusedAtL: number
  /** L's accounting status at the end. */
  loaded: AccountingStatus
}

/** Bytes/s of one stream of `bytes` from `from` to the sink of `to` (address). */
async function streamRate (from: Peer, to: Peer, address: string, bytes: number, l?: Peer): Promise<number> {
  let polling = process.env.UMBRA_BENCH_DEBUG !== undefined && l !== undefined
  const loads: Array<Record<string, number>> = []
  const poll = (async () => { while (polling) { loads.push((await l!.call('accounting') as unknown as AccountingStatus).load); await new Promise(resolve => setTimeout(resolve, 100)) } })()
  const r = await from.call('stream', { to: address, port: 80, up: bytes, down: 0 }, 120_000)
  polling = false
  await poll
  if (loads.length > 0) {
    const keys = Object.keys(loads[0]!)
    process.stderr.write('loads at L (mean/max): ' + keys.map(k => `${k} ${(loads.reduce((n, x) => n + x[k]!, 0) / loads.length).toFixed(2)}/${Math.max(...loads.map(x => x[k]!)).toFixed(2)}`).join(', ') + '\n')
  }
  const sunk = await to.event(60_000)
  if (sunk.bytes !== bytes) throw new Error(`stream delivered ${String(sunk.bytes)} of ${bytes} bytes`)
  if (sunk.sha !== r.upSha) throw new Error('stream corrupted')
  if (process.env.UMBRA_BENCH_DEBUG !== undefined) process.stderr.write(`stream: ${JSON.stringify(r.streamStats)}\n`)
  return bytes / (((sunk.end as number) - (r.start as number)) / 1000)
}

/** L's accounting once its cell counters held still for 200 ms (or after 25 reads). */
async function settledAccounting (l: Peer): Promise<AccountingStatus> {
  const cells = (s: AccountingStatus): number => s.stats.free.cell + s.stats.paid.cell + dropped(s)
  let s = await l.call('accounting') as unknown as AccountingStatus
  for (let i = 0; i < 25; i++) {
    await new Promise(resolve => setTimeout(resolve, 200))
    const next = await l.call('accounting') as unknown as AccountingStatus
    const still = cells(next) === cells(s)
    s = next
    if (still) break
  }
  return s
}

const dropped = (s: AccountingStatus): number => s.stats.dropped.cell.priority + s.stats.dropped.cell.exhausted + s.stats.dropped.cell['peer-limit']
const buildsRefused = (s: AccountingStatus): number => s.stats.dropped.build.priority + s.stats.dropped.build.exhausted

/**
 * Runs the freeloader experiment (module doc): `rounds` of one stream alone then one under the
 * flood, `mb` each; L's downstream limit `limitKBps`; F's flood at `flood` times that limit.
 */
export async function freeloader (opts: { mb: number, limitKBps: number, flood: number, buildRate: number, rounds: number }, log: (s: string) => void = () => {}): Promise<FreeloaderResult> {
  const l = await Peer.start(TCP, [])
  const others = await Promise.all([{}, {}, {}, { UMBRA_PEER_CONFIG: JSON.stringify({ tunnels: { maxTransit: 0 } }) } as Record<string, string>]
    .map(async env => await Peer.start(TCP, [l.info], env)))
  const [c1, c2, c3, f] = others as [Peer, Peer, Peer, Peer]
  const all = [l, ...others]
  try {
    await Promise.all(all.map(async p => await p.call('converge', { n: all.length })))
    const bytes = Math.round(opts.mb * 1024 * 1024)
    // L uses the network: its download crosses C1..C3, which earn credit at L for every cell.
    // Enough for every round: each of a round's two streams of `bytes` spends somewhat more
    // than `bytes` of credit, and with twice `rounds · bytes` the credit ran out in the last
    // round: the stream slowed to a trickle, and L carried F's cells in the idle capacity.
    log('L downloads through C1..C3 (they earn credit at L)…')
    await l.call('dest', { length: 3, quantity: 2, via: [c1.id, c2.id, c3.id] })
    const d2 = await c2.call('dest', { length: 1, quantity: 2, via: [l.id] })
    const address = d2.address as string
    await c2.call('sink', { port: 80 })
    await l.call('stream', { to: address, port: 80, up: 0, down: 3 * opts.rounds * bytes + bytes }, 120_000)
    await c2.event(60_000)
    // F's flood tunnel through L is built while L is idle (builds are free then).
    await f.call('blast', { hops: [l.id, c3.id], count: 0 })
    await l.call('bandwidth', { up: 0, down: opts.limitKBps * 1000 })
    await c1.call('dest', { length: 1, quantity: 2, via: [l.id] })
    const floodRate = opts.flood * opts.limitKBps * 1000 / CELL_WIRE_BYTES
    const r: Omit<FreeloaderResult, 'loaded'> = { unloaded: [], flooded: [], floodCells: 0, droppedAtL: 0, buildsRefusedAtL: 0 }
    let after = await l.call('accounting') as unknown as AccountingStatus
    for (let i = 0; i < opts.rounds; i++) {
      log(`round ${i + 1}: the contributor's stream through L alone, then under F's flood…`)
      r.unloaded.push(await streamRate(c1, c2, address, bytes, l))
      const before = await l.call('accounting') as unknown as AccountingStatus
      const fBefore = await f.call('stats') as { outbox: { cellsSent: number } }
      const flooding = f.call('blast', { hops: [l.id, c3.id], count: Math.round(floodRate * 600), rate: floodRate }, 700_000)
      const building = f.call('build-flood', { hop: l.id, rate: opts.buildRate }, 700_000)
      await new Promise(resolve => setTimeout(resolve, 300))
      r.flooded.push(await streamRate(c1, c2, address, bytes, l))
      await f.call('blast-stop')
      await Promise.all([flooding, building])
      const fAfter = await f.call('stats') as { outbox: { cellsSent: number } }
      // Cells F counted as sent may still be on their way to L (or in its queues): read L's
      // counters once they have stopped moving (at most 5 s).
      after = await settledAccounting(l)
      r.floodCells += fAfter.outbox.cellsSent - fBefore.outbox.cellsSent
      r.droppedAtL += dropped(after) - dropped(before)
      log(`  at L: free ${after.stats.free.cell - before.stats.free.cell}, paid ${after.stats.paid.cell - before.stats.paid.cell}, dropped ${JSON.stringify(Object.fromEntries(Object.entries(after.stats.dropped.cell).map(([k, v]) => [k, v - before.stats.dropped.cell[k as keyof typeof before.stats.dropped.cell]])))}; F sent ${fAfter.outbox.cellsSent - fBefore.outbox.cellsSent}`)
      r.buildsRefusedAtL += buildsRefused(after) - buildsRefused(before)
    }
    return { ...r, loaded: after }
  } finally {
    await Promise.all(all.map(async p => { await p.stop() }))
  }
}

export async function run (args: string[], report: typeof Report): Promise<void> {
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined
  const parts = ['freeloader', 'flood', 'cover', 'admission']
  if (only !== undefined && !parts.includes(only)) throw new Error(`--only must be ${parts.join(', ')}, not ${only}`)
  if (only === undefined || only === 'freeloader') await runFreeloader(args, report)
  if (only === undefined || only === 'flood') await runFlood(args, report)
  if (only === undefined || only === 'cover') await runCoverCost(args, report)
  if (only === undefined || only === 'admission') await runAdmission(args.filter(a => a !== '--only' && a !== 'admission'), report)
}

async function runCoverCost (args: string[], report: typeof Report): Promise<void> {
  const mb = arg(args, '--cover-mb', 8)
  const routers = arg(args, '--cover-routers', 6)
  const idleSeconds = arg(args, '--cover-idle', 5)
  note(`cover presets: ${routers} router processes each, a ${mb} MB stream over 3+3 hops`)
  const results = []
  for (const preset of ['off', 'low', 'high'] as const) {
    const r = await presetCost(preset, { routers, mb, idleSeconds })
    results.push(r)
    note(`${preset}: ${r.streamMBps.toFixed(2)} MB/s; idle cover ${r.idleCoverKBps.toFixed(1)} KB/s per router`)
  }
  const off = results[0]!.streamMBps
  for (const r of results) {
    report('accounting', `cover ${r.preset}`, 'stream', r.streamMBps, 'MB/s', `${mb} MB, 3+3 hops, ${routers} routers`)
    report('accounting', `cover ${r.preset}`, 'throughput cost', 100 * (1 - r.streamMBps / off), '%', 'versus preset off')
    report('accounting', `cover ${r.preset}`, 'idle cover sent', r.idleCoverKBps, 'KB/s per router', `chaff and loops over ${idleSeconds} s idle`)
  }
}

async function runFreeloader (args: string[], report: typeof Report): Promise<void> {
  const mb = arg(args, '--mb', 2)
  const limitKBps = arg(args, '--limit', 1000)
  const flood = arg(args, '--flood', 3)
  const rounds = arg(args, '--rounds', 3)
  note('freeloader experiment: 5 router processes')
  const buildRate = arg(args, '--builds', 200)
  const last = await freeloader({ mb, limitKBps, flood, rounds, buildRate }, note)
  const u = median(last.unloaded) / 1e6
  const f = median(last.flooded) / 1e6
  note(`rounds: alone ${last.unloaded.map(x => (x / 1e6).toFixed(2)).join(', ')} MB/s; under the flood ${last.flooded.map(x => (x / 1e6).toFixed(2)).join(', ')} MB/s`)
  report('accounting', 'freeloader', 'contributor unloaded', u, 'MB/s', `median of ${rounds}; L limited to ${limitKBps} KB/s`)
  report('accounting', 'freeloader', 'contributor under flood', f, 'MB/s', `median of ${rounds}; F floods at ${flood}x L's limit`)
  report('accounting', 'freeloader', 'kept', 100 * f / u, '%', 'target >= 90')
  report('accounting', 'freeloader', 'flood dropped at L', 100 * last.droppedAtL / Math.max(1, last.floodCells), '%',
    `${last.droppedAtL} cells dropped of ${last.floodCells} F sent; ${last.buildsRefusedAtL} of F's builds refused`)
}

async function runFlood (args: string[], report: typeof Report): Promise<void> {
  const capacity = arg(args, '--capacity', 100)
  const honest = arg(args, '--honest', 100)
  note('flood experiment: 4 router processes')
  const r = await floodExperiment({
    capacity, honest, honestRate: arg(args, '--honest-rate', 20), junkRate: arg(args, '--junk-rate', 300), replayRate: arg(args, '--replay-rate', 200), credit: !args.includes('--no-credit')
  }, note)
  const sent = r.junkSent + r.replaysSent
  const rate = sent / r.floodSec
  const t = r.atT
  report('accounting', 'flood', 'honest builds quiet', 100 * r.quiet / honest, '%', `${r.quiet} of ${honest} 2-hop builds through T`)
  report('accounting', 'flood', 'honest builds flooded', 100 * r.flooded / honest, '%', `${r.flooded} of ${honest}; target >= 95`)
  report('accounting', 'flood', 'flood rate', rate, 'msgs/s', `${(rate / capacity).toFixed(1)}x T's capacity (${capacity} opened/s): ${r.junkSent} junk + ${r.replaysSent} replays in ${r.floodSec.toFixed(1)} s`)
  report('accounting', 'flood', 'dropped at T', 100 * (t.unopened + t.unreadable + t.replayed) / Math.max(1, sent), '% of flood',
    `${t.unopened} unopened, ${t.unreadable} opened as junk, ${t.replayed} replays`)
  report('accounting', 'flood', 'opened at T', (t.unreadable + t.replayed + t.accepted + t.refused) / r.spanSec, 'builds/s', `capacity ${capacity}; ${t.accepted} accepted, ${t.refused} refused`)
  report('accounting', 'flood', 'T CPU', 100 * r.cpuMs / 1000 / r.spanSec, '% of a core', `over ${r.spanSec.toFixed(1)} s of flood`)
  report('accounting', 'flood', 'honest build time', median(r.floodedMs), 'ms', `median under the flood; quiet ${median(r.quietMs).toFixed(1)} ms`)
}
