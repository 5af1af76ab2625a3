/**
 * Tunnel benchmark: routers as separate processes on 127.0.0.1 (TCP, UDP and HTTP in turn),
 * two destinations with 3-hop inbound and outbound tunnels.
 *   npm run bench -- tunnel [--json] [--routers 8] [--builds 100] [--mb 50] [--runs 3] [--pings 50] [--transport mixed|tcp|udp|http] [--blast 200000]
 * Figures: tunnel build time (median, p95) and success; one stream's throughput each way
 * (timed from the open stream to the last byte at the receiver), `--runs` times each way: the
 * first alice → bob run since the routers started (after the builds and the blast, but before
 * the JIT has optimized the stream's path) is reported on its own, and the median of the later
 * ones; time to first byte of an answer on an open stream (1-byte echo round trip), on fresh
 * routers and again after the streams; transit cells per CPU-second of one hop blasted with
 * cells (`--runs` times: the first on its own, as above) and of each hop process during the
 * last stream alice → bob (everything the process does, links included).
 * It also notes, per router process during the first stream: CPU seconds, main-thread GC
 * pauses by kind, transit cells, cells and link frames sent.
 * Peers take extra node flags from UMBRA_BENCH_NODE_FLAGS (their non-JSON output then goes to
 * stderr), queue samples every N ms from UMBRA_BENCH_QUEUES=N (stderr), CPU profiles from UMBRA_BENCH_PROF=dir, allocation profiles from UMBRA_BENCH_HEAPPROF=dir.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { LOOPBACK_LISTEN as LISTEN, median, note, numArg as arg, percentile, type report as Report } from './report.ts'
import { routerNodeFlags } from '../src/cli/node-flags.ts'


/** What a peer's `stats` command answers (the parts read here; see tunnel-peer.ts). */
interface PeerStats {
  tunnels: Record<string, number> & { transitCells: number }
  outbox: { cellsSent: number, messagesSent: number }
  sender: { dropped: number }
  link: { framesSent: number, bytesSent: number, messagesSent: number }
  gc: Record<string, { n: number, ms: number }>
  streams?: unknown
  cpuMs: number
}

/** GC pauses between two PeerStats snapshots, by kind: "3 minor 0.01 s, …". */
function gcLine (x: PeerStats['gc'], z: PeerStats['gc']): string {
  return Object.entries(z).map(([k, g]) => `${g.n - (x[k]?.n ?? 0)} ${k} ${((g.ms - (x[k]?.ms ?? 0)) / 1000).toFixed(2)} s`).join(', ')
}

/** A bench router process, driven by JSON lines. */
export class Peer {
  private next = 1
  private readonly waiting = new Map<number, (m: Record<string, unknown>) => void>()
  private readonly events: Array<Record<string, unknown>> = []
  private readonly eventWaiters: Array<(e: Record<string, unknown>) => void> = []
  info = ''
  id = ''

