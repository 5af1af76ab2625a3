/**
 * One router of bench/tunnel.ts (and of the multi-process tunnel tests), run as its own
 * process and driven by JSON lines on stdin; answers are JSON lines on stdout
 * (`{"id":…, …}`, or `{"id":…,"error":…}`), events carry `"event"`.
 *   argv: listen address, then optional base64 seed RouterInfos.
 * Commands: info, converge {n}, builds {count, length}, dest {length, quantity},
 * dest may name `via` (hop router IDs); bandwidth {up, down} sets the accountant's limits
 * (bytes/s), accounting returns its status; UMBRA_PEER_CONFIG (JSON) adds router settings.
 * lookup {address} (finds a LeaseSet in the netDb), sink {port} (answers each stream with the bytes it asks for, reports what it got as an
 * `sunk` event), echo {port}, stream {to, port, up, down}, ping {to, port, count}, stats.
 * An attacker's commands: blast {hops, count, rate} (cells), build-flood {hop, rate} (real
 * 1-hop builds), build-junk {hop, junk, replays, count, ms} (junk and replayed build messages,
 * see `buildJunk`); blast-stop ends any of them.
 */
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks'
import { Router, type RouterConfig } from '../src/router/router.ts'
import { RecordKind } from '../src/netdb/messages.ts'
import { parseB32Address } from '../src/identity/destination.ts'
import type { DestinationSession } from '../src/router/session.ts'
import type { StreamSocket } from '../src/streaming/socket.ts'
import type { OutboundTunnel } from '../src/tunnel/tunnel.ts'
import { BUILD_BODY_BYTES, BUILD_RECORDS, RECORD_BYTES, RECORD_ID_PREFIX_BYTES } from '../src/tunnel/build.ts'
import { encodeBuild } from '../src/tunnel/messages.ts'
import { planInbound, randomId } from '../src/tunnel/plan.ts'

// Main-thread GC pauses since start, by kind (reported by `stats`).
const gc: Record<string, { n: number, ms: number }> = {}
const GC_KINDS: Record<number, string> = {
  [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb'
}
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = GC_KINDS[(e as unknown as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other'
    const g = (gc[kind] ??= { n: 0, ms: 0 })
    g.n++
    g.ms += e.duration
  }
}).observe({ entryTypes: ['gc'] })

const listen = process.argv[2] ?? 'tcp://127.0.0.1:0'
const seeds = process.argv.slice(3).map(s => new Uint8Array(Buffer.from(s, 'base64')))
const dataDir = await mkdtemp(join(tmpdir(), 'umbra-bench-'))
/** Extra router settings as JSON (`accounting`, `tunnels`, `cover`), for experiments. */
const extra = JSON.parse(process.env.UMBRA_PEER_CONFIG ?? '{}') as Pick<RouterConfig, 'accounting' | 'tunnels' | 'cover'>
const router = await Router.start({
  dataDir, listen: [listen], network: 'bench', seeds, persist: false,
  netdb: { exploreMs: 500 },
  pool: { testIntervalMs: Number(process.env.UMBRA_TEST_INTERVAL_MS ?? 10_000) },
  ...extra
})
let dest: DestinationSession | undefined
const out = (o: object): void => { process.stdout.write(JSON.stringify(o) + '\n') }
const wall = (): number => performance.timeOrigin + performance.now()

/** A deterministic byte pattern (so both ends can check without sending hashes). */
function pattern (n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i += 4) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b.writeUInt32LE(x >>> 0, i) }
  return b
}
const CHUNK = pattern(64 * 1024, 7)

async function writeBytes (s: StreamSocket, n: number, hash: ReturnType<typeof createHash>): Promise<void> {
  let left = n
  while (left > 0) {
    const c = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left)
    hash.update(c)
    left -= c.length
    if (!s.write(c)) {
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => { s.off('drain', onDrain); reject(err) }
        const onDrain = (): void => { s.off('error', onError); resolve() }
        s.once('drain', onDrain)
        s.once('error', onError)
      })
    }
  }
}

async function readAll (s: StreamSocket, onFirst?: () => void): Promise<{ bytes: number, sha: string, end: number }> {
  const hash = createHash('sha256')
  let bytes = 0
  // Events, not `for await`: the iterator destroys the socket at the end, resetting our half.
  return await new Promise((resolve, reject) => {
    s.on('data', (c: Buffer) => {
      if (bytes === 0) onFirst?.()
      hash.update(c)
      bytes += c.length
    })
    s.once('end', () => { resolve({ bytes, sha: hash.digest('hex'), end: wall() }) })
    s.once('error', reject)
  })
}

