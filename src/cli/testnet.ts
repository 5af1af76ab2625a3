/**
 * `umbra testnet`: a whole local network in one command. Starts N routers on loopback as
 * separate processes (or in this process with --in-process), mixing UDP, TCP and HTTP
 * (testnet/plan.ts); router 0 starts first and every other router bootstraps its netDb from
 * the seed file of routers started before it. Waits until every router's netDb holds every
 * RouterInfo, prints where router 0's local APIs are, stays up until Ctrl-C, then stops every
 * router and removes every temporary directory (and, with --netns, every namespace).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Router } from '../router/router.ts'
import { resolveConfig } from '../router/config.ts'
import { describeApis, startLocalApis } from '../api/local.ts'
import { routerHost } from '../api/host.ts'
import { silentLogger } from '../util/log.ts'
import type { RouterStatus } from '../router/status.ts'
import { controlGet } from '../api/control-client.ts'
import { loadSeeds } from '../router/seeds.ts'
import { formatSeedFile } from '../router/seed-file.ts'
import { ConfigError } from '../util/errors.ts'
import { parse, positiveInt, untilStopped } from './args.ts'
import { planTestnet } from './testnet/plan.ts'
import { converge, spawnRouter, stopRouter } from './testnet/procs.ts'
import { createNamespaces, type Namespaces } from './testnet/netns.ts'
import { fsNodesReady, waitForFsNodes } from './testnet/fs-net.ts'

const HELP = `Usage: umbra testnet [options]

Starts a local network of routers: separate processes on 127.0.0.1 mixing UDP, TCP and
HTTP. They bootstrap their netDb from each other; once every router knows every other, it
prints where router 0's control API is (try \`umbra status --api URL\`) and stays up until
Ctrl-C, then stops every router and removes its temporary data.

Options:
  --routers N        how many routers (default 8, at most 64)
  --in-process       run the routers inside this process instead (faster; for tests)
  --netns            (root) run each router in its own network namespace with its own
                     address on a veth bridge, like separate hosts
  --delay MS         with --netns: netem delay on every router's link (default 0)
  --loss PCT         with --netns: netem loss percentage (default 0)
  --timeout S        give up if the netDb has not converged after S seconds (default 60)
  --sam ADDR|off     router 0's SAM bridge (default 127.0.0.1:7656; datagrams on UDP
                     port - 1); the other routers run none
  --socks ADDR|off   router 0's SOCKS5 proxy (default 127.0.0.1:4447)
  --fs on|off        run a file-sharing node on every router (default on; each router
                     then has a SAM bridge on a free port, router 0 on --sam)
  --exit             exit once the network has converged (for scripts and tests)
  -h, --help         show this text
`

/** One running member of the testnet, whatever runs it. */
interface Member {
  index: number
  id: string
  addresses: string[]
  control: string
  /** Its SAM bridge and SOCKS proxy (`host:port …` or `off`). */
  sam: string
  socks: string
  /** Its fs node's destination (base64), or `off`. */
  fs: string
  dataDir: string
  /** Its RouterInfo, base64. */
  info: string
  status: () => Promise<RouterStatus>
  stop: () => Promise<void>
}

