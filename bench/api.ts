/**
 * Local API benchmark: `umbra router` processes on 127.0.0.1 (TCP, UDP and HTTP in turn), the
 * SAM bridge and SOCKS proxy of router 0, a server tunnel on router 1.
 *   npm run bench -- api [--json] [--routers 8] [--mb 50] [--creates 5] [--only create|local|hops|socks]
 * Figures: a SAM stream between two destinations on router 0 with 0-hop tunnels (the router
 * hands their messages over inside itself, docs/sessions.md); a SAM stream from router 0 to
 * router 1 over 3+3 hops; SESSION CREATE with 3-hop tunnels (median); curl through the SOCKS5
 * proxy fetching a file from the server tunnel over 3+3 hops. Each throughput case runs 4
 * times: the first is reported apart (the routers' code on its path not yet optimized by the
 * JIT, a new garlic session, slow start; `bench tunnel` reports its first stream apart too)
 * and the figure is the median of the others.
 */
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import * as http from 'node:http'
import type * as net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { converge, spawnRouter, stopRouter, type RouterProc } from '../src/cli/testnet/procs.ts'
import { controlGet } from '../src/api/control-client.ts'
import { createSession, type Session } from '../src/api/client/index.ts'
import { formatSeedFile } from '../src/router/seed-file.ts'
import { LOOPBACK_LISTEN as LISTEN, median, note, numArg, type report as Report } from './report.ts'

/** Creates a STREAM session on the bridge at `port` with `hops`-hop tunnels; returns it and how long SESSION CREATE took (ms). */
async function session (port: number, hops: number): Promise<{ s: Session, ms: number }> {
  const t0 = performance.now()
  const s = await createSession({ port, inboundLength: hops, outboundLength: hops })
  return { s, ms: performance.now() - t0 }
}

/** Streams `bytes` from session `a` to session `b` (b accepts); MB/s from the first write to the last byte received. */
async function samStream (a: Session, b: Session, bytes: number): Promise<number> {
  const accepted = b.accept()
  const tx = await a.connect(b.destination)
  const chunk = randomBytes(64 * 1024)
  const t0 = performance.now()
  let sent = 0
  const pump = (): void => {
    while (sent < bytes) {
      sent += chunk.length
      if (!tx.write(chunk)) { tx.once('drain', pump); return }
    }
  }
  pump()
  const rx = (await accepted).socket
  let got = 0
  const t1 = await new Promise<number>((resolve) => {
    rx.on('data', (d: Buffer) => { got += d.length; if (got >= bytes) resolve(performance.now()) })
  })
  tx.destroy()
  rx.destroy()
  return bytes / 1e6 / ((t1 - t0) / 1000)
}

