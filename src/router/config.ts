/**
 * The router's configuration: one set of documented fields (`docs/config.md`) with defaults,
 * resolved from four sources, lowest precedence first:
 *
 *   built-in defaults < JSON config file < environment (`UMBRA_*`) < command-line flags
 *
 * A higher source replaces a field (a list as a whole, never merged item by item). Validation is
 * strict: an unknown key in the file, a wrong type or a value out of range is a ConfigError
 * naming the field and where it came from (the file's path, the variable, the flag).
 *
 * {@link resolveConfig} is pure (no file system, no process state); {@link loadConfig} finds and
 * reads the file, then calls it. Relative paths in the file are relative to the file's folder;
 * relative paths in the environment and flags are relative to the working directory.
 */
import { homedir } from 'node:os'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { isIP } from 'node:net'
import { COVER_PRESETS, coverSettings, type CoverSettings } from '../cover/presets.ts'
import { ConfigError } from '../util/errors.ts'
import { isLoopbackHost } from '../util/net.ts'
import type { LogLevel } from '../util/log.ts'
import { parseLogFormat, parseLogLevel, type LogFormat } from '../util/log-writer.ts'
import { parseTransportUrl } from '../../transports/url.ts'
import { ROUTER_INFO_LIMITS } from '../identity/index.ts'
import { decodeInfos, SEED_FILE_LIMITS } from './seed-file.ts'
import { readBounded } from '../util/files.ts'

/** Name of the config file looked up in the data directory. */
const CONFIG_FILE_NAME = 'umbra.json'
/** Largest config file read. */
const MAX_CONFIG_FILE_BYTES = 1024 * 1024
/** Default listen addresses: every transport on loopback, free ports. */
const DEFAULT_LISTEN: readonly string[] = ['udp://127.0.0.1:0', 'tcp://127.0.0.1:0', 'http://127.0.0.1:0/umbra']
/** Default control API address. */
const DEFAULT_CONTROL = '127.0.0.1:7657'
/** Default SAM bridge and SOCKS proxy addresses (the SAM datagram port is the SAM port - 1). */
const DEFAULT_SAM = '127.0.0.1:7656'
const DEFAULT_SOCKS = '127.0.0.1:4447'
/** Most server tunnels in one config. */
const MAX_SERVER_TUNNELS = 64
/** Largest bandwidth limit accepted (KB/s): 10 GB/s. */
const MAX_BANDWIDTH_KBPS = 10_000_000
/** Tunnels carried for others by default, and the most one may configure. */
const DEFAULT_MAX_TRANSIT = 5000
/** Default disk quota of the fs node, MB. */
const DEFAULT_FS_QUOTA_MB = 1024
const MAX_FS_SEEDS = 64
const MAX_TRANSIT_LIMIT = 100_000
/** Most seed files named in one config. */
const MAX_SEED_FILES = 64

/** Where the control API listens: a loopback TCP address, or a Unix socket. */
export type ControlAddress = {
  /** A loopback address (`127.0.0.1`, `::1`, `localhost`, …). */
  readonly host: string
  /** 0 = a free port, chosen at start. */
  readonly port: number
} | {
  /** Absolute path of a Unix socket (`unix:/path`). */
  readonly path: string
}

/** Longest Unix socket path (sun_path is 108 bytes on Linux, NUL included). */
const MAX_UNIX_SOCKET_PATH = 107

/** The router's configuration, every field set (see `docs/config.md`). */
export interface ResolvedConfig {
  /** Absolute path of the data directory (keys, state, `control.json`). */
  dataDir: string
  /** Transport addresses to listen on (`udp://`, `tcp://`, `http://`). */
  listen: string[]
  /** Network name; routers of different networks never link. */
  network: string
  /** Control API address, or null when disabled (`off`). */
  control: ControlAddress | null
  log: { level: LogLevel, format: LogFormat }
  /** KB/s (1000 bytes per second); 0 = unlimited. Enforced by the accountant (`docs/accounting.md`). */
  bandwidth: { inKBps: number, outKBps: number }
  /** Tunnels carried for others at most (0 = none), and the transit KB/s one peer may use (0 = no cap). */
  transit: { maxTunnels: number, perPeerKBps: number }
  /** Bootstrap peers: seed files (absolute paths) and inline base64 RouterInfos. */
  seeds: { files: string[], infos: string[] }
  /** The SAM v3 bridge (TCP; datagrams on UDP `udpPort`), or null when off. */
  sam: LocalService & { udpPort: number } | null
  /** The SOCKS5 proxy, or null when off. */
  socks: LocalService | null
  /** Local TCP services published under persistent destinations (`docs/server-tunnels.md`). */
  serverTunnels: ServerTunnelConfig[]
  /** The file-sharing node (`docs/fs.md`): on unless disabled; needs the SAM bridge. */
  fs: FsConfig
  /** The chat node (`docs/chat.md`): on unless disabled; needs the SAM bridge. Idle until `umbra chat init`. */
  chat: { enabled: boolean }
  /** Cover traffic (`docs/cover.md`): a preset and its settings after overrides (default off). */
  cover: { preset: string } & CoverSettings
  /** The config file that was read (absolute), or null. */
  configFile: string | null
}