function sink (port: number): void {
  dest!.listen(port, (s) => {
    s.once('readable', () => {
      const head = s.read(8) as Buffer | null
      if (head === null) { s.destroy(); return }
      const down = Number(head.readBigUInt64BE(0))
      const up = createHash('sha256')
      void readAll(s).then(r => { out({ event: 'sunk', port, bytes: r.bytes, sha: r.sha, end: r.end }) })
      void writeBytes(s, down, up).then(() => { s.end() }, () => {})
    })
  })
}

function echo (port: number): void {
  dest!.listen(port, (s) => { s.pipe(s); s.on('error', () => {}) })
}

async function stream (to: string, port: number, up: number, down: number): Promise<object> {
  const t0 = wall()
  const s = await dest!.connect(to, { toPort: port })
  const connected = wall()
  const head = Buffer.alloc(8)
  head.writeBigUInt64BE(BigInt(down))
  s.write(head)
  const upHash = createHash('sha256')
  const reading = readAll(s)
  await writeBytes(s, up, upHash)
  s.end()
  const r = await reading
  return { start: t0, connectMs: connected - t0, sent: wall(), downBytes: r.bytes, downSha: r.sha, downEnd: r.end, upSha: upHash.digest('hex'), streamStats: s.stats }
}

async function ping (to: string, port: number, count: number): Promise<object> {
  const s = await dest!.connect(to, { toPort: port })
  const rtts: number[] = []
  for (let i = 0; i < count; i++) {
    const t0 = performance.now()
    const got = new Promise<void>((resolve) => { s.once('data', () => { resolve() }) })
    s.write(Buffer.of(i & 0xff))
    await got
    rtts.push(performance.now() - t0)
  }
  s.destroy()
  return { rtts }
}

/** Builds `count` pairs of tunnels of `length` hops, through random routers or only `via` (hex IDs). */
async function builds (count: number, length: number, via?: string[], rate?: number): Promise<object> {
  const inMs: number[] = []
  const outMs: number[] = []
  let failed = 0
  const reasons: Record<string, number> = {}
  stopBlast = false
  const start = performance.now()
  for (let i = 0; i < count && !stopBlast; i++) {
    // Paced at `rate` pairs/s when given.
    const due = rate === undefined ? 0 : start + i * 1000 / rate - performance.now()
    if (due > 1) await new Promise(resolve => setTimeout(resolve, due))
    const hops = router.hopCandidates().filter(c => via === undefined || via.includes(c.idHex)).sort(() => Math.random() - 0.5)
    let t0 = performance.now()
    try {
      const inb = await router.tunnels.buildInbound(hops.slice(0, length), undefined)
      inMs.push(performance.now() - t0)
      t0 = performance.now()
      const o = await router.tunnels.buildOutbound(hops.slice(length, 2 * length), inb)
      outMs.push(performance.now() - t0)
      router.tunnels.retire(inb)
      router.tunnels.retire(o)
    } catch (err) {
      failed++
      const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
      reasons[why] = (reasons[why] ?? 0) + 1
    }
  }
  return { inMs, outMs, failed, reasons }
}

/**
 * Blasts `count` one-cell messages through an outbound tunnel whose hops are `hops` (built at
 * the first call for those hops, kept for later ones)
 * (router IDs in hex); the endpoint delivers them to a tunnel nobody has (counted, dropped).
 */
/**
 * Asks for 1-hop inbound tunnels through `hop` at `rate` per second without waiting for the
 * answers, until `blast-stop`; reports how many were built, refused and unanswered.
 */
async function buildFlood (hop: string, rate: number): Promise<object> {
  const target = router.hopCandidates().find(c => c.idHex === hop)!
  const r = { sent: 0, built: 0, refused: 0, timedOut: 0 }
  const pending: Array<Promise<void>> = []
  stopBlast = false
  const start = performance.now()
  while (!stopBlast) {
    pending.push(router.tunnels.buildInbound([target], undefined).then(t => { r.built++; router.tunnels.retire(t) },
      (err: Error) => { if (err.name === 'TimeoutError') r.timedOut++; else r.refused++ }))
    r.sent++
    const due = start + r.sent * 1000 / rate - performance.now()
    await new Promise(resolve => due > 1 ? setTimeout(resolve, due) : setImmediate(resolve))
  }
  await Promise.all(pending)
  return r
}

