/**
 * Local API benchmark: `umbra router` processes on 127.0.0.1 (TCP, UDP and HTTP in turn), the
 * SAM bridge and SOCKS proxy of router 0, a server tunnel on router 1.
 *   npm run bench -- api [--json] [--routers 8] [--mb 50] [--creates 5]
 * Figures: a SAM stream between two destinations on router 0 with 0-hop tunnels; a SAM stream
 * from router 0 to router 1 over 3+3 hops; SESSION CREATE with 3-hop tunnels (median); curl
 * through the SOCKS5 proxy fetching a file from the server tunnel over 3+3 hops.
 */
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import * as http from 'node:http'
import * as net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnRouter, stopRouter, type RouterProc } from '../src/cli/testnet/procs.ts'
import { controlGet } from '../src/api/control-client.ts'
import { median, note, type report as Report } from './report.ts'

const LISTEN = ['tcp://127.0.0.1:0', 'udp://127.0.0.1:0', 'http://127.0.0.1:0/umbra']

/** A SAM control connection that reads one reply line per command. */
class Sam {
  private buf = Buffer.alloc(0)
  private waiters: Array<() => void> = []
  private readonly onData = (d: Buffer): void => { this.buf = Buffer.concat([this.buf, d]); for (const w of this.waiters.splice(0)) w() }
  private constructor (readonly s: net.Socket) {
    s.on('data', this.onData)
    s.on('error', () => {})
  }

  static async open (port: number): Promise<Sam> {
    const s = net.connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject) })
    const c = new Sam(s)
    const hello = await c.cmd('HELLO VERSION')
    if (!hello.includes('RESULT=OK')) throw new Error(hello)
    return c
  }

  async cmd (line: string): Promise<string> {
    this.s.write(line + '\n')
    return await this.line()
  }

  async line (): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf(10)
      if (i >= 0) { const l = this.buf.subarray(0, i).toString(); this.buf = this.buf.subarray(i + 1); return l }
      await new Promise<void>((resolve) => { this.waiters.push(resolve) })
    }
  }

  /** Hands the socket over as a raw stream; returns the bytes already buffered after the last line. */
  raw (): { socket: net.Socket, head: number } {
    this.s.off('data', this.onData)
    return { socket: this.s, head: this.buf.length }
  }
}

function value (line: string, key: string): string {
  const m = new RegExp(`${key}=(\\S+)`).exec(line)
  if (m === null) throw new Error(`no ${key} in ${line}`)
  return m[1]!
}

/** Creates a STREAM session; returns its control socket, destination and the time it took (ms). */
async function session (port: number, id: string, opts: string): Promise<{ ctl: Sam, dest: string, ms: number }> {
  const ctl = await Sam.open(port)
  const t0 = performance.now()
  const st = await ctl.cmd(`SESSION CREATE STYLE=STREAM ID=${id} DESTINATION=TRANSIENT ${opts}`)
  const ms = performance.now() - t0
  if (!st.includes('RESULT=OK')) throw new Error(st)
  const dest = value(await ctl.cmd('NAMING LOOKUP NAME=ME'), 'VALUE')
  return { ctl, dest, ms }
}

/** Streams `bytes` from session `fromId` (bridge `fromPort`) to `toId` (bridge `toPort`); MB/s. */
async function samStream (fromPort: number, fromId: string, toPort: number, toId: string, toDest: string, bytes: number): Promise<number> {
  const acc = await Sam.open(toPort)
  if (!(await acc.cmd(`STREAM ACCEPT ID=${toId}`)).includes('RESULT=OK')) throw new Error('ACCEPT failed')
  const con = await Sam.open(fromPort)
  const st = await con.cmd(`STREAM CONNECT ID=${fromId} DESTINATION=${toDest}`)
  if (!st.includes('RESULT=OK')) throw new Error(st)
  const chunk = randomBytes(64 * 1024)
  const tx = con.raw().socket
  const t0 = performance.now()
  let sent = 0
  const pump = (): void => {
    while (sent < bytes) {
      sent += chunk.length
      if (!tx.write(chunk)) { tx.once('drain', pump); return }
    }
  }
  pump()
  await acc.line() // the peer line
  const { socket: rx, head } = acc.raw()
  let got = head
  const done = new Promise<number>((resolve) => {
    if (got >= bytes) resolve(performance.now())
    rx.on('data', (d: Buffer) => { got += d.length; if (got >= bytes) resolve(performance.now()) })
  })
  const t1 = await done
  tx.destroy()
  rx.destroy()
  return bytes / 1e6 / ((t1 - t0) / 1000)
}