/** The file-sharing node's settings. */
export interface FsConfig {
  /** Run a node (default true). */
  enabled: boolean
  /** Disk quota for stored blocks, MB (default 1024). */
  quotaMB: number
  /** Base64 destinations of fs nodes to bootstrap from. */
  seeds: string[]
}

/** A local API listener: loopback address, port (0 = free) and optional users (auth on when set). */
export interface LocalService {
  readonly host: string
  readonly port: number
  readonly users?: Readonly<Record<string, string>>
}

/** One server tunnel: incoming streams to destination `name` are relayed to host:port. */
export interface ServerTunnelConfig {
  /** Names the tunnel and its key file (`<dataDir>/tunnels/<name>.key`). */
  readonly name: string
  readonly host: string
  readonly port: number
  /** Tunnel length (hops) of its pool; default: the router's. */
  readonly hops?: number
}

/** Command-line flags that feed the config (the names `umbra router` takes, as `parseArgs` returns them). */
export interface ConfigFlags {
  config?: string
  'data-dir'?: string
  listen?: string[]
  network?: string
  control?: string
  'log-level'?: string
  'log-format'?: string
  'bandwidth-in'?: string
  'bandwidth-out'?: string
  'max-transit'?: string
  'transit-peer-kbps'?: string
  'seed-file'?: string[]
  sam?: string
  socks?: string
  'server-tunnel'?: string[]
  fs?: string
  'fs-quota'?: string
  'fs-seed'?: string[]
  chat?: string
  cover?: string
  'cover-link-rate'?: string
  'cover-loop-ms'?: string
  'cover-send-rate'?: string
}

/** Environment variables (a `process.env`). */
export type Env = Readonly<Record<string, string | undefined>>

/** Input of {@link resolveConfig}. */
export interface ConfigSources {
  /** The parsed JSON of the config file, if one was read. */
  file?: unknown
  /** Its path (labels errors; relative paths in the file resolve against its folder). */
  fileName?: string
  env: Env
  flags: ConfigFlags
  /** Working directory for relative paths from env and flags. Default `process.cwd()`. */
  cwd?: string
}

/** Default data directory: `$XDG_DATA_HOME/umbra`, else `~/.local/share/umbra`. */
export function defaultDataDir (env: Env = process.env): string {
  const xdg = env.XDG_DATA_HOME
  const home = env.HOME !== undefined && env.HOME !== '' ? env.HOME : homedir()
  return join(xdg !== undefined && xdg !== '' && isAbsolute(xdg) ? xdg : join(home, '.local', 'share'), 'umbra')
}

/** Every setting with its built-in default (dataDir from `env`). */
function defaultConfig (env: Env = process.env): ResolvedConfig {
  return {
    dataDir: defaultDataDir(env),
    listen: [...DEFAULT_LISTEN],
    network: 'umbra',
    control: parseControlAddress(DEFAULT_CONTROL, 'default'),
    log: { level: 'info', format: 'text' },
    bandwidth: { inKBps: 0, outKBps: 0 },
    transit: { maxTunnels: DEFAULT_MAX_TRANSIT, perPeerKBps: 0 },
    seeds: { files: [], infos: [] },
    sam: samService(DEFAULT_SAM, 'default', undefined),
    socks: localService(DEFAULT_SOCKS, 'default', undefined),
    serverTunnels: [],
    fs: { enabled: true, quotaMB: DEFAULT_FS_QUOTA_MB, seeds: [] },
    chat: { enabled: true },
    cover: { preset: 'off', ...COVER_PRESETS.off },
    configFile: null
  }
}

/** One source's settings, each already validated. */
interface Layer {
  dataDir?: string
  listen?: string[]
  network?: string
  control?: ControlAddress | null
  logLevel?: LogLevel
  logFormat?: LogFormat
  inKBps?: number
  outKBps?: number
  maxTransit?: number
  perPeerKBps?: number
  seedFiles?: string[]
  seedInfos?: string[]
  sam?: ResolvedConfig['sam']
  socks?: ResolvedConfig['socks']
  serverTunnels?: ServerTunnelConfig[]
  fsEnabled?: boolean
  fsQuotaMB?: number
  fsSeeds?: string[]
  chatEnabled?: boolean
  coverPreset?: string
  coverOverrides?: Partial<CoverSettings>
}

/**
 * Resolves the config from its sources (pure). Throws ConfigError naming the field and the
 * source of the first bad value.
 */