export async function runTestnet (argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    routers: { type: 'string' },
    'in-process': { type: 'boolean' },
    netns: { type: 'boolean' },
    delay: { type: 'string' },
    loss: { type: 'string' },
    timeout: { type: 'string' },
    exit: { type: 'boolean' },
    sam: { type: 'string' },
    socks: { type: 'string' },
    fs: { type: 'string' },
    help: { type: 'boolean', short: 'h' }
  })
  if (values.help === true) { process.stdout.write(HELP); return 0 }
  const n = positiveInt('routers', values.routers, 8, 64)
  const timeoutS = positiveInt('timeout', values.timeout, 60, 3600)
  const delay = values.delay === undefined ? 0 : positiveInt('delay', values.delay, 0, 10_000)
  const loss = values.loss === undefined ? 0 : Number(values.loss)
  if (!(loss >= 0 && loss < 100)) throw new ConfigError(`--loss must be a percentage from 0 to 99, got '${values.loss ?? ''}'`)
  if (values.netns === true && values['in-process'] === true) throw new ConfigError('--netns runs routers as processes; drop --in-process')
  if (values.netns !== true && (values.delay !== undefined || values.loss !== undefined)) throw new ConfigError('--delay and --loss need --netns')
  if (values.fs !== undefined && values.fs !== 'on' && values.fs !== 'off') throw new ConfigError(`--fs must be on or off, got '${values.fs}'`)
  // File sharing needs a SAM bridge on every router; in namespaces loopback is per router, so it stays off there.
  // Its nodes' 3-hop tunnels need at least 4 routers.
  const fs = n >= 4 && values.fs !== 'off' && values.netns !== true && values['in-process'] !== true && values.sam !== 'off'

  const stop = new AbortController()
  const stopped = untilStopped(stop.signal)
  void stopped.then(() => { stop.abort() })
  const base = await mkdtemp(join(tmpdir(), 'umbra-testnet-'))
  const members: Member[] = []
  let ns: Namespaces | undefined
  try {
    if (values.netns === true) {
      ns = await createNamespaces(n, { delayMs: delay, lossPct: loss })
      console.log(`namespaces ${ns.names.join(' ')} on bridge ${ns.bridge} (${ns.hosts[0]} ... ${ns.hosts[n - 1]!})`)
    }
    const plan = planTestnet(n, ns?.hosts ?? [])
    const started = performance.now()
    const start = values['in-process'] === true ? startInProcess : startProcess
    // Only router 0 serves the local APIs (in a namespace, loopback would not reach them).
    const apis = ns !== undefined ? { sam: 'off', socks: 'off' } : { sam: values.sam ?? '127.0.0.1:7656', socks: values.socks ?? '127.0.0.1:4447' }
    const off = { sam: fs ? '127.0.0.1:0' : 'off', socks: 'off' }
    // Router 0 first: it is everyone's seed. The others start together, each seeded with the
    // routers started before it.
    members.push(await start(base, plan[0]!.listen, 0, [], apis, ns, fs ? { seeds: [] } : 'off'))
    const fsSeeds = fs && members[0]!.fs !== 'off' ? { seeds: [members[0]!.fs] } : 'off' as const
    const seedFile = join(base, 'seeds.txt')
    await writeFile(seedFile, formatSeedFile([Buffer.from(members[0]!.info, 'base64')], ['umbra testnet: router 0']))
    const rest = await Promise.all(plan.slice(1).map(async p => await start(base, p.listen, p.index, [seedFile], off, ns, fsSeeds)))
    members.push(...rest)
    for (const m of members) console.log(`router ${m.index}  ${m.id.slice(0, 12)}  ${m.addresses.join('  ')}`)
    const convergedIn = await converge(members.map(m => async () => await m.status().then(s => s.netdb.routerInfos, () => -1)), n, timeoutS * 1000,
      { signal: stop.signal, onProgress: (sizes) => { console.log(`netDb sizes: ${sizes.join(' ')}`) } })
    console.log(`netDb converged: every router knows all ${n} RouterInfos (${((performance.now() - started) / 1000).toFixed(1)} s after start, ${(convergedIn / 1000).toFixed(1)} s after the last router came up)`)
    const statuses = await Promise.all(members.map(async m => await m.status()))
    const links = { udp: 0, tcp: 0, http: 0 }
    for (const st of statuses) { links.udp += st.links.udp; links.tcp += st.links.tcp; links.http += st.links.http }
    console.log(`links (counted at both ends): udp ${links.udp}, tcp ${links.tcp}, http ${links.http}`)
    const m0 = members[0]!
    console.log(`router 0 control API: ${m0.control}   (umbra status --api ${m0.control})`)
    console.log(`router 0 SAM bridge: ${m0.sam}   SOCKS5 proxy: ${m0.socks}   (docs/sam.md, docs/socks.md)`)
    if (fs) await waitForFs(members, Math.min(timeoutS, 120) * 1000, stop.signal)
    if (values.exit !== true && !stop.signal.aborted) {
      console.log('testnet running; press Ctrl-C to stop')
      await stopped
    }
    return 0
  } finally {
    stop.abort()
    await Promise.allSettled(members.map(async m => { await m.stop() }))
    await ns?.destroy()
    await rm(base, { recursive: true, force: true })
    console.log(`testnet stopped: ${members.length} routers, temporary data removed`)
  }
}