  private constructor (readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let m: Record<string, unknown>
      try { m = JSON.parse(line) as Record<string, unknown> } catch { if (process.env.UMBRA_BENCH_NODE_FLAGS !== undefined) process.stderr.write(`[${child.pid ?? '?'}] ${line}\n`); return }
      if (typeof m.id === 'number') { this.waiting.get(m.id)?.(m); this.waiting.delete(m.id); return }
      const w = this.eventWaiters.shift()
      if (w !== undefined) w(m)
      else this.events.push(m)
    })
  }

  /** Starts a peer listening on `listen`, seeded with `seeds`. */
  static async start (listen: string, seeds: string[], env: Record<string, string> = {}): Promise<Peer> {
    // UMBRA_BENCH_NODE_FLAGS: extra node flags for the peers (e.g. --trace-gc), space-separated.
    const extra = (process.env.UMBRA_BENCH_NODE_FLAGS ?? '').split(' ').filter(f => f !== '')
    const child = spawn(process.execPath, [...routerNodeFlags(), ...extra, '--import', 'tsx', new URL('./tunnel-peer.ts', import.meta.url).pathname, listen, ...seeds],
      { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } })
    const p = new Peer(child)
    const ready = await p.event()
    p.info = ready.info as string
    p.id = ready.id as string
    return p
  }

  /** The next event line. */
  async event (timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const e = this.events.shift()
    if (e !== undefined) return e
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('peer event timed out')) }, timeoutMs)
      this.eventWaiters.push((m) => { clearTimeout(timer); resolve(m) })
    })
  }

  /** The peer's counters (see tunnel-peer.ts, `stats`). */
  async stats (): Promise<PeerStats> { return await this.call('stats') as unknown as PeerStats }

  /** Runs a command; rejects with the peer's error. */
  async call (cmd: string, args: Record<string, unknown> = {}, timeoutMs = 300_000): Promise<Record<string, unknown>> {
    const id = this.next++
    const p = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting.delete(id); reject(new Error(`${cmd} timed out`)) }, timeoutMs)
      this.waiting.set(id, (m) => {
        clearTimeout(timer)
        if (typeof m.error === 'string') reject(new Error(m.error))
        else resolve(m)
      })
    })
    this.child.stdin!.write(JSON.stringify({ id, cmd, ...args }) + '\n')
    return await p
  }

  /** Stops the process (closing stdin makes it shut down cleanly). */
  async stop (): Promise<void> {
    if (this.child.exitCode !== null) return
    const exited = new Promise(resolve => this.child.once('exit', resolve))
    this.child.stdin!.end()
    const t = setTimeout(() => { this.child.kill('SIGKILL') }, 5000)
    await exited
    clearTimeout(t)
  }
}

/** Starts `n` peers (router 0 first, the rest seeded from it) and waits for the netDb to converge. */
export async function startPeers (n: number, env: Record<string, string> = {}, listen: string[] = LISTEN): Promise<Peer[]> {
  const first = await Peer.start(listen[0]!, [], env)
  const rest = await Promise.all(Array.from({ length: n - 1 }, async (_, i) => await Peer.start(listen[(i + 1) % listen.length]!, [first.info], env)))
  const peers = [first, ...rest]
  await Promise.all(peers.map(async p => await p.call('converge', { n })))
  return peers
}

function p95 (xs: number[]): number { return percentile(xs, 0.95) }