export function resolveConfig (src: ConfigSources): ResolvedConfig {
  const cwd = src.cwd ?? process.cwd()
  const layers: Layer[] = []
  if (src.file !== undefined) {
    const label = src.fileName ?? 'config file'
    const base = src.fileName !== undefined ? dirname(resolve(cwd, src.fileName)) : cwd
    layers.push(fileLayer(src.file, label, base))
  }
  layers.push(envLayer(src.env, cwd), flagLayer(src.flags, cwd))
  const cfg = defaultConfig(src.env)
  const cover: { preset: string, overrides: Partial<CoverSettings> } = { preset: 'off', overrides: {} }
  for (const l of layers) {
    if (l.dataDir !== undefined) cfg.dataDir = l.dataDir
    if (l.listen !== undefined) cfg.listen = l.listen
    if (l.network !== undefined) cfg.network = l.network
    if (l.control !== undefined) cfg.control = l.control
    if (l.logLevel !== undefined) cfg.log.level = l.logLevel
    if (l.logFormat !== undefined) cfg.log.format = l.logFormat
    if (l.inKBps !== undefined) cfg.bandwidth.inKBps = l.inKBps
    if (l.outKBps !== undefined) cfg.bandwidth.outKBps = l.outKBps
    if (l.maxTransit !== undefined) cfg.transit.maxTunnels = l.maxTransit
    if (l.perPeerKBps !== undefined) cfg.transit.perPeerKBps = l.perPeerKBps
    if (l.seedFiles !== undefined) cfg.seeds.files = l.seedFiles
    if (l.seedInfos !== undefined) cfg.seeds.infos = l.seedInfos
    if (l.sam !== undefined) cfg.sam = l.sam
    if (l.socks !== undefined) cfg.socks = l.socks
    if (l.serverTunnels !== undefined) cfg.serverTunnels = l.serverTunnels
    if (l.fsEnabled !== undefined) cfg.fs.enabled = l.fsEnabled
    if (l.fsQuotaMB !== undefined) cfg.fs.quotaMB = l.fsQuotaMB
    if (l.fsSeeds !== undefined) cfg.fs.seeds = l.fsSeeds
    if (l.chatEnabled !== undefined) cfg.chat.enabled = l.chatEnabled
    if (l.coverPreset !== undefined) { cover.preset = l.coverPreset; cover.overrides = {} }
    if (l.coverOverrides !== undefined) cover.overrides = { ...cover.overrides, ...l.coverOverrides }
  }
  cfg.cover = { preset: cover.preset, ...coverSettings(cover.preset, cover.overrides) }
  if (src.file !== undefined && src.fileName !== undefined) cfg.configFile = resolve(cwd, src.fileName)
  return cfg
}

/**
 * Finds and reads the config file, then resolves: `--config FILE` if given (it must exist),
 * else `<dataDir>/umbra.json` if present, where dataDir comes from `--data-dir`,
 * `UMBRA_DATA_DIR` or the default. A `dataDir` inside `<dataDir>/umbra.json` that points
 * elsewhere is refused (a data directory's file cannot move it).
 */
export async function loadConfig (flags: ConfigFlags, env: Env = process.env, cwd: string = process.cwd()): Promise<ResolvedConfig> {
  if (flags.config !== undefined) {
    if (flags.config === '') throw new ConfigError('--config: needs a file name')
    const fileName = resolve(cwd, flags.config)
    return resolveConfig({ file: await readConfigFile(fileName), fileName, env, flags, cwd })
  }
  const early = resolveConfig({ env, flags, cwd })
  const fileName = join(early.dataDir, CONFIG_FILE_NAME)
  let file: unknown
  try {
    file = await readConfigFile(fileName)
  } catch (err) {
    if ((err as { cause?: NodeJS.ErrnoException }).cause?.code === 'ENOENT') return early
    throw err
  }
  const cfg = resolveConfig({ file, fileName, env, flags, cwd })
  const own = (file as { dataDir?: unknown }).dataDir
  if (typeof own === 'string' && resolve(dirname(fileName), own) !== early.dataDir) {
    throw new ConfigError(`${fileName}: dataDir names another directory (${resolve(dirname(fileName), own)}); set it with --data-dir, UMBRA_DATA_DIR or a file given with --config`)
  }
  return cfg
}

