/**
 * `umbra router`: runs one router until SIGINT/SIGTERM, configured from defaults, a JSON file,
 * `UMBRA_*` variables and flags (`src/router/config.ts`, `docs/config.md`).
 *
 * Stdout carries a few machine-readable lines, each `<word> <value>`, for scripts and tests:
 * `router <id>`, `listening <addr>` (one per address), `info <base64 RouterInfo>`,
 * `control <url>` (or `control off`), `tunnel <name> <b32 address>` (one per server tunnel),
 * `fs <base64 destination>` (or `fs off`), `sam <host:port> udp:<port>` (or `sam off`) and, last, `socks <host:port>` (or `socks off`).
 * Everything else goes to the log (stderr).
 *
 * Shutdown on the first signal (or, with UMBRA_LIFELINE=1, when stdin closes): the control
 * API stops, control.json is removed, then the router closes its links and listeners. A second signal, or 15 s without finishing, forces
 * the exit. Exit codes: 0 clean stop, 1 runtime failure, 2 bad config or arguments.
 */
import { startControlApi, type ControlApi } from '../api/control.ts'
import { describeApis, startLocalApis, type LocalApis } from '../api/local.ts'
import { routerHost } from '../api/host.ts'
import { loadConfig, type ConfigFlags, type ResolvedConfig } from '../router/config.ts'
import { readControlFile, removeControlFile, removeControlFileSync, writeControlFile } from '../router/control-file.ts'
import { Router, type RouterConfig } from '../router/router.ts'
import { decodeInfos, type SeedEntry } from '../router/seed-file.ts'
import { loadSeeds } from '../router/seeds.ts'
import { controlGet } from '../api/control-client.ts'
import { ConfigError } from '../util/errors.ts'
import { toHex } from '../util/bytes.ts'
import { createLogger } from '../util/log-writer.ts'
import type { Logger } from '../util/log.ts'
import { failure, parse } from './args.ts'
import { runExportInfo } from './router-export.ts'
import { startFsNode } from './fs-node.ts'
import type { FsNode } from '../apps/fs/node.ts'
import type { ChatNode } from '../apps/chat/node.ts'
import { startChatNode } from './chat-node.ts'

