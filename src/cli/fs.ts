/**
 * `umbra publish`, `umbra search` and `umbra get`: the file-sharing commands. Each runs as its
 * own anonymous client: a fresh SAM session on the router's bridge (its own tunnels), a DHT
 * view bootstrapped from the router's fs node (`<data dir>/fs/node.json`), then the work in
 * src/apps/fs. Nothing of the router is used but its local API.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createSession, type Session } from '../api/client/index.ts'
import { loadConfig, parseControlAddress } from '../router/config.ts'
import { loadCrypto, type CryptoSuite } from '../crypto/index.ts'
import { ConfigError, NotFoundError } from '../util/errors.ts'
import { Dht } from '../apps/fs/dht.ts'
import { createLogger } from '../util/log-writer.ts'
import { contactFromBase64, type Contact } from '../apps/fs/contacts.ts'
import { NODE_FILE, type NodeFile } from '../apps/fs/node.ts'
import { publish } from '../apps/fs/publish.ts'
import { search } from '../apps/fs/search.ts'
import { download } from '../apps/fs/download.ts'
import type { FileMeta } from '../apps/fs/meta.ts'
import { failure, parse, positiveInt } from './args.ts'
import { fsDir, samUser } from './fs-node.ts'
import { Progress, formatBytes } from './progress.ts'

const COMMON_HELP = `Common options:
  --data-dir DIR       the router's data directory (default as for umbra router)
                       [UMBRA_DATA_DIR]; its fs node is the way into the network
  --config FILE        the router's config file
  --sam HOST:PORT      the SAM bridge (default: the one in <data dir>/fs/node.json)
  --seed DEST          another fs node's base64 destination to start from; repeatable
  --hops N             tunnel length of this command's own session (default 3)
  --json               machine-readable output on stdout (no progress display)
  -q, --quiet          no progress display
  -h, --help           show this text
`

const COMMON = {
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  sam: { type: 'string' },
  seed: { type: 'string', multiple: true },
  hops: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' }
} as const

const PUBLISH_HELP = `Usage: umbra publish PATH [--keyword K]... [--meta KEY=VALUE]... [options]

Encodes the file or directory PATH into encrypted 32 KiB blocks, stores each at the nodes
nearest it in the fs network (through tunnels: no node learns who published), adds one
keyword block per --keyword so that \`umbra search\` finds it, and prints its URI. The file
stays retrievable after this router goes offline.

Options:
  -k, --keyword K      a search keyword; repeatable
  -m, --meta KEY=VALUE metadata: description=..., type=... (MIME), anything else is kept
                       as extra; repeatable
  -r, --replication N  nodes each block is stored at (default 3)
  --lifetime DAYS      how long nodes should keep it (default 90)
${COMMON_HELP}`

const SEARCH_HELP = `Usage: umbra search WORD... [options]

Finds files published under keywords. Several words: files matching any; +WORD: files must
match it. Prints one line per file: name, size, URI.

Options:
  --timeout S          give up after S seconds (default 60)
${COMMON_HELP}`

const GET_HELP = `Usage: umbra get URI -o PATH [options]

Downloads umbra://fs/chk/... into PATH, fetching blocks in parallel through tunnels and
verifying each. An interrupted download resumes (PATH.part keeps what was fetched); the
whole file is checked before it is renamed to PATH. A directory URI creates directory PATH.

Options:
  -o, --output PATH    where to write (required)
  -j, --parallel N     blocks fetched at once (default 64)
  --timeout S          give up after S seconds (default: none)
${COMMON_HELP}`

/** An open client: its session and DHT view. */
interface Client {
  session: Session
  dht: Dht
  crypto: CryptoSuite
  close: () => Promise<void>
}

type CommonValues = { 'data-dir'?: string, config?: string, sam?: string, seed?: string[], hops?: string }