/** Reads and parses a JSON config file; ConfigError naming the file on any problem. */
async function readConfigFile (fileName: string): Promise<unknown> {
  const text = await readBounded(fileName, MAX_CONFIG_FILE_BYTES)
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new ConfigError(`${fileName}: not valid JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

/**
 * Parses a control API address: `off` (disabled, returns null), `HOST:PORT` with a loopback
 * host (`127.0.0.1`, `[::1]`, `localhost`) and a port 0..65535 (0 = free port), or
 * `unix:/absolute/path` (a Unix socket, e.g. to reach a router in another network namespace).
 * `where` labels the error (a flag, a variable, a file field).
 */
export function parseControlAddress (s: string, where: string): ControlAddress | null {
  const v = s.trim()
  if (v.toLowerCase() === 'off') return null
  if (v.startsWith('unix:')) {
    const path = v.slice(5)
    if (!isAbsolute(path) || path.includes('\0')) throw new ConfigError(`${where}: a Unix socket needs an absolute path, unix:/path, got '${s}'`)
    if (Buffer.byteLength(path) > MAX_UNIX_SOCKET_PATH) throw new ConfigError(`${where}: Unix socket path longer than ${MAX_UNIX_SOCKET_PATH} bytes`)
    return { path }
  }
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(v)
  if (m === null) throw new ConfigError(`${where}: control address must be HOST:PORT, unix:/path or 'off', got '${s}'`)
  const host = (m[1] ?? m[2])!
  const port = Number(m[3])
  if (port > 65535) throw new ConfigError(`${where}: control port must be 0..65535, got ${port}`)
  if (m[1] !== undefined && isIP(host) !== 6) throw new ConfigError(`${where}: '[${host}]' is not an IPv6 address`)
  if (!isLoopbackHost(host)) {
    throw new ConfigError(`${where}: the control API has no authentication and binds only to loopback (127.0.0.1, ::1, localhost), got '${host}'`)
  }
  return { host, port }
}

export { isLoopbackHost }

/** `host:port` (IPv6 in brackets) or `unix:/path`. */
export function formatControlAddress (a: ControlAddress): string {
  if ('path' in a) return `unix:${a.path}`
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`
}

// ---- the three sources -------------------------------------------------------------------

const FILE_KEYS = ['dataDir', 'listen', 'network', 'control', 'log', 'bandwidth', 'transit', 'seeds', 'sam', 'socks', 'serverTunnels', 'fs', 'chat', 'cover'] as const
const FS_KEYS = ['enabled', 'quotaMB', 'seeds'] as const
const CHAT_KEYS = ['enabled'] as const
const COVER_KEYS = ['preset', 'linkRate', 'strict', 'loopIntervalMs', 'destinationRate'] as const
const TRANSIT_KEYS = ['maxTunnels', 'perPeerKBps'] as const
const SERVICE_KEYS = ['address', 'udpPort', 'users'] as const
const TUNNEL_KEYS = ['name', 'target', 'hops'] as const
const LOG_KEYS = ['level', 'format'] as const
const BANDWIDTH_KEYS = ['inKBps', 'outKBps'] as const
const SEEDS_KEYS = ['files', 'infos'] as const

function fileLayer (json: unknown, file: string, base: string): Layer {
  const top = object(json, file, null)
  onlyKeys(top, FILE_KEYS, file, '')
  const l: Layer = {}
  const at = (field: string): string => `${file}: ${field}`
  if (top.dataDir !== undefined) l.dataDir = path(str(top.dataDir, at('dataDir')), base, at('dataDir'))
  if (top.listen !== undefined) l.listen = listen(strList(top.listen, at('listen'), ROUTER_INFO_LIMITS.addresses), at('listen'))
  if (top.network !== undefined) l.network = network(str(top.network, at('network')), at('network'))
  if (top.control !== undefined) l.control = parseControlAddress(str(top.control, at('control')), at('control'))
  if (top.log !== undefined) {
    const log = object(top.log, file, 'log')
    onlyKeys(log, LOG_KEYS, file, 'log.')
    if (log.level !== undefined) l.logLevel = wrap(at('log.level'), () => parseLogLevel(str(log.level, at('log.level'))))
    if (log.format !== undefined) l.logFormat = wrap(at('log.format'), () => parseLogFormat(str(log.format, at('log.format'))))
  }
  if (top.bandwidth !== undefined) {
    const bw = object(top.bandwidth, file, 'bandwidth')
    onlyKeys(bw, BANDWIDTH_KEYS, file, 'bandwidth.')
    if (bw.inKBps !== undefined) l.inKBps = kbps(bw.inKBps, at('bandwidth.inKBps'))
    if (bw.outKBps !== undefined) l.outKBps = kbps(bw.outKBps, at('bandwidth.outKBps'))
  }
  if (top.transit !== undefined) {
    const tr = object(top.transit, file, 'transit')
    onlyKeys(tr, TRANSIT_KEYS, file, 'transit.')
    if (tr.maxTunnels !== undefined) l.maxTransit = tunnelCount(tr.maxTunnels, at('transit.maxTunnels'))
    if (tr.perPeerKBps !== undefined) l.perPeerKBps = kbps(tr.perPeerKBps, at('transit.perPeerKBps'))
  }
  if (top.seeds !== undefined) {
    const seeds = object(top.seeds, file, 'seeds')
    onlyKeys(seeds, SEEDS_KEYS, file, 'seeds.')
    if (seeds.files !== undefined) l.seedFiles = strList(seeds.files, at('seeds.files'), MAX_SEED_FILES, true).map((f, i) => path(f, base, at(`seeds.files[${i}]`)))
    if (seeds.infos !== undefined) l.seedInfos = seedInfos(strList(seeds.infos, at('seeds.infos'), SEED_FILE_LIMITS.lines, true), at('seeds.infos'))
  }
  for (const which of ['sam', 'socks'] as const) {
    const v = top[which]
    if (v === undefined) continue
    if (v === 'off' || v === null) { l[which] = null; continue }
    const o = object(v, file, which)
    onlyKeys(o, which === 'sam' ? SERVICE_KEYS : SERVICE_KEYS.filter(k => k !== 'udpPort'), file, `${which}.`)
    const users = o.users === undefined ? undefined : userMap(o.users, at(`${which}.users`))
    const address = o.address === undefined ? (which === 'sam' ? DEFAULT_SAM : DEFAULT_SOCKS) : str(o.address, at(`${which}.address`))
    if (which === 'sam') {
      const sam = samService(address, at('sam.address'), users)
      l.sam = o.udpPort === undefined || sam === null ? sam : { ...sam, udpPort: portNumber(o.udpPort, at('sam.udpPort')) }
    } else {
      l.socks = localService(address, at('socks.address'), users)
    }
  }
  if (top.serverTunnels !== undefined) {
    if (!Array.isArray(top.serverTunnels)) throw new ConfigError(`${at('serverTunnels')} must be an array, got ${typeName(top.serverTunnels)}`)
    if (top.serverTunnels.length > MAX_SERVER_TUNNELS) throw new ConfigError(`${at('serverTunnels')}: at most ${MAX_SERVER_TUNNELS}`)
    l.serverTunnels = uniqueTunnels(top.serverTunnels.map((x, i) => {
      const where = at(`serverTunnels[${i}]`)
      const o = object(x, file, `serverTunnels[${i}]`)
      onlyKeys(o, TUNNEL_KEYS, file, `serverTunnels[${i}].`)
      const t = serverTunnel(`${str(o.name, `${where}.name`)}=${str(o.target, `${where}.target`)}`, where)
      if (o.hops === undefined) return t
      if (typeof o.hops !== 'number' || !Number.isInteger(o.hops) || o.hops < 0 || o.hops > 7) throw new ConfigError(`${where}.hops must be an integer 0..7`)
      return { ...t, hops: o.hops }
    }), at('serverTunnels'))
  }
  if (top.fs !== undefined) {
    const o = object(top.fs, file, 'fs')
    onlyKeys(o, FS_KEYS, file, 'fs.')
    if (o.enabled !== undefined) {
      if (typeof o.enabled !== 'boolean') throw new ConfigError(`${at('fs.enabled')} must be true or false`)
      l.fsEnabled = o.enabled
    }
    if (o.quotaMB !== undefined) l.fsQuotaMB = fsQuota(o.quotaMB, at('fs.quotaMB'))
    if (o.seeds !== undefined) l.fsSeeds = fsSeeds(strList(o.seeds, at('fs.seeds'), MAX_FS_SEEDS, true), at('fs.seeds'))
  }
  if (top.cover !== undefined) {
    const o = object(top.cover, file, 'cover')
    onlyKeys(o, COVER_KEYS, file, 'cover.')
    if (o.preset !== undefined) l.coverPreset = coverPreset(o.preset, at('cover.preset'))
    if (o.linkRate !== undefined) l.coverOverrides = { ...l.coverOverrides, linkRate: coverRate(o.linkRate, at('cover.linkRate')) }
    if (o.strict !== undefined) {
      if (typeof o.strict !== 'boolean') throw new ConfigError(`${at('cover.strict')} must be true or false`)
      l.coverOverrides = { ...l.coverOverrides, strict: o.strict }
    }
    if (o.loopIntervalMs !== undefined) l.coverOverrides = { ...l.coverOverrides, loopIntervalMs: loopMs(o.loopIntervalMs, at('cover.loopIntervalMs')) }
    if (o.destinationRate !== undefined) l.coverOverrides = { ...l.coverOverrides, destinationRate: sendRate(o.destinationRate, at('cover.destinationRate')) }
  }
  if (top.chat !== undefined) {
    const o = object(top.chat, file, 'chat')
    onlyKeys(o, CHAT_KEYS, file, 'chat.')
    if (o.enabled !== undefined) {
      if (typeof o.enabled !== 'boolean') throw new ConfigError(`${at('chat.enabled')} must be true or false`)
      l.chatEnabled = o.enabled
    }
  }
  return l
}

/** A disk quota in MB: an integer 1..10^7. */
function fsQuota (v: unknown, where: string, fromText = false): number {
  return wholeNumber(v, where, 1, 10_000_000, 'MB from 1 to 10000000', fromText)
}

/** fs seeds: base64 destinations (I2P alphabet, at least 516 characters). */
function fsSeeds (list: string[], where: string): string[] {
  return list.map((s, i) => {
    const t = s.trim()
    if (!/^[A-Za-z0-9~-]{516,1400}={0,2}$/.test(t)) throw new ConfigError(`${where}[${i}]: an fs seed is a node's base64 destination (see <data dir>/fs/node.json), got '${t.slice(0, 24)}...'`)
    return t
  })
}

/** 'on' or 'off'. */
function onOff (v: string, where: string): boolean {
  const t = v.trim().toLowerCase()
  if (t === 'on' || t === 'true' || t === '1') return true
  if (t === 'off' || t === 'false' || t === '0') return false
  throw new ConfigError(`${where} must be 'on' or 'off', got '${v}'`)
}

/** `HOST:PORT` on loopback (port 0 = free) or 'off'. */
function localService (s: string, where: string, users: Record<string, string> | undefined): LocalService | null {
  const a = parseControlAddress(s, where)
  if (a === null) return null
  if ('path' in a) throw new ConfigError(`${where}: must be HOST:PORT on loopback or 'off', got '${s}'`)
  return users === undefined ? { host: a.host, port: a.port } : { host: a.host, port: a.port, users }
}

/** The SAM service: as localService, with the datagram port one below the TCP port (0 stays 0). */
function samService (s: string, where: string, users: Record<string, string> | undefined): ResolvedConfig['sam'] {
  const svc = localService(s, where, users)
  if (svc === null) return null
  if (svc.port === 1) throw new ConfigError(`${where}: port 1 leaves no datagram port (the SAM port - 1)`)
  return { ...svc, udpPort: svc.port === 0 ? 0 : svc.port - 1 }
}

function portNumber (v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) throw new ConfigError(`${where} must be a port 0..65535`)
  return v
}