const HELP = `Usage: umbra router [options]
       umbra router export-info [options]     (see \`umbra router export-info --help\`)

Runs one router until Ctrl-C or SIGTERM. On stdout it prints its ID, bound addresses, signed
RouterInfo (base64; give it to another router's --peer or put it in a seed file) and control
API URL; logs go to stderr. Settings come from (lowest to highest precedence) built-in
defaults, a JSON config file, UMBRA_* environment variables and these flags; every setting is
described in docs/config.md.

Options:
  --config FILE          JSON config file (default: <data dir>/umbra.json if present)
  --data-dir DIR         keys and state (default: $XDG_DATA_HOME/umbra or ~/.local/share/umbra)
                         [UMBRA_DATA_DIR]
  --listen ADDR          address to listen on; repeatable (default: udp, tcp and http on
                         127.0.0.1, free ports), e.g. udp://127.0.0.1:7001
                         tcp://127.0.0.1:7002  http://127.0.0.1:7003/umbra  [UMBRA_LISTEN, comma-separated]
  --network NAME         network name; routers of different networks never link (default: umbra)
                         [UMBRA_NETWORK]
  --control ADDR|off     control API address: HOST:PORT on loopback (port 0 picks a free
                         port) or unix:/path (default: 127.0.0.1:7657) [UMBRA_CONTROL]
  --log-level LEVEL      debug, info, warn or error (default: info) [UMBRA_LOG_LEVEL]
  --log-format FORMAT    text or json (default: text) [UMBRA_LOG_FORMAT]
  --bandwidth-in KBPS    inbound limit in KB/s, 0 = unlimited (default: 0) [UMBRA_BANDWIDTH_IN]
  --bandwidth-out KBPS   outbound limit in KB/s, 0 = unlimited (default: 0) [UMBRA_BANDWIDTH_OUT]
  --max-transit N        tunnels carried for other routers at most; 0 relays nothing
                         (default: 5000) [UMBRA_MAX_TRANSIT]
  --transit-peer-kbps KBPS
                         transit traffic one peer may make us relay, KB/s, 0 = no cap
                         (default: 0)
  --seed-file FILE       seed file of RouterInfos to bootstrap from; repeatable [UMBRA_SEED_FILE]
  --peer INFO            a peer's RouterInfo (base64) to link to now; repeatable
  --sam ADDR|off         SAM v3 bridge, HOST:PORT on loopback; datagrams on UDP PORT-1
                         (default: 127.0.0.1:7656) [UMBRA_SAM]
  --socks ADDR|off       SOCKS5 proxy to .b32.umbra/.b32.i2p names, HOST:PORT on loopback
                         (default: 127.0.0.1:4447) [UMBRA_SOCKS]
  --server-tunnel NAME=HOST:PORT
                         publish the local TCP service HOST:PORT under the persistent
                         destination NAME (keys in <data dir>/destinations/NAME.key);
                         repeatable; see docs/server-tunnels.md
  --fs on|off            run a file-sharing node (a client of this router's SAM bridge;
                         keys and blocks in <data dir>/fs) (default: on) [UMBRA_FS]
  --fs-quota MB          disk quota for stored blocks (default: 1024) [UMBRA_FS_QUOTA_MB]
  --fs-seed DEST         an fs node's base64 destination to bootstrap from; repeatable
                         (write --fs-seed=DEST when DEST starts with '-')
                         [UMBRA_FS_SEEDS, comma-separated]
  --cover off|low|high   cover traffic preset (see docs/cover.md): low sends link chaff,
                         20 cells/s per link when idle (at most 20 KiB/s per link), and a
                         loop every 5 s per destination; high shapes every link to 400
                         cells/s, real or chaff (400 KiB/s per link all the time, and
                         real traffic capped at that), and a loop every second
                         (default: off) [UMBRA_COVER]
  --cover-link-rate N    link chaff cells per second per link, 0-10000 [UMBRA_COVER_LINK_RATE]
  --cover-loop-ms N      mean ms between cover loops through each destination's own
                         tunnels, 0 (none) or 100-3600000 [UMBRA_COVER_LOOP_MS]
  --cover-send-rate N    Poisson sending: each destination sends N messages/s, real
                         or dummy, and at most N real ones (0 = off, the default)
                         [UMBRA_COVER_SEND_RATE]
  --chat on|off          run the chat node (a client of this router's SAM bridge; idle
                         until \`umbra chat init NICK\`; state in <data dir>/chat)
                         (default: on) [UMBRA_CHAT]
  -h, --help             show this text

Exit status: 0 after a clean stop, 1 on a runtime failure, 2 on bad options or config.
`

/** The options `umbra router` takes (its --help above). */
export const ROUTER_OPTIONS = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  listen: { type: 'string', multiple: true },
  network: { type: 'string' },
  control: { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  'bandwidth-in': { type: 'string' },
  'bandwidth-out': { type: 'string' },
  'max-transit': { type: 'string' },
  'transit-peer-kbps': { type: 'string' },
  'seed-file': { type: 'string', multiple: true },
  peer: { type: 'string', multiple: true },
  sam: { type: 'string' },
  socks: { type: 'string' },
  'server-tunnel': { type: 'string', multiple: true },
  fs: { type: 'string' },
  'fs-quota': { type: 'string' },
  'fs-seed': { type: 'string', multiple: true },
  chat: { type: 'string' },
  cover: { type: 'string' },
  'cover-link-rate': { type: 'string' },
  'cover-loop-ms': { type: 'string' },
  'cover-send-rate': { type: 'string' },
  help: { type: 'boolean', short: 'h' }
} as const

/** How long a shutdown may take before the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 15_000

/**
 * The RouterConfig from the resolved config. The seeds (parsed, unverified RouterInfos from
 * `--seed-file`, `UMBRA_SEED_FILE` and the config's `seeds`) go to the netDb bootstrap; the
 * router verifies each before use.
 */
function routerConfigFrom (cfg: ResolvedConfig, seeds: readonly SeedEntry[]): RouterConfig {
  return {
    dataDir: cfg.dataDir,
    listen: cfg.listen,
    network: cfg.network,
    seeds: seeds.map(s => s.bytes),
    tunnels: { maxTransit: cfg.transit.maxTunnels },
    cover: { linkRate: cfg.cover.linkRate, strict: cfg.cover.strict, loopIntervalMs: cfg.cover.loopIntervalMs, destinationRate: cfg.cover.destinationRate },
    accounting: {
      upBytesPerSec: cfg.bandwidth.outKBps * 1000,
      downBytesPerSec: cfg.bandwidth.inKBps * 1000,
      perPeerBytesPerSec: cfg.transit.perPeerKBps * 1000
    }
  }
}