/** Starts router `index` as a child process. */
async function startProcess (base: string, listen: string[], index: number, seedFiles: string[], apis: { sam: string, socks: string }, ns?: Namespaces, fs: 'off' | { seeds: string[] } = 'off'): Promise<Member> {
  const p = await spawnRouter({
    index,
    dataDir: join(base, `router-${index}`),
    listen,
    network: 'testnet',
    control: ns !== undefined ? `unix:${join(base, `control-${index}.sock`)}` : '127.0.0.1:0',
    seedFiles,
    ...apis,
    fs,
    ...(ns !== undefined ? { wrap: ns.exec(index) } : {})
  })
  const m: Member = {
    index,
    id: p.id,
    addresses: p.addresses,
    control: p.control,
    sam: p.sam,
    socks: p.socks,
    fs: p.fs,
    dataDir: join(base, `router-${index}`),
    info: p.info,
    status: async () => await controlGet(p.control, '/api/status', { timeoutMs: 2000 }) as RouterStatus,
    stop: async () => { await stopRouter(p) }
  }
  return m
}

/** Starts router `index` in this process. */
async function startInProcess (base: string, listen: string[], index: number, seedFiles: string[], apis: { sam: string, socks: string }): Promise<Member> {
  const seeds = (await loadSeeds({ files: seedFiles, infos: [] })).map(s => s.bytes)
  const dataDir = join(base, `router-${index}`)
  const r = await Router.start({ dataDir, listen, network: 'testnet', seeds })
  const cfg = resolveConfig({ env: {}, flags: { sam: apis.sam, socks: apis.socks } })
  const local = await startLocalApis(routerHost(r), { dataDir, sam: cfg.sam, socks: cfg.socks, serverTunnels: [] }, silentLogger)
    .catch(async (err: unknown) => { await r.stop(); throw err })
  const m: Member = {
    index,
    id: r.idHex,
    addresses: r.addresses,
    control: '(in process: no control API)',
    ...describeApis(local),
    fs: 'off',
    dataDir,
    info: Buffer.from(r.info.raw).toString('base64'),
    status: async () => r.status(),
    stop: async () => { await local.close(); await r.stop() }
  }
  return m
}

/**
 * Waits (at most `timeoutMs`) until every fs node is online and knows another, then says how
 * to publish through router 0. A slow fs network is reported, not fatal.
 */
async function waitForFs (members: Member[], timeoutMs: number, signal: AbortSignal): Promise<void> {
  const started = performance.now()
  const want = Math.min(2, members.length - 1)
  const states = await waitForFsNodes(members.map(m => m.control), want, timeoutMs, signal)
  const ready = states.filter(st => fsNodesReady([st], want)).length
  const secs = ((performance.now() - started) / 1000).toFixed(1)
  if (ready < members.length) console.log(`fs network: only ${ready} of ${members.length} nodes ready after ${secs} s; publishing may fail until more are up`)
  else console.log(`fs network ready: ${members.length} nodes (${secs} s)`)
  const dir = members[0]!.dataDir
  console.log(`share a file:  umbra publish FILE --keyword WORD --data-dir ${dir}`)
  console.log(`find and get:  umbra search WORD --data-dir ${dir}   then   umbra get URI -o OUT --data-dir ${dir}`)
}