function userMap (v: unknown, where: string): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${where} must be an object of user names to passwords`)
  const out: Record<string, string> = {}
  for (const [k, p] of Object.entries(v)) {
    if (!/^[^\s"=]{1,64}$/.test(k)) throw new ConfigError(`${where}: user names are 1-64 characters without spaces, quotes or '='`)
    if (typeof p !== 'string' || p.length < 1 || p.length > 256) throw new ConfigError(`${where}.${k} must be a password of 1-256 characters`)
    out[k] = p
  }
  return out
}

/** `NAME=HOST:PORT`: a server tunnel to a TCP service. */
function serverTunnel (s: string, where: string): ServerTunnelConfig {
  const m = /^([A-Za-z0-9][A-Za-z0-9_-]{0,31})=(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s.trim())
  if (m === null) throw new ConfigError(`${where}: a server tunnel is NAME=HOST:PORT (name: 1-32 letters, digits, '_' or '-'), got '${s}'`)
  const port = Number(m[4])
  if (port < 1 || port > 65535) throw new ConfigError(`${where}: port must be 1..65535, got ${port}`)
  return { name: m[1]!, host: (m[2] ?? m[3])!, port }
}

function uniqueTunnels (list: ServerTunnelConfig[], where: string): ServerTunnelConfig[] {
  const seen = new Set<string>()
  for (const t of list) {
    if (seen.has(t.name)) throw new ConfigError(`${where}: two server tunnels named '${t.name}'`)
    seen.add(t.name)
  }
  return list
}

function envLayer (env: Env, cwd: string): Layer {
  const get = (name: string): string | undefined => {
    const v = env[name]
    return v === undefined || v.trim() === '' ? undefined : v
  }
  const l: Layer = {}
  let v: string | undefined
  if ((v = get('UMBRA_DATA_DIR')) !== undefined) l.dataDir = path(v, cwd, 'UMBRA_DATA_DIR')
  if ((v = get('UMBRA_LISTEN')) !== undefined) l.listen = listen(splitList(v, 'UMBRA_LISTEN'), 'UMBRA_LISTEN')
  if ((v = get('UMBRA_NETWORK')) !== undefined) l.network = network(v, 'UMBRA_NETWORK')
  if ((v = get('UMBRA_CONTROL')) !== undefined) l.control = parseControlAddress(v, 'UMBRA_CONTROL')
  if ((v = get('UMBRA_LOG_LEVEL')) !== undefined) l.logLevel = wrap('UMBRA_LOG_LEVEL', () => parseLogLevel(v!))
  if ((v = get('UMBRA_LOG_FORMAT')) !== undefined) l.logFormat = wrap('UMBRA_LOG_FORMAT', () => parseLogFormat(v!))
  if ((v = get('UMBRA_BANDWIDTH_IN')) !== undefined) l.inKBps = kbps(v, 'UMBRA_BANDWIDTH_IN', true)
  if ((v = get('UMBRA_BANDWIDTH_OUT')) !== undefined) l.outKBps = kbps(v, 'UMBRA_BANDWIDTH_OUT', true)
  if ((v = get('UMBRA_MAX_TRANSIT')) !== undefined) l.maxTransit = tunnelCount(v, 'UMBRA_MAX_TRANSIT', true)
  if ((v = get('UMBRA_SEED_FILE')) !== undefined) l.seedFiles = [path(v, cwd, 'UMBRA_SEED_FILE')]
  if ((v = get('UMBRA_SAM')) !== undefined) l.sam = samService(v, 'UMBRA_SAM', undefined)
  if ((v = get('UMBRA_SOCKS')) !== undefined) l.socks = localService(v, 'UMBRA_SOCKS', undefined)
  if ((v = get('UMBRA_FS')) !== undefined) l.fsEnabled = onOff(v, 'UMBRA_FS')
  if ((v = get('UMBRA_FS_QUOTA_MB')) !== undefined) l.fsQuotaMB = fsQuota(v, 'UMBRA_FS_QUOTA_MB', true)
  if ((v = get('UMBRA_FS_SEEDS')) !== undefined) l.fsSeeds = fsSeeds(splitList(v, 'UMBRA_FS_SEEDS'), 'UMBRA_FS_SEEDS')
  if ((v = get('UMBRA_CHAT')) !== undefined) l.chatEnabled = onOff(v, 'UMBRA_CHAT')
  if ((v = get('UMBRA_COVER')) !== undefined) l.coverPreset = coverPreset(v, 'UMBRA_COVER')
  if ((v = get('UMBRA_COVER_LINK_RATE')) !== undefined) l.coverOverrides = { ...l.coverOverrides, linkRate: coverRate(v, 'UMBRA_COVER_LINK_RATE', true) }
  if ((v = get('UMBRA_COVER_LOOP_MS')) !== undefined) l.coverOverrides = { ...l.coverOverrides, loopIntervalMs: loopMs(v, 'UMBRA_COVER_LOOP_MS', true) }
  if ((v = get('UMBRA_COVER_SEND_RATE')) !== undefined) l.coverOverrides = { ...l.coverOverrides, destinationRate: sendRate(v, 'UMBRA_COVER_SEND_RATE', true) }
  return l
}

function flagLayer (f: ConfigFlags, cwd: string): Layer {
  const l: Layer = {}
  if (f['data-dir'] !== undefined) l.dataDir = path(f['data-dir'], cwd, '--data-dir')
  if (f.listen !== undefined) l.listen = listen(f.listen, '--listen')
  if (f.network !== undefined) l.network = network(f.network, '--network')
  if (f.control !== undefined) l.control = parseControlAddress(f.control, '--control')
  if (f['log-level'] !== undefined) l.logLevel = wrap('--log-level', () => parseLogLevel(f['log-level']!))
  if (f['log-format'] !== undefined) l.logFormat = wrap('--log-format', () => parseLogFormat(f['log-format']!))
  if (f['bandwidth-in'] !== undefined) l.inKBps = kbps(f['bandwidth-in'], '--bandwidth-in', true)
  if (f['bandwidth-out'] !== undefined) l.outKBps = kbps(f['bandwidth-out'], '--bandwidth-out', true)
  if (f['max-transit'] !== undefined) l.maxTransit = tunnelCount(f['max-transit'], '--max-transit', true)
  if (f['transit-peer-kbps'] !== undefined) l.perPeerKBps = kbps(f['transit-peer-kbps'], '--transit-peer-kbps', true)
  if (f['seed-file'] !== undefined) {
    if (f['seed-file'].length > MAX_SEED_FILES) throw new ConfigError(`--seed-file: at most ${MAX_SEED_FILES} seed files`)
    l.seedFiles = f['seed-file'].map(p => path(p, cwd, '--seed-file'))
  }
  if (f.sam !== undefined) l.sam = samService(f.sam, '--sam', undefined)
  if (f.socks !== undefined) l.socks = localService(f.socks, '--socks', undefined)
  if (f.fs !== undefined) l.fsEnabled = onOff(f.fs, '--fs')
  if (f.chat !== undefined) l.chatEnabled = onOff(f.chat, '--chat')
  if (f.cover !== undefined) l.coverPreset = coverPreset(f.cover, '--cover')
  if (f['cover-link-rate'] !== undefined) l.coverOverrides = { ...l.coverOverrides, linkRate: coverRate(f['cover-link-rate'], '--cover-link-rate', true) }
  if (f['cover-loop-ms'] !== undefined) l.coverOverrides = { ...l.coverOverrides, loopIntervalMs: loopMs(f['cover-loop-ms'], '--cover-loop-ms', true) }
  if (f['cover-send-rate'] !== undefined) l.coverOverrides = { ...l.coverOverrides, destinationRate: sendRate(f['cover-send-rate'], '--cover-send-rate', true) }
  if (f['fs-quota'] !== undefined) l.fsQuotaMB = fsQuota(f['fs-quota'], '--fs-quota', true)
  if (f['fs-seed'] !== undefined) {
    if (f['fs-seed'].length > MAX_FS_SEEDS) throw new ConfigError(`--fs-seed: at most ${MAX_FS_SEEDS}`)
    l.fsSeeds = fsSeeds(f['fs-seed'], '--fs-seed')
  }
  if (f['server-tunnel'] !== undefined) {
    if (f['server-tunnel'].length > MAX_SERVER_TUNNELS) throw new ConfigError(`--server-tunnel: at most ${MAX_SERVER_TUNNELS}`)
    l.serverTunnels = uniqueTunnels(f['server-tunnel'].map(x => serverTunnel(x, '--server-tunnel')), '--server-tunnel')
  }
  return l
}

// ---- field checks (each throws ConfigError prefixed with `where`) --------------------------

function wrap<T> (where: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof ConfigError && !err.message.startsWith(where)) throw new ConfigError(`${where}: ${err.message}`, { cause: err })
    throw err
  }
}

function typeName (v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`
}

