/**
 * `umbra router`, `umbra status` and `umbra router export-info` as an operator runs them:
 * separate processes, a temp data dir, the control API on a free port, SIGTERM, restart.
 */
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseSeedFile } from '../../src/router/seed-file.ts'

const bin = fileURLToPath(new URL('../../bin/umbra.js', import.meta.url))

/** A temp dir that also serves as HOME, so nothing touches the real ~/.local/share/umbra. */
async function tempDir (t: Test): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'umbra-cli-'))
  t.teardown(async () => { await rm(d, { recursive: true, force: true }) })
  return d
}

const envFor = (home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, UMBRA_FROM_SOURCE: '1', HOME: home, XDG_DATA_HOME: join(home, 'xdg'), ...extra }
  for (const k of Object.keys(env)) if (k.startsWith('UMBRA_') && k !== 'UMBRA_FROM_SOURCE' && !(k in extra)) delete env[k]
  // Free ports for the local APIs: tests run side by side.
  env.UMBRA_SAM ??= '127.0.0.1:0'
  env.UMBRA_FS ??= 'off'
  env.UMBRA_SOCKS ??= '127.0.0.1:0'
  return env
}

/** Runs a short command to completion (bounded). */
async function run (args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<{ code: number | null, out: string, err: string }> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
    let out = ''
    let err = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`umbra ${args.join(' ')} did not finish: ${out} ${err}`)) }, timeoutMs)
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err }) })
  })
}

/** A running `umbra router`: its stdout lines by key, its stderr, and its exit. */
class RouterProcess {
  out = ''
  err = ''
  readonly exited: Promise<number | null>
  private readonly child: ChildProcess

  constructor (t: Test, args: string[], env: NodeJS.ProcessEnv, stdin: 'ignore' | 'pipe' = 'ignore') {
    this.child = spawn(process.execPath, [bin, 'router', ...args], { stdio: [stdin, 'pipe', 'pipe'], env })
    this.child.stdout!.on('data', (d: Buffer) => { this.out += d.toString() })
    this.child.stderr!.on('data', (d: Buffer) => { this.err += d.toString() })
    this.exited = new Promise((resolve) => { this.child.on('close', (code) => { resolve(code) }) })
    t.teardown(() => { if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL') })
  }

  /** Values of stdout lines `<key> <value>`. */
  values (key: string): string[] {
    return this.out.split('\n').filter(l => l.startsWith(key + ' ')).map(l => l.slice(key.length).trim())
  }

  /** Waits until `cond()` holds (bounded). */
  async until (cond: () => boolean, what: string, ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stdout: ${this.out} stderr: ${this.err}`)
      if (this.child.exitCode !== null) throw new Error(`router exited (${this.child.exitCode}) before ${what}: ${this.err}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }

  async started (): Promise<{ id: string, control: string, info: string }> {
    await this.until(() => this.values('control').length > 0, 'the control line')
    return { id: this.values('router')[0]!, control: this.values('control')[0]!, info: this.values('info')[0]! }
  }

  /** Closes its stdin (the UMBRA_LIFELINE pipe). */
  closeStdin (): void { this.child.stdin!.end() }

  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    this.child.kill(signal)
    const timer = setTimeout(() => { this.child.kill('SIGKILL') }, 20_000)
    try { return await this.exited } finally { clearTimeout(timer) }
  }
}

/** JSON log records from stderr. */
const records = (err: string): Array<Record<string, unknown>> =>
  err.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as Record<string, unknown>)