export async function run (args: string[], report: typeof Report): Promise<void> {
  const routers = arg(args, '--routers', 8)
  const nBuilds = arg(args, '--builds', 100)
  const mb = arg(args, '--mb', 50)
  const pings = arg(args, '--pings', 50)
  const runs = Math.max(1, arg(args, '--runs', 3))
  const only = args.includes('--transport') ? args[args.indexOf('--transport') + 1]! : 'mixed'
  const listen = only === 'mixed' ? LISTEN : LISTEN.filter(l => l.startsWith(only))
  if (listen.length === 0) throw new Error(`--transport must be tcp, udp, http or mixed, not ${only}`)
  note(`starting ${routers} router processes (${only})…`)
  const peers = await startPeers(routers, {}, listen)
  try {
    const [a, b] = [peers[0]!, peers[1]!]
    note(`building ${nBuilds} inbound + ${nBuilds} outbound 3-hop tunnels…`)
    const bl = await a.call('builds', { count: nBuilds, length: 3 }) as { inMs: number[], outMs: number[], failed: number, reasons: Record<string, number> }
    if (bl.failed > 0) note(`failed builds (one attempt each, no retry): ${Object.entries(bl.reasons).map(([k, v]) => `${v} × ${k}`).join('; ')}`)
    const all = [...bl.inMs, ...bl.outMs]
    report('tunnel', '3-hop build', 'median', median(all), 'ms', `inbound ${median(bl.inMs).toFixed(1)}, outbound ${median(bl.outMs).toFixed(1)}`)
    report('tunnel', '3-hop build', 'p95', p95(all), 'ms')
    report('tunnel', '3-hop build', 'success', 100 * (nBuilds - bl.failed) / nBuilds, '%', `${bl.failed} of ${nBuilds} pairs failed`)

    // One transit hop at full load: router 0 blasts cells through router 2 (a participant) to
    // router 3 (the endpoint); router 2's cells per CPU-second.
    const blastCells = arg(args, '--blast', 200_000)
    if (blastCells > 0) {
      const hop = peers[2]!
      const blastRates: number[] = []
      for (let k = 0; k < runs; k++) {
        const x = await hop.stats()
        const bl = await a.call('blast', { hops: [hop.id, peers[3]!.id], count: blastCells }) as { ms: number }
        await new Promise(resolve => setTimeout(resolve, 500))
        const y = await hop.stats()
        const cells = y.tunnels.transitCells - x.tunnels.transitCells
        blastRates.push(cells / ((y.cpuMs - x.cpuMs) / 1000))
        const frames = y.link.framesSent - x.link.framesSent
        note(`blast ${k + 1}: ${cells} of ${blastCells} cells in ${(bl.ms / 1000).toFixed(1)} s (${(cells / (bl.ms / 1000)).toFixed(0)}/s wall), ${frames} link frames sent (${(cells / Math.max(1, frames)).toFixed(1)} cells per frame), gc ${gcLine(x.gc, y.gc)}`)
      }
      if (runs > 1) report('tunnel', 'transit hop (blast)', 'first, cells per CPU-s', blastRates[0]!, 'cells/s', 'the first blast since start: the hop not yet optimized by the JIT')
      const warm = runs > 1 ? blastRates.slice(1) : blastRates
      report('tunnel', 'transit hop (blast)', 'cells per CPU-second', median(warm), 'cells/s', `median of ${runs > 1 ? `runs 2–${runs}` : '1 run'} (runs: ${blastRates.map(r => r.toFixed(0)).join(', ')})`)
    }

    const da = await a.call('dest', { length: 3, quantity: 2 })
    const db = await b.call('dest', { length: 3, quantity: 2 })
    note(`destinations ready: ${String(da.address).slice(0, 12)}… in ${Number(da.ms).toFixed(0)} ms, ${String(db.address).slice(0, 12)}… in ${Number(db.ms).toFixed(0)} ms`)
    await b.call('sink', { port: 80 })
    await b.call('echo', { port: 81 })

    if (pings > 0) {
      const pr = await a.call('ping', { to: db.address, port: 81, count: pings }) as { rtts: number[] }
      report('tunnel', 'open stream', 'time to first byte', median(pr.rtts), 'ms', `1-byte echo round trip on fresh routers, p95 ${p95(pr.rtts).toFixed(1)} ms`)
    }

    if (mb > 0) {
      const bytes = mb * 1024 * 1024
      /** One timed stream alice → bob (`up`) or bob → alice; MB/s from the open stream to the last byte at the receiver. */
      const timed = async (up: boolean): Promise<{ rate: number, run: Record<string, unknown> }> => {
        const run = await a.call('stream', { to: db.address, port: 80, up: up ? bytes : 0, down: up ? 0 : bytes })
        const sunk = await b.event(600_000)
        const start = (run.start as number) + (run.connectMs as number)
        if (up && (sunk.bytes !== bytes || sunk.sha !== run.upSha)) throw new Error(`upload corrupted: ${String(sunk.bytes)} bytes`)
        if (!up && run.downBytes !== bytes) throw new Error(`download short: ${String(run.downBytes)} bytes`)
        const end = up ? sunk.end as number : run.downEnd as number
        return { rate: bytes / 1e6 / ((end - start) / 1000), run }
      }

      const before = await Promise.all(peers.map(async p => await p.stats()))
      note(`streaming ${mb} MB alice → bob, ${runs} times…`)
      const monoUs = (): string => (process.hrtime.bigint() / 1000n).toString()
      if (process.env.UMBRA_BENCH_PROF !== undefined) note(`upload starts at monotonic ${monoUs()} us (the profiles' clock)`)
      // UMBRA_BENCH_QUEUES=ms: every ms during the first upload, where bytes wait in each router (stderr).
      const qms = Number(process.env.UMBRA_BENCH_QUEUES ?? 0)
      let sampling = qms > 0
      const sampler = (async () => {
        for (let i = 0; sampling && i < 10_000; i++) {
          await new Promise(resolve => setTimeout(resolve, qms))
          const qs = await Promise.all(peers.map(async p => await p.call('queues') as { sender: number, carriers: number, sockets: number }))
          process.stderr.write(qs.map((q, k) => `r${k} ${(q.sender / 1024).toFixed(0)}/${(q.carriers / 1024).toFixed(0)}/${(q.sockets / 1024).toFixed(0)}`).join('  ') + '  (KiB sender/carriers/sockets)\n')
        }
      })()
      const first = await timed(true)
      sampling = false
      await sampler
      if (process.env.UMBRA_BENCH_PROF !== undefined) note(`upload ends at monotonic ${monoUs()} us`)
      note('sender stream: ' + JSON.stringify(first.run.streamStats))
      report('tunnel', `one stream ${mb} MB`, 'alice → bob, first', first.rate, 'MB/s', 'byte-identical; the first stream since start: its path not yet optimized by the JIT')
      const after = await Promise.all(peers.map(async p => await p.stats()))
      note('drops: ' + after.map((st, i) => {
        return `r${i} replay ${st.tunnels.replayed} mac ${st.tunnels.badMac} unknown ${st.tunnels.unknownTunnel} malformed ${st.tunnels.malformed} sender ${st.sender.dropped}`
      }).join('; '))
      note('streams: ' + JSON.stringify([after[0], after[1]].map(x => x?.streams)))
      note('cpu per process (alice, bob, hops) in the first stream: ' + after.map((z, i) => {
        const x = before[i]!
        const cells = z.outbox.cellsSent - x.outbox.cellsSent
        const msgs = z.outbox.messagesSent - x.outbox.messagesSent
        return `r${i} ${((z.cpuMs - x.cpuMs) / 1000).toFixed(1)} s (gc: ${gcLine(x.gc, z.gc)}), transit ${z.tunnels.transitCells - x.tunnels.transitCells}, sent ${cells} cells in ${msgs} msgs; links sent ${z.link.messagesSent - x.link.messagesSent} msgs in ${z.link.framesSent - x.link.framesSent} frames, ${((z.link.bytesSent - x.link.bytesSent) / 1e6).toFixed(1)} MB`
      }).join('; '))

      // Later runs: the same routers, warmed up (a router runs for hours; its first seconds are the exception).
      const upRates = [first.rate]
      let warmBefore = runs > 1 ? after : before
      for (let k = 1; k < runs; k++) {
        warmBefore = await Promise.all(peers.map(async p => await p.stats()))
        upRates.push((await timed(true)).rate)
      }
      const warmAfter = await Promise.all(peers.map(async p => await p.stats()))
      if (runs > 1) {
        report('tunnel', `one stream ${mb} MB`, 'alice → bob', median(upRates.slice(1)), 'MB/s', `median of runs 2–${runs}, byte-identical (runs: ${upRates.map(r => r.toFixed(2)).join(', ')})`)
      }
      const rates = peers.slice(2).map((_, i) => {
        const x = warmBefore[i + 2]!
        const y = warmAfter[i + 2]!
        const cells = y.tunnels.transitCells - x.tunnels.transitCells
        return { cells, rate: cells / Math.max(1e-3, (y.cpuMs - x.cpuMs) / 1000) }
      }).filter(r => r.cells > 1000)
      if (rates.length > 0) report('tunnel', 'transit hop', 'cells per CPU-second', median(rates.map(r => r.rate)), 'cells/s', `median of ${rates.length} hop processes, last stream alice → bob`)

      note(`streaming ${mb} MB bob → alice, ${runs} times…`)
      const downRates: number[] = []
      for (let k = 0; k < runs; k++) downRates.push((await timed(false)).rate)
      report('tunnel', `one stream ${mb} MB`, 'bob → alice', median(downRates), 'MB/s', `median of ${runs} (runs: ${downRates.map(r => r.toFixed(2)).join(', ')})`)
    }

    // The same echo after the streams: an open stream on routers that have been working a while.
    if (pings > 0) {
      const pw = await a.call('ping', { to: db.address, port: 81, count: pings }) as { rtts: number[] }
      report('tunnel', 'open stream', 'time to first byte, warm', median(pw.rtts), 'ms', `after the streams; p95 ${p95(pw.rtts).toFixed(1)} ms`)
    }
  } finally {
    await Promise.all(peers.map(async p => { await p.stop() }))
  }
}