async function curl (args: string[]): Promise<{ ms: number, sha: string, size: number }> {
  // The body is hashed as it arrives, not gathered: 50 MB held and copied in this process
  // would take CPU from the routers being measured.
  const t0 = performance.now()
  return await new Promise((resolve, reject) => {
    const child = spawn('curl', ['--silent', '--show-error', '--max-time', '600', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    const hash = createHash('sha256')
    let size = 0
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { size += d.length; hash.update(d) })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.once('error', reject)
    child.once('close', (code) => {
      if (code !== 0) { reject(new Error(`curl exited with ${String(code)}: ${stderr}`)); return }
      resolve({ ms: performance.now() - t0, sha: hash.digest('hex'), size })
    })
  })
}

/** Runs after the first of each throughput case; their median is the figure. */
const WARM_RUNS = 3

export async function run (args: string[], report: typeof Report): Promise<void> {
  /** Reports the first run of a case apart, then the median of the others (all runs in the note). */
  const reportRuns = (kase: string, metric: string, rates: number[], target: string): void => {
    const runs = `runs ${rates.map(r => r.toFixed(1)).join(', ')}`
    report('api', kase, `${metric}, first run`, rates[0]!, 'MB/s', 'the first of this case: its path not yet optimized by the JIT, a new garlic session, slow start')
    report('api', kase, `${metric}, median of runs 2-${rates.length}`, median(rates.slice(1)), 'MB/s', `${target}; ${runs}`)
  }
  const n = numArg(args, '--routers', 8)
  const mb = numArg(args, '--mb', 50)
  const creates = numArg(args, '--creates', 5)
  const oi = args.indexOf('--only')
  const only = oi >= 0 ? args[oi + 1] : undefined
  if (only !== undefined && !['create', 'local', 'hops', 'socks'].includes(only)) throw new Error('--only takes create, local, hops or socks')
  const runs = (kase: string): boolean => only === undefined || only === kase
  // Run the routers from these sources, never from a stale build in dist/.
  process.env.UMBRA_FROM_SOURCE = '1'
  const base = await mkdtemp(join(tmpdir(), 'umbra-bench-api-'))
  const body = randomBytes(mb * 1e6)
  const web = http.createServer((_req, res) => { res.writeHead(200, { 'content-length': body.length }).end(body) })
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve))
  const procs: RouterProc[] = []
  try {
    const start = async (i: number, seeds: string[], extra: string[] = []): Promise<RouterProc> => await spawnRouter({
      index: i, dataDir: join(base, `r${i}`), listen: [LISTEN[i % 3]!], network: 'benchapi', control: '127.0.0.1:0', seedFiles: seeds,
      sam: i < 2 ? '127.0.0.1:0' : 'off', socks: i === 0 ? '127.0.0.1:0' : 'off', fs: 'off', extraArgs: extra, logLevel: 'error'
    }, 60_000)
    procs.push(await start(0, []))
    const seedFile = join(base, 'seeds.txt')
    await writeFile(seedFile, formatSeedFile([Buffer.from(procs[0]!.info, 'base64')], ['umbra bench api: router 0']))
    procs.push(...await Promise.all(Array.from({ length: n - 1 }, async (_, k) => await start(k + 1, [seedFile],
      k === 0 ? ['--server-tunnel', `web=127.0.0.1:${(web.address() as net.AddressInfo).port}`] : []))))
    await converge(procs.map(p => async () => await controlGet(p.control, '/api/status', { timeoutMs: 2000 }).then(s => (s as { netdb: { routerInfos: number } }).netdb.routerInfos, () => -1)), n, 120_000)
    note(`${n} routers up and converged`)
    const sam0 = Number(/:(\d+) udp/.exec(procs[0]!.sam)![1])
    const sam1 = Number(/:(\d+) udp/.exec(procs[1]!.sam)![1])
    const socks = procs[0]!.socks

    // SESSION CREATE with 3-hop tunnels.
    const times: number[] = []
    for (let i = 0; i < (runs('create') ? creates : 0); i++) {
      const { s, ms } = await session(sam0, 3)
      times.push(ms)
      await s.close()
    }
    if (runs('create')) report('api', 'sam-create-3hop', 'SESSION CREATE median', median(times), 'ms', `min ${Math.min(...times).toFixed(0)} max ${Math.max(...times).toFixed(0)} (target <= 1000)`)

    /**
     * Streams 4 × mb MB between two new sessions (on bridges `from` and `to`); reports the first
     * run apart (the routers' code on this path not yet optimized by the JIT, as `bench tunnel`
     * does) and the median of the other three.
     */
    const streamCase = async (kase: string, from: number, to: number, hops: number, target: string): Promise<void> => {
      const a = (await session(from, hops)).s
      const b = (await session(to, hops)).s
      const rates: number[] = []
      for (let i = 0; i < 1 + WARM_RUNS; i++) rates.push(await samStream(a, b, mb * 1e6))
      reportRuns(kase, 'throughput', rates, target)
      await Promise.all([a.close(), b.close()])
    }
    if (runs('local')) await streamCase('sam-stream-one-router', sam0, sam0, 0, '(target >= 100; 0-hop tunnels, handed over inside the router)')
    if (runs('hops')) await streamCase('sam-stream-3+3hop', sam0, sam1, 3, '(compare: npm run bench -- tunnel, one stream)')
    if (!runs('socks')) return

    // curl through SOCKS5 to the server tunnel on router 1.
    const b32 = procs[1]!.tunnels[0]!.split(' ')[1]!
    const want = createHash('sha256').update(body).digest('hex')
    const rates: number[] = []
    for (let i = 0; i < 1 + WARM_RUNS; i++) {
      const r = await curl(['--socks5-hostname', socks, `http://${b32}/`, '-o', '-'])
      if (r.sha !== want || r.size !== body.length) throw new Error('curl got different bytes')
      rates.push(body.length / 1e6 / (r.ms / 1000))
    }
    reportRuns('socks-curl-3+3hop', `curl ${mb} MB`, rates, '(target >= 16)')
  } finally {
    web.close()
    web.closeAllConnections()
    await Promise.allSettled(procs.map(async p => await stopRouter(p)))
    await rm(base, { recursive: true, force: true })
  }
}