/** The `umbra router` command. Returns the exit code. */
export async function runRouter (argv: string[]): Promise<number> {
  if (argv[0] === 'export-info') return await runExportInfo(argv.slice(1))
  let cfg: ResolvedConfig
  let seeds: SeedEntry[]
  let peers: Uint8Array[]
  try {
    const { values, positionals } = parse(argv, ROUTER_OPTIONS)
    if (values.help === true) { process.stdout.write(HELP); return 0 }
    if (positionals.length > 0) throw new ConfigError(`unexpected argument '${positionals[0]}' (see umbra router --help)`)
    const { peer, help: _help, ...flags } = values
    cfg = await loadConfig(flags satisfies ConfigFlags, process.env)
    seeds = await loadSeeds(cfg.seeds)
    peers = decodeInfos(peer ?? [], i => `--peer #${i + 1}`).map(e => e.bytes)
  } catch (err) {
    return failure('router', err)
  }
  const log = createLogger(cfg.log)
  try {
    await refuseIfRunning(cfg.dataDir)
  } catch (err) {
    return failure('router', err)
  }

  let router: Router
  try {
    router = await Router.start(routerConfigFrom(cfg, seeds), { log })
  } catch (err) {
    log.error('router failed to start', { error: errText(err) })
    return failure('router', err)
  }
  watchLinks(router, log)

  let api: ControlApi | undefined
  let fsNode: FsNode | undefined
  let chatNode: ChatNode | undefined
  try {
    if (cfg.control !== null) {
      api = await startControlApi({
        ...('path' in cfg.control ? { path: cfg.control.path } : { host: cfg.control.host, port: cfg.control.port }),
        status: () => router.status(),
        info: () => router.info.raw,
        log: log.child({ component: 'control' }),
        extra: {
          config: () => ({ ...cfg, sam: cfg.sam === null ? null : { ...cfg.sam, users: undefined }, socks: cfg.socks === null ? null : { ...cfg.socks, users: undefined }, seeds: { files: cfg.seeds.files, infos: cfg.seeds.infos.length } }),
          fs: () => fsNode?.status() ?? { enabled: false },
          chat: () => chatNode?.status() ?? { enabled: false }
        }
      })
      await writeControlFile(cfg.dataDir, { url: api.url, pid: process.pid })
    }
  } catch (err) {
    log.error('control API failed to start', { error: errText(err) })
    await api?.close()
    await router.stop()
    return failure('router', err)
  }

  let apis: LocalApis
  try {
    apis = await startLocalApis(routerHost(router), { dataDir: cfg.dataDir, sam: cfg.sam, socks: cfg.socks, serverTunnels: cfg.serverTunnels }, log)
  } catch (err) {
    log.error('local API failed to start', { error: errText(err) })
    await api?.close()
    await removeControlFile(cfg.dataDir)
    await router.stop()
    return failure('router', err)
  }

  try {
    fsNode = await startFsNode(cfg, apis, log)
    // Chat is optional: a router whose chat node cannot start (e.g. a data directory path too long
    // for a Unix socket) runs without it and says why.
    chatNode = await startChatNode(cfg, apis, log).catch((err: unknown) => {
      log.error('chat node not started', { error: errText(err) })
      return undefined
    })
  } catch (err) {
    log.error('app node failed to start', { error: errText(err) })
    await fsNode?.close().catch(() => {})
    await apis.close()
    await api?.close()
    await removeControlFile(cfg.dataDir)
    await router.stop()
    return failure('router', err)
  }

  console.log(`router     ${router.idHex}`)
  for (const a of router.addresses) console.log(`listening  ${a}`)
  console.log(`info       ${Buffer.from(router.info.raw).toString('base64')}`)
  console.log(`control    ${api?.url ?? 'off'}`)
  for (const t of apis.tunnels) console.log(`tunnel     ${t.name} ${t.address}`)
  const where = describeApis(apis)
  console.log(`fs         ${fsNode?.destination ?? 'off'}`)
  console.log(`sam        ${where.sam}`)
  console.log(`socks      ${where.socks}`)
  log.info('router started', {
    id: router.idHex,
    network: cfg.network,
    dataDir: cfg.dataDir,
    config: cfg.configFile ?? undefined,
    addresses: router.addresses.join(' '),
    control: api?.url ?? 'off',
    bandwidthInKBps: cfg.bandwidth.inKBps,
    bandwidthOutKBps: cfg.bandwidth.outKBps,
    seeds: seeds.length
  })

  for (const p of peers) {
    router.connectInfo(p, AbortSignal.timeout(30_000))
      .catch((err: unknown) => { log.warn('link failed', { error: errText(err) }) })
  }

  const signal = await firstSignal(cfg.dataDir, log)
  log.info('stopping', { signal })
  const deadline = setTimeout(() => {
    log.error('shutdown took too long; exiting now', { ms: SHUTDOWN_DEADLINE_MS })
    removeControlFileSync(cfg.dataDir)
    process.exit(1)
  }, SHUTDOWN_DEADLINE_MS)
  deadline.unref()
  try {
    await api?.close()
    await fsNode?.close().catch((err: unknown) => { log.warn('fs node did not close cleanly', { error: errText(err) }) })
    await chatNode?.close().catch((err: unknown) => { log.warn('chat node did not close cleanly', { error: errText(err) }) })
    await apis.close()
    await removeControlFile(cfg.dataDir)
    await router.stop()
  } finally {
    clearTimeout(deadline)
    // A lifeline still open would keep the process alive.
    if (process.env.UMBRA_LIFELINE === '1') process.stdin.destroy()
  }
  log.info('stopped')
  return 0
}

