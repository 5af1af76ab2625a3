/**
 * Tunnel benchmark: routers as separate processes on 127.0.0.1 (TCP, UDP and HTTP in turn),
 * two destinations with 3-hop inbound and outbound tunnels.
 *   npm run bench -- tunnel [--json] [--routers 8] [--builds 100] [--mb 50] [--pings 50] [--transport mixed|tcp|udp|http] [--blast 200000]
 * Figures: tunnel build time (median, p95) and success; one stream's throughput each way
 * (timed from the open stream to the last byte at the receiver); time to first byte of an
 * answer on an open stream (1-byte echo round trip); transit cells per CPU-second of each hop
 * process during the stream (everything the process does, links included).
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
  const only = args.includes('--transport') ? args[args.indexOf('--transport') + 1]! : 'mixed'
  const listen = only === 'mixed' ? LISTEN : LISTEN.filter(l => l.startsWith(only))
  if (listen.length === 0) throw new Error(`--transport must be tcp, udp, http or mixed, not ${only}`)
  note(`starting ${routers} router processes (${only})…`)
  const peers = await startPeers(routers, {}, listen)
  try {
    const [a, b] = [peers[0]!, peers[1]!]
    note(`building ${nBuilds} inbound + ${nBuilds} outbound 3-hop tunnels…`)
    const bl = await a.call('builds', { count: nBuilds, length: 3 }) as { inMs: number[], outMs: number[], failed: number }
    const all = [...bl.inMs, ...bl.outMs]
    report('tunnel', '3-hop build', 'median', median(all), 'ms', `inbound ${median(bl.inMs).toFixed(1)}, outbound ${median(bl.outMs).toFixed(1)}`)
    report('tunnel', '3-hop build', 'p95', p95(all), 'ms')
    report('tunnel', '3-hop build', 'success', 100 * (nBuilds - bl.failed) / nBuilds, '%', `${bl.failed} of ${nBuilds} pairs failed`)

    // One transit hop at full load: router 0 blasts cells through router 2 (a participant) to
    // router 3 (the endpoint); router 2's cells per CPU-second.
    const blastCells = arg(args, '--blast', 200_000)
    if (blastCells > 0) {
      const hop = peers[2]!
      const x = await hop.stats()
      const bl = await a.call('blast', { hops: [hop.id, peers[3]!.id], count: blastCells }) as { ms: number }
      await new Promise(resolve => setTimeout(resolve, 500))
      const y = await hop.stats()
      const cells = y.tunnels.transitCells - x.tunnels.transitCells
      report('tunnel', 'transit hop (blast)', 'cells per CPU-second', cells / ((y.cpuMs - x.cpuMs) / 1000), 'cells/s', `${cells} of ${blastCells} cells in ${(bl.ms / 1000).toFixed(1)} s (${(cells / (bl.ms / 1000)).toFixed(0)}/s wall)`)
      const frames = y.link.framesSent - x.link.framesSent
      note(`transit hop: ${frames} link frames sent (${(cells / Math.max(1, frames)).toFixed(1)} cells per frame), gc ${gcLine(x.gc, y.gc)}`)
    }

    const da = await a.call('dest', { length: 3, quantity: 2 })
    const db = await b.call('dest', { length: 3, quantity: 2 })
    note(`destinations ready: ${String(da.address).slice(0, 12)}… in ${Number(da.ms).toFixed(0)} ms, ${String(db.address).slice(0, 12)}… in ${Number(db.ms).toFixed(0)} ms`)
    await b.call('sink', { port: 80 })
    await b.call('echo', { port: 81 })

    const pr = await a.call('ping', { to: db.address, port: 81, count: pings }) as { rtts: number[] }
    report('tunnel', 'open stream', 'time to first byte', median(pr.rtts), 'ms', `1-byte echo round trip, p95 ${p95(pr.rtts).toFixed(1)} ms`)

    const bytes = mb * 1024 * 1024
    const before = await Promise.all(peers.map(async p => await p.stats()))
    note(`streaming ${mb} MB alice → bob…`)
    const monoUs = (): string => (process.hrtime.bigint() / 1000n).toString()
    if (process.env.UMBRA_BENCH_PROF !== undefined) note(`upload starts at monotonic ${monoUs()} us (the profiles' clock)`)
    const upCall = a.call('stream', { to: db.address, port: 80, up: bytes, down: 0 })
    // UMBRA_BENCH_QUEUES=ms: every ms during the upload, where bytes wait in each router (stderr).
    const qms = Number(process.env.UMBRA_BENCH_QUEUES ?? 0)
    let sampling = qms > 0
    const sampler = (async () => {
      for (let i = 0; sampling && i < 10_000; i++) {
        await new Promise(resolve => setTimeout(resolve, qms))
        const qs = await Promise.all(peers.map(async p => await p.call('queues') as { sender: number, carriers: number, sockets: number }))
        process.stderr.write(qs.map((q, k) => `r${k} ${(q.sender / 1024).toFixed(0)}/${(q.carriers / 1024).toFixed(0)}/${(q.sockets / 1024).toFixed(0)}`).join('  ') + '  (KiB sender/carriers/sockets)\n')
      }
    })()
    const upRun = await upCall
    const sunk = await b.event(600_000)
    sampling = false
    await sampler
    if (process.env.UMBRA_BENCH_PROF !== undefined) note(`upload ends at monotonic ${monoUs()} us`)
    if (sunk.bytes !== bytes || sunk.sha !== upRun.upSha) throw new Error(`upload corrupted: ${String(sunk.bytes)} bytes`)
    note('sender stream: ' + JSON.stringify(upRun.streamStats))
    const upStart = (upRun.start as number) + (upRun.connectMs as number)
    report('tunnel', `one stream ${mb} MB`, 'alice → bob', bytes / 1e6 / (((sunk.end as number) - upStart) / 1000), 'MB/s', 'byte-identical')
    const after = await Promise.all(peers.map(async p => await p.stats()))
    note('drops: ' + after.map((st, i) => {
      return `r${i} replay ${st.tunnels.replayed} mac ${st.tunnels.badMac} unknown ${st.tunnels.unknownTunnel} malformed ${st.tunnels.malformed} sender ${st.sender.dropped}`
    }).join('; '))
    note('streams: ' + JSON.stringify([after[0], after[1]].map(x => x?.streams)))
    note('cpu per process (alice, bob, hops): ' + after.map((z, i) => {
      const x = before[i]!
      const cells = z.outbox.cellsSent - x.outbox.cellsSent
      const msgs = z.outbox.messagesSent - x.outbox.messagesSent
      return `r${i} ${((z.cpuMs - x.cpuMs) / 1000).toFixed(1)} s (gc: ${gcLine(x.gc, z.gc)}), transit ${z.tunnels.transitCells - x.tunnels.transitCells}, sent ${cells} cells in ${msgs} msgs; links sent ${z.link.messagesSent - x.link.messagesSent} msgs in ${z.link.framesSent - x.link.framesSent} frames, ${((z.link.bytesSent - x.link.bytesSent) / 1e6).toFixed(1)} MB`
    }).join('; '))
    const rates = peers.slice(2).map((_, i) => {
      const x = before[i + 2]!
      const y = after[i + 2]!
      const cells = y.tunnels.transitCells - x.tunnels.transitCells
      return { cells, rate: cells / Math.max(1e-3, (y.cpuMs - x.cpuMs) / 1000) }
    }).filter(r => r.cells > 1000)
    if (rates.length > 0) report('tunnel', 'transit hop', 'cells per CPU-second', median(rates.map(r => r.rate)), 'cells/s', `median of ${rates.length} hop processes`)

    note(`streaming ${mb} MB bob → alice…`)
    const downRun = await a.call('stream', { to: db.address, port: 80, up: 0, down: bytes })
    await b.event(600_000)
    if (downRun.downBytes !== bytes) throw new Error(`download short: ${String(downRun.downBytes)} bytes`)
    const downStart = (downRun.start as number) + (downRun.connectMs as number)
    report('tunnel', `one stream ${mb} MB`, 'bob → alice', bytes / 1e6 / (((downRun.downEnd as number) - downStart) / 1000), 'MB/s')
  } finally {
    await Promise.all(peers.map(async p => { await p.stop() }))
  }
}