function object (v: unknown, file: string, field: string | null): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new ConfigError(field === null
      ? `${file}: the config file must hold a JSON object, got ${typeName(v)}`
      : `${file}: ${field} must be an object, got ${typeName(v)}`)
  }
  return v as Record<string, unknown>
}

function onlyKeys (o: Record<string, unknown>, allowed: readonly string[], file: string, prefix: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      throw new ConfigError(`${file}: unknown key '${prefix}${k}' (known: ${allowed.map(a => prefix + a).join(', ')})`)
    }
  }
}

function str (v: unknown, where: string): string {
  if (typeof v !== 'string') throw new ConfigError(`${where} must be a string, got ${typeName(v)}`)
  return v
}

function strList (v: unknown, where: string, max: number, allowEmpty = false): string[] {
  if (!Array.isArray(v)) throw new ConfigError(`${where} must be an array of strings, got ${typeName(v)}`)
  if (v.length === 0 && !allowEmpty) throw new ConfigError(`${where} must not be empty`)
  if (v.length > max) throw new ConfigError(`${where} has ${v.length} entries, at most ${max}`)
  return v.map((x, i) => str(x, `${where}[${i}]`))
}

function splitList (v: string, where: string): string[] {
  const items = v.split(',').map(s => s.trim()).filter(s => s !== '')
  if (items.length === 0) throw new ConfigError(`${where}: no address given`)
  return items
}