/** Logs link events (keeping any handler the router installed itself). */
function watchLinks (router: Router, log: Logger): void {
  const short = (id: Uint8Array | undefined): string => id === undefined ? '?' : toHex(id).slice(0, 12)
  const prevOpen = router.links.onLinkOpen
  const prevClosed = router.links.onLinkClosed
  router.links.onLinkOpen = (l) => {
    prevOpen(l)
    log.info('link up', { peer: short(l.peer?.id), transport: l.transport, direction: l.initiator ? 'outbound' : 'inbound' })
  }
  router.links.onLinkClosed = (l, err) => {
    prevClosed(l, err)
    log.info('link down', { peer: short(l.peer?.id), transport: l.transport, error: err?.message })
  }
}

/** Refuses to start a second router on a data directory whose router answers. */
async function refuseIfRunning (dataDir: string): Promise<void> {
  const c = await readControlFile(dataDir).catch(() => undefined)
  if (c === undefined || c.pid === process.pid) return
  const alive = await controlGet(c.url, '/api/health', { timeoutMs: 1000 }).then(() => true, () => false)
  if (alive) throw new Error(`a router is already running with data directory ${dataDir} (pid ${c.pid}, control API ${c.url})`)
}

/**
 * Resolves with the first SIGINT/SIGTERM, or when stdin closes if UMBRA_LIFELINE=1 (a parent
 * such as `umbra testnet` holds the other end: if it dies, its routers stop too). Signal
 * handlers stay installed: a second signal removes control.json and exits at once
 * (128 + signal number).
 */
async function firstSignal (dataDir: string, log: Logger): Promise<string> {
  return await new Promise((resolve) => {
    let seen = false
    const first = (why: string): boolean => {
      if (seen) return false
      seen = true
      resolve(why)
      return true
    }
    const on = (sig: NodeJS.Signals, code: number) => (): void => {
      if (first(sig)) return
      log.warn('second signal: exiting without a clean shutdown', { signal: sig })
      removeControlFileSync(dataDir)
      process.exit(code)
    }
    process.on('SIGINT', on('SIGINT', 130))
    process.on('SIGTERM', on('SIGTERM', 143))
    if (process.env.UMBRA_LIFELINE === '1') {
      const gone = (): void => { first('lifeline closed') }
      process.stdin.on('data', () => {})
      process.stdin.once('end', gone)
      process.stdin.once('close', gone)
      process.stdin.once('error', gone)
      process.stdin.resume()
    }
  })
}

function errText (err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}