/** Opens a session on the bridge and bootstraps a DHT view from the router's fs node. */
async function openClient (v: CommonValues, signal: AbortSignal): Promise<Client> {
  const cfg = await loadConfig({ ...(v['data-dir'] !== undefined ? { 'data-dir': v['data-dir'] } : {}), ...(v.config !== undefined ? { config: v.config } : {}) }, process.env)
  const nodePath = join(fsDir(cfg.dataDir), NODE_FILE)
  let node: NodeFile | undefined
  try {
    node = JSON.parse(await readFile(nodePath, 'utf8')) as NodeFile
  } catch (err) {
    if (v.sam === undefined) throw new ConfigError(`no fs node found (${nodePath}: ${(err as Error).message}); start \`umbra router --data-dir ${cfg.dataDir}\` with fs on, or give --sam and --seed`)
  }
  const sam = parseControlAddress(v.sam ?? node?.sam ?? '', v.sam !== undefined ? '--sam' : nodePath)
  if (sam === null || 'path' in sam) throw new ConfigError('the SAM bridge must be HOST:PORT on loopback')
  const hops = positiveInt('hops', v.hops, 3, 7)
  const seeds: Contact[] = []
  for (const s of [...(node !== undefined ? [node.destination] : []), ...(v.seed ?? [])]) {
    try { seeds.push(contactFromBase64(s)) } catch (err) { throw new ConfigError(`bad fs node destination: ${(err as Error).message}`) }
  }
  if (seeds.length === 0) throw new ConfigError('no fs node to start from: give --seed')
  const crypto = await loadCrypto()
  const session = await createSession({ host: sam.host, port: sam.port, ...samUser(cfg), inboundLength: hops, outboundLength: hops, inboundQuantity: 2, outboundQuantity: 2, signal })
  // UMBRA_FS_DEBUG=1: the lookups' steps (which nodes were asked, what they answered) on stderr.
  const log = process.env.UMBRA_FS_DEBUG === '1' ? createLogger({ level: 'debug', format: 'text' }) : undefined
  // The router's own fs node is asked first for blocks (docs/fs.md): its router hands the
  // request over inside itself.
  const home = node !== undefined ? seeds[0] : undefined
  const dht = new Dht({ dial: async (b64, s) => await session.connect(b64, { signal: s }), ...(home !== undefined ? { home } : {}), ...(log !== undefined ? { log } : {}) })
  const close = async (): Promise<void> => { dht.close(); await session.close().catch(() => {}) }
  try {
    await dht.bootstrap(seeds, signal)
    if (dht.table.size === 0) throw new NotFoundError('cannot reach the fs network: no node answered (is the router\'s fs node online? `umbra status` shows it)')
  } catch (err) {
    await close()
    throw err
  }
  return { session, dht, crypto, close }
}

/** Aborts on Ctrl-C and after `timeoutS` seconds, if given. */
function stopSignal (timeoutS?: number): AbortSignal {
  const ac = new AbortController()
  const stop = (): void => { ac.abort(new Error('interrupted')) }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  return timeoutS === undefined ? ac.signal : AbortSignal.any([ac.signal, AbortSignal.timeout(timeoutS * 1000)])
}

/** `umbra publish`. */
export async function runPublish (argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parse(argv, {
      ...COMMON,
      keyword: { type: 'string', short: 'k', multiple: true },
      meta: { type: 'string', short: 'm', multiple: true },
      replication: { type: 'string', short: 'r' },
      lifetime: { type: 'string' }
    })
    if (values.help === true) { process.stdout.write(PUBLISH_HELP); return 0 }
    if (positionals.length !== 1) throw new ConfigError('give one PATH to publish (see umbra publish --help)')
    const meta = parseMeta(values.meta ?? [])
    const replication = positiveInt('replication', values.replication, 3, 16)
    const lifetimeDays = positiveInt('lifetime', values.lifetime, 90, 3650)
    const signal = stopSignal()
    const client = await openClient(values, signal)
    try {
      const show = values.json !== true && values.quiet !== true
      let progress: Progress | undefined
      const started = performance.now()
      const r = await publish(client.dht, client.crypto, positionals[0]!, {
        keywords: values.keyword ?? [],
        meta,
        replication,
        lifetimeSec: lifetimeDays * 86400,
        signal,
        onProgress: (done, total) => { (progress ??= new Progress('publishing', total, show)).update(done) }
      })
      progress?.finish()
      const secs = (performance.now() - started) / 1000
      if (values.json === true) console.log(JSON.stringify({ ...r, seconds: secs }))
      else {
        process.stderr.write(`published ${formatBytes(r.size)} (${r.files} file${r.files === 1 ? '' : 's'}) as ${r.blocks} blocks, each on at least ${r.minReplicas} node${r.minReplicas === 1 ? '' : 's'}, in ${secs.toFixed(1)} s\n`)
        console.log(r.uri)
      }
      return 0
    } finally { await client.close() }
  } catch (err) {
    return failure('publish', err)
  }
}

