/**
 * Chat figures (issue #8) on a local network of router processes: chat nodes (the code each
 * router runs, src/apps/chat/node.ts) in this process, each a client of one router's SAM bridge
 * with 3-hop tunnels each way.
 *
 * - DM latency: node A (router 0) sends `--messages` direct messages, one every 200 ms, to node
 *   B (router 1); each is timed from the send call until B's node emits it. The first message
 *   (lookup and stream setup) is reported on its own; median and p95 are of the rest.
 * - Room fan-out: `--members` nodes spread over the routers share a room; `--posts` times a post
 *   from member 0 until the last other member has it.
 *
 * Run once per cover preset the router can apply (`--cover off|low|both`, default both): `low`
 * sends link chaff on every link (docs/cover.md); `high` (strict shaping) is not wired yet.
 *
 *   npm run bench -- chat [--routers 4] [--messages 50] [--members 10] [--posts 10] [--cover both] [--json]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadCrypto } from '../src/crypto/index.ts'
import { silentLogger } from '../src/util/log.ts'
import { stopRouter, type RouterProc } from '../src/cli/testnet/procs.ts'
import { startFsNetwork } from '../src/cli/testnet/fs-net.ts'
import { ChatNode } from '../src/apps/chat/node.ts'
import type { ChatCore, ChatEvent } from '../src/apps/chat/chat.ts'
import { median, note, numArg, percentile, type report as Report } from './report.ts'

export async function run (args: string[], report: typeof Report): Promise<void> {
  const i = args.indexOf('--cover')
  const which = i >= 0 ? args[i + 1] : 'both'
  const presets = which === 'both' ? ['off', 'low'] : [which ?? 'off']
  for (const p of presets) {
    if (p !== 'off' && p !== 'low') throw new Error(`--cover must be off, low or both, got '${p}'`)
    await runPreset(args, report, p)
  }
}

async function runPreset (args: string[], report: typeof Report, cover: 'off' | 'low'): Promise<void> {
  process.env.UMBRA_FROM_SOURCE = '1'
  const n = numArg(args, 'routers', 4)
  const messages = numArg(args, 'messages', 50)
  const members = numArg(args, 'members', 10)
  const posts = numArg(args, 'posts', 10)
  const base = await mkdtemp(join(tmpdir(), 'umbra-bench-chat-'))
  const procs: RouterProc[] = []
  const nodes: ChatNode[] = []
  const crypto = await loadCrypto()
  try {
    procs.push(...await startFsNetwork(base, n, { network: 'bench-chat', logLevel: 'error', fs: false, extraArgs: ['--cover', cover] }))
    const open = async (i: number): Promise<ChatCore> => {
      const [host, port] = procs[i % n]!.sam.split(' ')[0]!.split(':') as [string, string]
      const node = await ChatNode.start({ dir: join(base, `user-${i}`), sam: { host, port: Number(port) }, crypto, log: silentLogger, tickMs: 1000 })
      nodes.push(node)
      await node.request('init', { nick: `user${i}` })
      return node.engine!
    }
    const online = async (cores: ChatCore[]): Promise<void> => {
      const end = Date.now() + 120_000
      while (!cores.every(c => c.online)) {
        if (Date.now() > end) throw new Error('chat nodes did not get SAM sessions within 120 s')
        await new Promise(resolve => setTimeout(resolve, 200))
      }
    }
    const arrival = (core: ChatCore, match: (e: ChatEvent) => boolean, ms = 60_000): Promise<number> => new Promise((resolve, reject) => {
      const timer = setTimeout(() => { core.off('event', on); reject(new Error('message did not arrive within 60 s')) }, ms)
      const on = (e: ChatEvent): void => {
        if (!match(e)) return
        clearTimeout(timer)
        core.off('event', on)
        resolve(performance.now())
      }
      core.on('event', on)
    })

    // DM latency.
    const [a, b] = [await open(0), await open(1)]
    await online([a, b])
    note(`${n} routers up (cover ${cover}); timing ${messages} DMs between routers 0 and 1`)
    const times: number[] = []
    for (let i = 0; i <= messages; i++) {
      // One message every 200 ms, as people type: latency, not queueing behind a burst.
      await new Promise(resolve => setTimeout(resolve, 200))
      const text = `ping ${i}`
      const got = arrival(b, e => e.type === 'message' && e.text === text)
      const t0 = performance.now()
      await a.sendDm(b.address, text)
      times.push((await got) - t0)
    }
    const [first, ...warm] = times
    report('chat', `DM 3+3 hops, cover ${cover}, first (lookup + stream setup)`, 'latency', first!, 'ms')
    report('chat', `DM 3+3 hops, cover ${cover}`, 'median', median(warm), 'ms', `${warm.length} messages`)
    report('chat', `DM 3+3 hops, cover ${cover}`, 'p95', percentile(warm, 95), 'ms')

    // Room fan-out.
    const cores = [a, b]
    for (let i = 2; i < members; i++) cores.push(await open(i))
    await online(cores)
    const { invite } = await a.createRoom('bench')
    for (const c of cores.slice(1)) {
      const r = await c.joinRoom(invite, 120_000)
      if (!r.connected) throw new Error('a member could not join the room')
    }
    // Let the mesh settle (each keeps links to up to 4 members).
    await new Promise(resolve => setTimeout(resolve, 5000))
    note(`${members} members in a room; timing ${posts} posts`)
    const fan: number[] = []
    for (let i = 0; i < posts; i++) {
      const text = `fan ${i}`
      const all = Promise.all(cores.slice(1).map(async c => await arrival(c, e => e.type === 'message' && e.text === text)))
      const t0 = performance.now()
      await a.say('bench', text)
      fan.push(Math.max(...await all) - t0)
    }
    report('chat', `room fan-out to ${members} members, cover ${cover}`, 'median', median(fan), 'ms', `${posts} posts, until the last member has it`)
    report('chat', `room fan-out to ${members} members, cover ${cover}`, 'p95', percentile(fan, 95), 'ms')
  } finally {
    await Promise.allSettled(nodes.map(async x => { await x.close() }))
    await Promise.allSettled(procs.map(async p => await stopRouter(p)))
    await rm(base, { recursive: true, force: true })
  }
}