t.test('help texts say what each command does', async t => {
  const home = await tempDir(t)
  const env = envFor(home)
  const top = await run(['--help'], env)
  t.match(top.out, /router export-info/)
  t.match(top.out, /status\s+show a running router's state/)
  const router = await run(['router', '--help'], env)
  t.equal(router.code, 0)
  for (const flag of ['--config', '--data-dir', '--listen', '--network', '--control', '--log-level', '--log-format', '--bandwidth-in', '--bandwidth-out', '--seed-file', '--peer']) {
    t.match(router.out, flag, `router --help names ${flag}`)
  }
  t.match((await run(['router', 'export-info', '--help'], env)).out, /Writes a seed file/)
  t.match((await run(['status', '--help'], env)).out, /Shows the state of a running router/)
  t.match((await run(['help', 'status'], env)).out, /Usage: umbra status/)
})

t.test('bad flags and config exit 2 with one clear line', async t => {
  const home = await tempDir(t)
  const env = envFor(home)
  const cases: Array<[string[], RegExp, NodeJS.ProcessEnv?]> = [
    [['router', '--bogus'], /^umbra router: Unknown option '--bogus'/],
    [['router', '--control', '0.0.0.0:7657'], /^umbra router: --control: the control API has no authentication and binds only to loopback/],
    [['router', '--log-level', 'loud'], /^umbra router: --log-level: log level must be one of debug, info, warn, error, got 'loud'/],
    [['router', '--listen', 'ftp://127.0.0.1:1'], /^umbra router: --listen: listen address must start with udp:\/\/, tcp:\/\/ or http:\/\//],
    [['router', '--bandwidth-in', 'lots'], /^umbra router: --bandwidth-in must be a whole number/],
    [['router', '--peer', 'garbage!'], /^umbra router: --peer #1: not padded standard base64/],
    [['router', '--seed-file', join(home, 'missing.txt')], /^umbra router: cannot read .*missing\.txt: no such file/],
    [['router', 'extra'], /^umbra router: unexpected argument 'extra'/],
    [['router', '--data-dir', join(home, 'd')], /^umbra router: UMBRA_NETWORK: network name/, envFor(home, { UMBRA_NETWORK: 'bad name' })],
    [['status', '--api', 'http://127.0.0.1:1', '--data-dir', home], /^umbra status: give either --api or --data-dir/],
    [['status', '--api', 'ftp://x'], /^umbra status: --api must be the API's base URL/],
    [['router', 'export-info', '--nope'], /^umbra router export-info: Unknown option '--nope'/]
  ]
  for (const [args, msg, e] of cases) {
    const r = await run(args, e ?? env)
    t.equal(r.code, 2, args.join(' '))
    t.match(r.err, msg, args.join(' '))
    t.equal(r.err.trim().split('\n').length, 1, 'one line')
    t.equal(r.out, '', 'nothing on stdout')
  }
  const file = join(home, 'bad.json')
  await writeFile(file, JSON.stringify({ listen: ['tcp://127.0.0.1:0'], colour: 'blue' }))
  const r = await run(['router', '--config', file], env)
  t.equal(r.code, 2)
  t.match(r.err, /^umbra router: .*bad\.json: unknown key 'colour'/)
})

t.test('status and export-info with no router: exit 1 and say so', async t => {
  const home = await tempDir(t)
  const env = envFor(home)
  const dataDir = join(home, 'data')
  const s = await run(['status', '--data-dir', dataDir], env)
  t.equal(s.code, 1)
  t.match(s.err, /no router is running with data directory .*data/)
  const dflt = await run(['status'], env)
  t.equal(dflt.code, 1)
  t.match(dflt.err, new RegExp(`no router is running with data directory ${join(home, 'xdg', 'umbra')}`), 'the default data dir follows XDG_DATA_HOME')
  const dead = await run(['status', '--api', 'http://127.0.0.1:9'], env)
  t.equal(dead.code, 1)
  t.match(dead.err, /control API at http:\/\/127\.0\.0\.1:9 does not answer/)
  const e = await run(['router', 'export-info', '--data-dir', dataDir], env)
  t.equal(e.code, 1)
  t.match(e.err, /no router is running .*start the router first/)
})

t.test('a router: status, export-info, a peer, SIGTERM, restart with the same identity', async t => {
  const home = await tempDir(t)
  const dataDir = join(home, 'a')
  const env = envFor(home)
  const a = new RouterProcess(t, ['--data-dir', dataDir, '--control', '127.0.0.1:0', '--log-format', 'json', '--network', 'clitest', '--bandwidth-out', '512'], env)
  const { id, control, info } = await a.started()
  t.match(id, /^[0-9a-f]{64}$/)
  t.match(control, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.same(a.values('listening').map(x => x.split(':')[0]), ['udp', 'tcp', 'http'], 'default listen: every transport')
  t.match(JSON.parse(await readFile(join(dataDir, 'control.json'), 'utf8')), { url: control, pid: Number }, 'control.json names the API')
  await a.until(() => records(a.err).some(r => r.msg === 'router started'), 'the start log')
  t.match(records(a.err).find(r => r.msg === 'router started'), { level: 'info', id, network: 'clitest', control, bandwidthOutKBps: 512, bandwidthInKBps: 0 }, 'JSON logs')

  const s = await run(['status', '--data-dir', dataDir], env)
  t.equal(s.code, 0, s.err)
  t.match(s.out, new RegExp(`^router\\s+${id}$`, 'm'))
  t.match(s.out, /^network\s+clitest$/m)
  t.match(s.out, /^uptime\s+\d+s$/m)
  for (const addr of a.values('listening')) t.match(s.out, addr)
  t.match(s.out, /^peers\s+0$/m)
  t.match(s.out, /^links\s+udp 0, tcp 0, http 0, memory 0$/m)
  t.match(s.out, /^netdb\s+\d+ RouterInfos, \d+ LeaseSets$/m)
  t.match(s.out, /^load\s+up 0\.\d\d, down 0\.\d\d, transit 0\.00, lookup 0\.\d\d, queue 0\.\d\d, build 0\.\d\d$/m, 'accounting: load per resource')
  t.match(s.out, /^served\s+cells: \d+ free, \d+ for credit, dropped none$/m)
  t.match(s.out, /^credit\s+\d+ peers; we offer priority \d+$/m)

  const j = await run(['status', '--json'], envFor(home, { UMBRA_DATA_DIR: dataDir }))
  t.equal(j.code, 0, j.err)
  const st = JSON.parse(j.out) as Record<string, unknown>
  t.match(st, { id, network: 'clitest', addresses: a.values('listening'), peers: 0 }, '--json, data dir from UMBRA_DATA_DIR')
  t.same(JSON.parse((await run(['status', '--api', control, '--json'], env)).out).id, id, '--api')

  const seedFile = join(home, 'seeds.txt')
  const ex = await run(['router', 'export-info', '--data-dir', dataDir, '-o', seedFile], env)
  t.equal(ex.code, 0, ex.err)
  const text = await readFile(seedFile, 'utf8')
  t.match(text, new RegExp(`^# .*\\n# router ${id} on network clitest\\n`))
  const entries = parseSeedFile(text)
  t.equal(entries.length, 1)
  t.equal(Buffer.from(entries[0]!.bytes).toString('base64'), info, 'the seed file holds the printed RouterInfo')
  t.same(entries[0]!.info.addresses.map(x => x.url), a.values('listening'), 'with the bound addresses')
  const toStdout = await run(['router', 'export-info', '--data-dir', dataDir], env)
  t.same(parseSeedFile(toStdout.out).map(e => e.bytes), entries.map(e => e.bytes), 'without -o: stdout')

  const twin = await run(['router', '--data-dir', dataDir, '--control', '127.0.0.1:0'], env)
  t.equal(twin.code, 1, 'a second router on the same data dir is refused')
  t.match(twin.err, /already running with data directory/)

  const b = new RouterProcess(t, ['--data-dir', join(home, 'b'), '--control', 'off', '--network', 'clitest', '--peer', info, '--log-level', 'debug'], env)
  await b.until(() => b.values('control').length > 0, 'router b')
  t.same(b.values('control'), ['off'])
  t.notOk(existsSync(join(home, 'b', 'control.json')), 'no control.json when the API is off')
  await b.until(() => /INFO {2}link up .*transport=udp direction=outbound/.test(b.err), 'b logs the link (text format)')
  await a.until(() => records(a.err).some(r => r.msg === 'link up' && r.direction === 'inbound'), 'a logs the link')
  const s2 = JSON.parse((await run(['status', '--data-dir', dataDir, '--json'], env)).out) as { peers: number, links: Record<string, number> }
  t.equal(s2.peers, 1)
  t.equal(s2.links.udp, 1)
  t.equal(await b.stop('SIGINT'), 0, 'SIGINT stops cleanly too')
  await a.until(() => records(a.err).some(r => r.msg === 'link down'), 'a logs the link going down')

  t.equal(await a.stop(), 0, 'SIGTERM: exit 0')
  t.notOk(existsSync(join(dataDir, 'control.json')), 'control.json removed')
  t.ok(records(a.err).some(r => r.msg === 'stopped'))
  const gone = await run(['status', '--data-dir', dataDir], env)
  t.equal(gone.code, 1)

  const again = new RouterProcess(t, ['--data-dir', dataDir, '--control', '127.0.0.1:0'], env)
  t.equal((await again.started()).id, id, 'a restart keeps the router ID')
  t.equal(await again.stop(), 0)
})

t.test('config file and environment feed the router; a stale control.json does not block it', async t => {
  const home = await tempDir(t)
  const dataDir = join(home, 'data')
  await mkdir(dataDir, { recursive: true })
  await writeFile(join(dataDir, 'umbra.json'), JSON.stringify({ network: 'fromfile', listen: ['tcp://127.0.0.1:0'], control: '127.0.0.1:0', log: { format: 'json' } }))
  await writeFile(join(dataDir, 'control.json'), JSON.stringify({ url: 'http://127.0.0.1:9', pid: 999999 }))
  const r = new RouterProcess(t, [], envFor(home, { UMBRA_DATA_DIR: dataDir, UMBRA_LOG_LEVEL: 'warn' }))
  await r.started()
  t.same(r.values('listening').map(x => x.split(':')[0]), ['tcp'], 'listen from the file')
  const s = JSON.parse((await run(['status', '--data-dir', dataDir, '--json'], envFor(home))).out) as { network: string }
  t.equal(s.network, 'fromfile')
  t.notOk(records(r.err).some(x => x.level === 'info'), 'UMBRA_LOG_LEVEL=warn drops info records')
  t.equal(await r.stop(), 0)
})

t.test('control API on a Unix socket; UMBRA_LIFELINE=1 stops the router when stdin closes', async t => {
  const home = await tempDir(t)
  const dataDir = join(home, 'data')
  const sock = join(home, 'control.sock')
  const env = envFor(home, { UMBRA_LIFELINE: '1' })
  const r = new RouterProcess(t, ['--data-dir', dataDir, '--control', `unix:${sock}`, '--listen', 'tcp://127.0.0.1:0'], env, 'pipe')
  const { id, control } = await r.started()
  t.equal(control, `unix:${sock}`)
  const s = await run(['status', '--data-dir', dataDir, '--json'], envFor(home))
  t.equal(s.code, 0, s.err)
  t.equal(JSON.parse(s.out).id, id, 'status finds the socket through control.json')
  t.equal(JSON.parse((await run(['status', '--api', control, '--json'], envFor(home))).out).id, id, '--api unix:/path')
  r.closeStdin()
  const timer = setTimeout(() => { void r.stop('SIGKILL') }, 20_000)
  t.equal(await r.exited, 0, 'a closed lifeline is a clean stop')
  clearTimeout(timer)
  t.match(r.err, /stopping signal="lifeline closed"/)
  t.notOk(existsSync(join(dataDir, 'control.json')), 'control.json removed')
  t.notOk(existsSync(sock), 'socket removed')
})
