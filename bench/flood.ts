/**
 * The flood experiment of issue #6 ("junk and replayed build requests at several times a
 * router's capacity do not push honest tunnel build success below 95%") on four router
 * processes over TCP on 127.0.0.1. `npm run bench -- accounting` prints its figures (options in
 * bench/accounting.ts); test/accounting/flood.test.ts asserts them.
 *
 * - T, the target. Its build capacity is the accountant's configured limit on build requests
 *   opened per second (`accounting.buildsPerSec`, set to `capacity`): each costs an X25519
 *   before T knows whether it is junk, and past half a second's worth T opens only messages
 *   from routers with credit (`docs/accounting.md`, "Unopened builds").
 * - H1 and H2, honest routers. First (unless `credit` is false) they earn credit at T by
 *   carrying T's download (T's 2-hop tunnels go through both). Then H1 builds `honest`
 *   inbound tunnels through T and H2 in random order (so T hears each build from H1 or from
 *   H2), `honestRate` a second, one at a time — once quietly, once under the flood.
 * - A, the attacker, relays for nobody and sends T `junkRate` junk build messages a second
 *   (random records, one addressed to T, so T must try to open it) and `replayRate` replays
 *   of one real build request of its own, from a second before H1 starts until it is done.
 *
 * Results: H1's successes quiet and under the flood; what A sent and how fast; what T did
 * with build messages meanwhile (left unopened, opened and found junk, found replayed,
 * accepted) from its tunnel counters; T's CPU time.
 */
import { LOOPBACK_LISTEN } from './report.ts'
import { Peer } from './tunnel.ts'
import type { AccountingStatus } from '../src/accounting/accountant.ts'
import type { TunnelStats } from '../src/tunnel/manager.ts'

const TCP = LOOPBACK_LISTEN[0]!

/** Options of {@link flood}. */
export interface FloodOptions {
  /** T's build capacity: build requests opened per second (its `accounting.buildsPerSec`). */
  capacity: number
  /** Junk and replayed build messages A sends T per second. */
  junkRate: number
  replayRate: number
  /** Honest builds H1 makes in each phase, and how many a second. */
  honest: number
  honestRate: number
  /** Whether H1 and H2 earn credit at T before the experiment (default true). */
  credit?: boolean
}

/** What T did with build messages during the flood (differences of its tunnel counters). */
export interface BuildCounts {
  unopened: number
  unreadable: number
  replayed: number
  accepted: number
  refused: number
}

/** What {@link flood} measured. */
export interface FloodResult {
  /** H1's builds that succeeded, of `honest`, without and under the flood. */
  quiet: number
  flooded: number
  /** H1's build times (ms) without and under the flood, successful builds only. */
  quietMs: number[]
  floodedMs: number[]
  /** Junk and replays A sent, and over how many seconds. */
  junkSent: number
  replaysSent: number
  floodSec: number
  /** What T did with build messages from the flood's start until shortly after its end. */
  atT: BuildCounts
  /** T's CPU time over that span (ms) and the span (s). */
  cpuMs: number
  spanSec: number
  /** H1's and H2's credit at T before the flood. */
  credit: [number, number]
  /** T's accounting status at the end. */
  status: AccountingStatus
}

interface Stats { tunnels: TunnelStats, cpuMs: number }

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Runs the flood experiment (module doc). */
export async function flood (opts: FloodOptions, log: (s: string) => void = () => {}): Promise<FloodResult> {
  const t = await Peer.start(TCP, [], { UMBRA_PEER_CONFIG: JSON.stringify({ accounting: { buildsPerSec: opts.capacity } }) })
  const others = await Promise.all([0, 1, 2].map(async () => await Peer.start(TCP, [t.info])))
  const [h1, h2, a] = others as [Peer, Peer, Peer]
  const all = [t, ...others]
  try {
    await Promise.all(all.map(async p => await p.call('converge', { n: all.length })))
    if (opts.credit !== false) {
      log('T downloads through H1 and H2 (they earn credit at T)…')
      await t.call('dest', { length: 2, quantity: 2, via: [h1.id, h2.id] })
      const d2 = await h2.call('dest', { length: 1, quantity: 2, via: [h1.id] })
      await h2.call('sink', { port: 80 })
      await t.call('stream', { to: d2.address, port: 80, up: 0, down: 256 * 1024 }, 60_000)
      await h2.event(60_000)
      await sleep(1500) // T credits the hops of its inbound tunnels once a second
    }
    const acct = await t.call('accounting') as unknown as AccountingStatus
    const creditOf = (p: Peer): number => acct.credit.find(c => c.peer === p.id)?.credit ?? 0
    const honest = { count: opts.honest, length: 2, via: [t.id, h2.id], rate: opts.honestRate }
    const timeoutMs = 30_000 + 6000 * opts.honest
    log(`H1 builds ${opts.honest} tunnels through T, quietly…`)
    const q = await h1.call('builds', honest, timeoutMs) as { inMs: number[], failed: number }

    log(`…and under A's flood (${opts.junkRate} junk + ${opts.replayRate} replays a second; T opens ${opts.capacity})…`)
    const before = await t.call('stats') as unknown as Stats
    const t0 = performance.now()
    const floodMs = 1000 + timeoutMs
    const flooding = a.call('build-junk', { hop: t.id, junk: opts.junkRate, replays: opts.replayRate, count: Math.ceil(Math.max(opts.junkRate, opts.replayRate) * floodMs / 1000), ms: floodMs }, floodMs + 30_000)
    let f: { inMs: number[], failed: number }
    try {
      await sleep(1000)
      f = await h1.call('builds', honest, timeoutMs) as { inMs: number[], failed: number }
    } finally {
      await a.call('blast-stop')
    }
    const sent = await flooding as { junk: number, replays: number, ms: number }
    await sleep(500) // what A sent last reaches T
    const after = await t.call('stats') as unknown as Stats
    const spanSec = (performance.now() - t0) / 1000
    const d = (k: keyof TunnelStats): number => after.tunnels[k] - before.tunnels[k]
    return {
      quiet: opts.honest - q.failed,
      flooded: opts.honest - f.failed,
      quietMs: q.inMs,
      floodedMs: f.inMs,
      junkSent: sent.junk,
      replaysSent: sent.replays,
      floodSec: sent.ms / 1000,
      atT: { unopened: d('buildsUnopened'), unreadable: d('buildsUnreadable'), replayed: d('buildsReplayed'), accepted: d('buildsAccepted'), refused: d('buildsRefused') },
      cpuMs: after.cpuMs - before.cpuMs,
      spanSec,
      credit: [creditOf(h1), creditOf(h2)],
      status: await t.call('accounting') as unknown as AccountingStatus
    }
  } finally {
    await Promise.all(all.map(async p => { await p.stop() }))
  }
}