/**
 * Floods `hop` with build messages it has to open, sent straight to it at `junk` and `replays`
 * per second, at most `count` of each, for at most `ms`, or until `blast-stop`:
 * - junk: well-framed TUNNEL_BUILD messages of random records, one of which starts with the
 *   hop's ID prefix, so the hop spends an X25519 and an AEAD check before finding it junk;
 * - replays: one real request for a 1-hop inbound tunnel through the hop, sent once (the hop
 *   accepts it), then the same bytes again and again (its replay filter must drop them).
 * Reports how many of each were sent, and over how long.
 */
async function buildJunk (hop: string, junk: number, replays: number, count: number, ms: number): Promise<object> {
  const target = router.hopCandidates().find(c => c.idHex === hop)
  if (target === undefined) throw new Error(`router ${hop.slice(0, 12)} unknown`)
  const c = router.crypto
  stopBlast = false
  const plan = planInbound(c, [target], router.id, { nowSec: Math.floor(router.clock.wall() / 1000), lifetimeSec: 600, priority: router.accounting.offer() })
  const real = encodeBuild(plan.firstMsgId, plan.body)
  router.sender.send(target.id, real)
  await new Promise(resolve => setTimeout(resolve, 100))
  const r = { junk: 0, replays: 0, ms: 0 }
  const start = performance.now()
  const end = start + ms
  for (let now = start; now < end && !stopBlast && (r.junk < count || r.replays < count); now = performance.now()) {
    const s = (now - start) / 1000
    const dueJunk = Math.min(count, Math.floor(s * junk))
    const dueReplays = Math.min(count, Math.floor(s * replays))
    // In random order, so that neither kind is always first when the hop has room to open one.
    while (r.junk < dueJunk || r.replays < dueReplays) {
      if (Math.random() * (dueJunk - r.junk + dueReplays - r.replays) < dueJunk - r.junk) {
        const body = c.randomBytes(BUILD_BODY_BYTES)
        body.set(target.id.subarray(0, RECORD_ID_PREFIX_BYTES), (c.randomBytes(1)[0]! % BUILD_RECORDS) * RECORD_BYTES)
        router.sender.send(target.id, encodeBuild(randomId(c), body))
        r.junk++
      } else {
        router.sender.send(target.id, real)
        r.replays++
      }
    }
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  r.ms = performance.now() - start
  return r
}

let blaster: { key: string, out: OutboundTunnel } | undefined
/** Set by `blast-stop`: a running blast or builds loop ends. */
let stopBlast = false

async function blast (hops: string[], count: number, rate?: number): Promise<object> {
  const all = router.hopCandidates()
  const targets = hops.map(h => all.find(c => c.idHex === h)!)
  // A tunnel built once per hop list and kept (count 0 only builds it).
  if (blaster?.key !== hops.join()) {
    const reply = await router.tunnels.buildInbound([], undefined)
    blaster = { key: hops.join(), out: await router.tunnels.buildOutbound(targets, reply) }
  }
  const out = blaster.out
  stopBlast = false
  const data = new Uint8Array(900)
  const msg = { kind: 3 as const, router: targets[targets.length - 1]!.id, tunnelId: 1, data: Uint8Array.of(1, ...data) }
  const t0 = performance.now()
  const batch = rate === undefined ? 256 : Math.max(1, Math.min(256, Math.round(rate / 100)))
  for (let sent = 0; sent < count && !stopBlast; sent += batch) {
    router.tunnels.sendOut(out, Array.from({ length: Math.min(batch, count - sent) }, () => msg))
    // Paced at `rate` cells/s when given, else as fast as the sender drains.
    const due = rate === undefined ? 0 : t0 + (sent + batch) * 1000 / rate - performance.now()
    await new Promise(resolve => due > 1 ? setTimeout(resolve, due) : setImmediate(resolve))
    // Keep what waits for the first link bounded: wait while the sender queues.
    while (router.sender.pending() > 4 * 1024 * 1024) await new Promise(resolve => setTimeout(resolve, 1))
  }
  return { ms: performance.now() - t0 }
}

async function handle (m: Record<string, unknown>): Promise<object> {
  switch (m.cmd) {
    case 'info': return { info: Buffer.from(router.info.raw).toString('base64'), id: router.idHex }
    case 'converge': {
      const end = Date.now() + 30_000
      while (router.netdb.store.count(RecordKind.ROUTER_INFO) < (m.n as number) && Date.now() < end) await new Promise(resolve => setTimeout(resolve, 50))
      return { known: router.netdb.store.count(RecordKind.ROUTER_INFO) }
    }
    case 'builds': return await builds(m.count as number, m.length as number, m.via as string[] | undefined, m.rate as number | undefined)
    case 'dest': {
      const t0 = performance.now()
      const via = m.via as string[] | undefined
      dest = await router.createDestination({ pool: { length: m.length as number, quantity: m.quantity as number }, ...(via !== undefined ? { via } : {}) })
      return { address: dest.address, ms: performance.now() - t0 }
    }
    case 'sink': sink(m.port as number); return {}
    case 'echo': echo(m.port as number); return {}
    case 'stream': return await stream(m.to as string, m.port as number, m.up as number, m.down as number)
    case 'ping': return await ping(m.to as string, m.port as number, m.count as number)
    case 'blast': return await blast(m.hops as string[], m.count as number, m.rate as number | undefined)
    case 'build-flood': return await buildFlood(m.hop as string, m.rate as number)
    case 'build-junk': return await buildJunk(m.hop as string, m.junk as number, m.replays as number, (m.count as number | undefined) ?? 100_000, (m.ms as number | undefined) ?? 60_000)
    case 'blast-stop': stopBlast = true; return {}
    case 'bandwidth': router.accounting.setBandwidth(m.up as number, m.down as number); return {}
    case 'accounting': return router.accounting.status()
    case 'cover': return router.status().cover
    case 'lookup': {
      const ls = await router.netdb.findLeaseSet(parseB32Address(m.address as string), AbortSignal.timeout(15_000))
      return { leases: ls.leases.length }
    }
    case 'stats': {
      const cpu = process.cpuUsage()
      // Summed over open links (a link closed meanwhile drops out of the sum).
      const link = { framesSent: 0, bytesSent: 0, messagesSent: 0 }
      for (const l of router.links.all()) { link.framesSent += l.stats.framesSent; link.bytesSent += l.stats.bytesSent; link.messagesSent += l.stats.messagesSent }
      return { gc: structuredClone(gc), link, tunnels: router.tunnels.stats, outbox: router.tunnels.outboxStats, sender: router.sender.stats, cpuMs: (cpu.user + cpu.system) / 1000, pool: dest?.pool.stats, session: dest?.stats, streams: dest?.streams.stats }
    }
    case 'queues': {
      // Where bytes wait right now: the link sender's queues, the carriers' queues, the sockets.
      let carriers = 0
      let sockets = 0
      for (const l of router.links.all()) { carriers += l.queuedBytes; sockets += l.conn.bufferedAmount }
      return { sender: router.sender.pending(), carriers, sockets }
    }
    default: throw new Error(`unknown command ${String(m.cmd)}`)
  }
}

const lines = createInterface({ input: process.stdin })
lines.on('line', (line) => {
  let m: Record<string, unknown>
  try { m = JSON.parse(line) as Record<string, unknown> } catch { return }
  handle(m).then(r => { out({ id: m.id, ...r }) }, (err: unknown) => { out({ id: m.id, error: String(err) }) })
})
// UMBRA_BENCH_HEAPPROF=dir: a sampling allocation profile (one sample per ~16 KiB allocated) that
// keeps the objects full GCs collected too (by default only those still alive would be listed),
// written to dir/heap-<pid>.heapprofile on SIGTERM: where the garbage comes from.
let heapSession: import('node:inspector').Session | undefined
if (process.env.UMBRA_BENCH_HEAPPROF !== undefined) {
  const { Session } = await import('node:inspector')
  heapSession = new Session()
  heapSession.connect()
  heapSession.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true } as never)
}
async function writeHeapProfile (): Promise<void> {
  if (heapSession === undefined) return
  const { writeFile } = await import('node:fs/promises')
  const profile = await new Promise<unknown>((resolve, reject) => {
    heapSession!.post('HeapProfiler.stopSampling', (err, r) => { if (err !== null) reject(err); else resolve(r.profile) })
  })
  await writeFile(join(process.env.UMBRA_BENCH_HEAPPROF!, `heap-${process.pid}.heapprofile`), JSON.stringify(profile))
}
// However the router's stop goes, the process ends within 10 s of being told to: a parent that
// died (stdin closed) must not leave it running.
const stop = async (): Promise<void> => {
  setTimeout(() => { process.exit(1) }, 10_000).unref()
  await writeHeapProfile(); await router.stop(); await rm(dataDir, { recursive: true, force: true }); process.exit(0)
}
process.on('SIGTERM', () => { void stop() })
lines.on('close', () => { void stop() })
out({ event: 'ready', info: Buffer.from(router.info.raw).toString('base64'), id: router.idHex })