function path (p: string, base: string, where: string): string {
  if (p.trim() === '') throw new ConfigError(`${where}: needs a path`)
  if (p.includes('\0')) throw new ConfigError(`${where}: path contains a NUL byte`)
  return resolve(base, p)
}

function listen (addrs: string[], where: string): string[] {
  if (addrs.length === 0) throw new ConfigError(`${where}: at least one listen address is needed`)
  if (addrs.length > ROUTER_INFO_LIMITS.addresses) throw new ConfigError(`${where}: at most ${ROUTER_INFO_LIMITS.addresses} listen addresses`)
  return addrs.map((a) => {
    const scheme = /^([a-z]+):/.exec(a)?.[1]
    wrap(where, () => {
      switch (scheme) {
        case 'udp': case 'tcp': parseTransportUrl(a, scheme); break
        case 'http': parseTransportUrl(a, 'http', { path: true, defaultPort: 80 }); break
        default: throw new ConfigError(`listen address must start with udp://, tcp:// or http://, got '${a}'`)
      }
    })
    if (Buffer.byteLength(a) > ROUTER_INFO_LIMITS.urlBytes) throw new ConfigError(`${where}: address longer than ${ROUTER_INFO_LIMITS.urlBytes} bytes`)
    return a
  })
}

function network (v: string, where: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/.test(v)) {
    throw new ConfigError(`${where}: network name must be 1-32 letters, digits, '.', '_' or '-', got '${v}'`)
  }
  return v
}