/** `umbra search`. */
export async function runSearch (argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parse(argv, { ...COMMON, timeout: { type: 'string' } })
    if (values.help === true) { process.stdout.write(SEARCH_HELP); return 0 }
    if (positionals.length === 0) throw new ConfigError('give at least one WORD to search for (see umbra search --help)')
    const signal = stopSignal(positiveInt('timeout', values.timeout, 60, 86400))
    const client = await openClient(values, signal)
    try {
      const r = await search(client.dht, client.crypto, positionals, signal)
      if (values.json === true) {
        for (const x of r.results) console.log(JSON.stringify(x))
      } else {
        for (const x of r.results) console.log(`${x.meta.name ?? '(no name)'}\t${formatBytes(x.meta.size)}\t${x.uri}`)
        process.stderr.write(`${r.results.length} result${r.results.length === 1 ? '' : 's'}${r.rejected > 0 ? ` (${r.rejected} bad keyword blocks ignored)` : ''}\n`)
      }
      return r.results.length > 0 ? 0 : 3
    } finally { await client.close() }
  } catch (err) {
    return failure('search', err)
  }
}

/** `umbra get`. */
export async function runGet (argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parse(argv, {
      ...COMMON,
      output: { type: 'string', short: 'o' },
      parallel: { type: 'string', short: 'j' },
      timeout: { type: 'string' }
    })
    if (values.help === true) { process.stdout.write(GET_HELP); return 0 }
    if (positionals.length !== 1) throw new ConfigError('give one URI (see umbra get --help)')
    if (values.output === undefined) throw new ConfigError('give -o PATH: where to write the file')
    const signal = stopSignal(values.timeout === undefined ? undefined : positiveInt('timeout', values.timeout, 0, 86400 * 7))
    const client = await openClient(values, signal)
    try {
      const show = values.json !== true && values.quiet !== true
      let progress: Progress | undefined
      const started = performance.now()
      const r = await download(client.dht, client.crypto, positionals[0]!, values.output, {
        concurrency: positiveInt('parallel', values.parallel, 64, 256),
        signal,
        onProgress: (done, total, reused) => {
          (progress ??= new Progress('downloading', total, show)).update(done, reused > 0 ? `(${formatBytes(reused)} resumed)` : '')
        }
      })
      progress?.finish()
      const secs = (performance.now() - started) / 1000
      if (values.json === true) console.log(JSON.stringify({ ...r, seconds: secs, path: values.output }))
      else process.stderr.write(`saved ${values.output}: ${formatBytes(r.size)}${r.directory ? ` in ${r.files} files` : ''}, ${r.fetched} blocks fetched${r.reused > 0 ? `, ${formatBytes(r.reused)} resumed` : ''}, ${secs.toFixed(1)} s (${formatBytes(Math.round(r.size / Math.max(secs, 0.001)))}/s); verified\n`)
      return 0
    } finally { await client.close() }
  } catch (err) {
    return failure('get', err)
  }
}

/** `--meta KEY=VALUE` pairs as metadata. */
function parseMeta (pairs: readonly string[]): Omit<FileMeta, 'size'> {
  const out: Omit<FileMeta, 'size'> = {}
  const extra: Record<string, string> = {}
  for (const p of pairs) {
    const eq = p.indexOf('=')
    if (eq <= 0) throw new ConfigError(`--meta takes KEY=VALUE, got '${p}'`)
    const k = p.slice(0, eq).trim()
    const v = p.slice(eq + 1)
    if (k === 'description') out.description = v
    else if (k === 'type') out.type = v
    else if (k === 'name') out.name = v
    else extra[k] = v
  }
  if (Object.keys(extra).length > 0) out.extra = extra
  return out
}