async function curl (args: string[]): Promise<{ ms: number, sha: string, size: number }> {
  const t0 = performance.now()
  return await new Promise((resolve, reject) => {
    execFile('curl', ['--silent', '--show-error', '--max-time', '600', ...args], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 }, (err, out, stderr) => {
      if (err !== null) { reject(new Error(`curl: ${stderr.toString()}`)); return }
      resolve({ ms: performance.now() - t0, sha: createHash('sha256').update(out).digest('hex'), size: out.length })
    })
  })
}

async function converge (procs: RouterProc[], n: number): Promise<void> {
  const end = Date.now() + 120_000
  while (Date.now() < end) {
    const sizes = await Promise.all(procs.map(async p => await controlGet(p.control, '/api/status', { timeoutMs: 2000 }).then(s => (s as { netdb: { routerInfos: number } }).netdb.routerInfos, () => -1)))
    if (sizes.every(s => s >= n)) return
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  throw new Error('netDb did not converge')
}

export async function run (args: string[], report: typeof Report): Promise<void> {
  const opt = (name: string, d: number): number => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : d }
  const n = opt('routers', 8)
  const mb = opt('mb', 50)
  const creates = opt('creates', 5)
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
      sam: i < 2 ? '127.0.0.1:0' : 'off', socks: i === 0 ? '127.0.0.1:0' : 'off', extraArgs: extra, logLevel: 'error'
    }, 60_000)
    procs.push(await start(0, []))
    const seedFile = join(base, 'seeds.txt')
    await writeFile(seedFile, `${procs[0]!.info}\n`)
    procs.push(...await Promise.all(Array.from({ length: n - 1 }, async (_, k) => await start(k + 1, [seedFile],
      k === 0 ? ['--server-tunnel', `web=127.0.0.1:${(web.address() as net.AddressInfo).port}`] : []))))
    await converge(procs, n)
    note(`${n} routers up and converged`)
    const sam0 = Number(/:(\d+) udp/.exec(procs[0]!.sam)![1])
    const sam1 = Number(/:(\d+) udp/.exec(procs[1]!.sam)![1])
    const socks = procs[0]!.socks

    // SESSION CREATE with 3-hop tunnels.
    const times: number[] = []
    for (let i = 0; i < creates; i++) {
      const s = await session(sam0, `c${i}`, 'inbound.length=3 outbound.length=3')
      times.push(s.ms)
      s.ctl.s.destroy()
    }
    report('api', 'sam-create-3hop', 'SESSION CREATE median', median(times), 'ms', `min ${Math.min(...times).toFixed(0)} max ${Math.max(...times).toFixed(0)} (target <= 1000)`)

    // Two destinations on one router, 0-hop tunnels.
    const a = await session(sam0, 'a0', 'inbound.length=0 outbound.length=0')
    const b = await session(sam0, 'b0', 'inbound.length=0 outbound.length=0')
    const local = [] as number[]
    for (let i = 0; i < 3; i++) local.push(await samStream(sam0, 'a0', sam0, 'b0', b.dest, mb * 1e6))
    report('api', 'sam-stream-local-0hop', 'throughput median of 3', median(local), 'MB/s', '(target >= 100)')
    a.ctl.s.destroy(); b.ctl.s.destroy()

    // Across the testnet, 3+3 hops.
    const c = await session(sam0, 'c3', 'inbound.length=3 outbound.length=3')
    const d = await session(sam1, 'd3', 'inbound.length=3 outbound.length=3')
    const remote = [] as number[]
    for (let i = 0; i < 3; i++) remote.push(await samStream(sam0, 'c3', sam1, 'd3', d.dest, mb * 1e6))
    report('api', 'sam-stream-3+3hop', 'throughput median of 3', median(remote), 'MB/s', '(compare: npm run bench -- tunnel, one stream)')
    c.ctl.s.destroy(); d.ctl.s.destroy()

    // curl through SOCKS5 to the server tunnel on router 1.
    const b32 = procs[1]!.tunnels[0]!.split(' ')[1]!
    const want = createHash('sha256').update(body).digest('hex')
    const rates: number[] = []
    for (let i = 0; i < 3; i++) {
      const r = await curl(['--socks5-hostname', socks, `http://${b32}/`, '-o', '-'])
      if (r.sha !== want || r.size !== body.length) throw new Error('curl got different bytes')
      rates.push(body.length / 1e6 / (r.ms / 1000))
    }
    report('api', 'socks-curl-3+3hop', `curl ${mb} MB median of 3`, median(rates), 'MB/s', '(target >= 16)')
  } finally {
    web.close()
    web.closeAllConnections()
    await Promise.allSettled(procs.map(async p => await stopRouter(p)))
    await rm(base, { recursive: true, force: true })
  }
}