/** A cover preset: `off`, `low` or `high`. */
function coverPreset (v: unknown, where: string): string {
  if (v === 'off' || v === 'low' || v === 'high') return v
  throw new ConfigError(`${where}: cover preset must be 'off', 'low' or 'high', got ${typeof v === 'string' ? `'${v.slice(0, 32)}'` : typeName(v)}`)
}

/** Link chaff slots per second: a whole number 0..10000. */
function coverRate (v: unknown, where: string, fromText = false): number {
  return wholeNumber(v, where, 0, 10_000, 'chaff cells per second per link from 0 (none) to 10000', fromText)
}

/** Mean ms between cover loops per tunnel pool: 0 (none) or a whole number 100..3600000. */
function loopMs (v: unknown, where: string, fromText = false): number {
  const n = wholeNumber(v, where, 0, 3_600_000, 'milliseconds, 0 (no loops) or 100 to 3600000', fromText)
  if (n > 0 && n < 100) throw new ConfigError(`${where} must be 0 (no loops) or at least 100 ms, got ${n}`)
  return n
}

/** Poisson sending for destinations, messages per second: a whole number 0 (off)..10000. */
function sendRate (v: unknown, where: string, fromText = false): number {
  return wholeNumber(v, where, 0, 10_000, 'messages per second per destination from 0 (off) to 10000', fromText)
}

function kbps (v: unknown, where: string, fromText = false): number {
  return wholeNumber(v, where, 0, MAX_BANDWIDTH_KBPS, `KB/s from 0 (unlimited) to ${MAX_BANDWIDTH_KBPS}`, fromText)
}

function tunnelCount (v: unknown, where: string, fromText = false): number {
  return wholeNumber(v, where, 0, MAX_TRANSIT_LIMIT, `tunnels from 0 to ${MAX_TRANSIT_LIMIT}`, fromText)
}

/**
 * An integer `min..max` from a JSON number, or (`fromText`, for variables and flags) from
 * decimal digits. ConfigError `<where> must be a whole number of <what>, got <v>` otherwise.
 */
function wholeNumber (v: unknown, where: string, min: number, max: number, what: string, fromText: boolean): number {
  const n = fromText && typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    const got = typeof v === 'string' ? `'${v}'` : typeof v === 'number' ? String(v) : typeName(v)
    throw new ConfigError(`${where} must be a whole number of ${what}, got ${got}`)
  }
  return n
}

function seedInfos (infos: string[], where: string): string[] {
  decodeInfos(infos, i => `${where}[${i}]`)
  return infos.map(b64 => b64.trim())
}
