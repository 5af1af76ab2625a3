/**
 * Link benchmark: two routers in two processes on 127.0.0.1. For each transport, one-way 1 KiB
 * messages per second and MB/s (timed at the receiver, first to last message, median of runs),
 * and handshakes per second (TCP, several in flight).
 *   npm run bench -- link [--json] [--runs 3] [--transports tcp,http,udp]
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Link } from '../src/link/link.ts'
import { Router } from '../src/router/router.ts'
import { median, note, type report as Report } from './report.ts'
import { routerNodeFlags } from '../src/cli/node-flags.ts'

const LISTEN: Record<string, string> = { tcp: 'tcp://127.0.0.1:0', http: 'http://127.0.0.1:0/umbra', udp: 'udp://127.0.0.1:0', 'udp-1472': 'udp://127.0.0.1:0' }
const COUNT: Record<string, number> = { tcp: 300_000, http: 300_000, udp: 200_000, 'udp-1472': 100_000 }
/** `udp-1472`: UDP with the path MTU of an Ethernet path (one 1 KiB message per datagram). */
const UDP_MTU: Record<string, number> = { 'udp-1472': 1472 }

interface Peer { child: ChildProcess, info: Uint8Array, lines: AsyncIterator<string> }

async function startPeer (listen: string, loopbackMtu?: number): Promise<Peer> {
  const child = spawn(process.execPath, [...routerNodeFlags(), '--import', 'tsx', new URL('./link-peer.ts', import.meta.url).pathname, listen, String(loopbackMtu ?? '')], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  const first = await lines.next()
  if (first.done === true || !first.value.startsWith('INFO ')) throw new Error('bench peer did not start')
  return { child, info: new Uint8Array(Buffer.from(first.value.slice(5), 'base64')), lines }
}

async function sendAll (link: Link, n: number): Promise<void> {
  const msg = new Uint8Array(1024).fill(7)
  let i = 0
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (i < n) {
        i++
        if (!link.send(msg)) { link.onDrain = pump; return }
      }
      resolve()
    }
    pump()
  })
}

export async function run (args: string[], report: typeof Report): Promise<void> {
  const runs = Number(args[args.indexOf('--runs') + 1] ?? 3) || 3
  const ti = args.indexOf('--transports')
  const schemes = (ti >= 0 ? args[ti + 1]!.split(',') : ['tcp', 'http', 'udp', 'udp-1472']).filter(s => s in LISTEN)
  const dataDir = await mkdtemp(join(tmpdir(), 'umbra-bench-'))
  try {
    for (const scheme of schemes) {
      const mtu = UDP_MTU[scheme]
      const sender = await Router.start({ dataDir, listen: ['tcp://127.0.0.1:0'], network: 'bench', ...(mtu !== undefined ? { udp: { loopbackMtu: mtu } } : {}) })
      const peer = await startPeer(LISTEN[scheme]!, mtu)
      try {
        const link = await sender.connectInfo(peer.info, AbortSignal.timeout(10_000))
        const n = COUNT[scheme]!
        const rates: number[] = []
        for (let r = 0; r < runs; r++) {
          const ctl = new Uint8Array(5); ctl[0] = 0xff; new DataView(ctl.buffer).setUint32(1, n)
          link.send(ctl)
          await new Promise(resolve => setTimeout(resolve, 20))
          await sendAll(link, n)
          const line = await peer.lines.next()
          const [, got, ms] = (line.value as string).split(' ')
          rates.push(Number(got) / Number(ms) * 1000)
          note(`  ${scheme} run ${r + 1}: ${(Number(got) / Number(ms) * 1000).toFixed(0)} msgs/s`)
        }
        const m = median(rates)
        report('link', `${scheme} 1KiB one-way`, 'messages per second', m, 'msg/s', `(median of ${runs}; ${n} msgs each)`)
        report('link', `${scheme} 1KiB one-way`, 'throughput', m * 1024 / 1e6, 'MB/s')
      } finally {
        peer.child.kill('SIGTERM')
        await sender.stop()
      }
    }
    if (args.includes('--no-handshakes')) return
    const sender = await Router.start({ dataDir, listen: ['tcp://127.0.0.1:0'], network: 'bench' })
    // Handshakes per second over TCP, 32 in flight, for 3 s.
    const peer = await startPeer(LISTEN.tcp!)
    try {
      const contact = sender.contactFor(peer.info)
      const tcp = sender.transports.find(t => t.name === 'tcp')!
      const rates: number[] = []
      // Run -1 warms up (JIT, socket and key caches) for 1 s and is not counted.
      for (let r = -1; r < runs; r++) {
        let done = 0
        const t0 = performance.now()
        const until = t0 + (r < 0 ? 1000 : 3000)
        await Promise.all(Array.from({ length: 32 }, async () => {
          while (performance.now() < until) {
            const conn = await tcp.dial(contact.addresses[0]!, { signal: AbortSignal.timeout(5000) })
            const l = Link.initiate(sender.ctx, conn, contact)
            await l.ready
            l.close()
            done++
          }
        }))
        const rate = done / ((performance.now() - t0) / 1000)
        note(r < 0 ? `  handshakes warm-up (1 s, not counted): ${rate.toFixed(0)}/s` : `  handshakes run ${r + 1}: ${rate.toFixed(0)}/s`)
        if (r >= 0) rates.push(rate)
      }
      report('link', 'tcp handshake', 'handshakes per second', median(rates), 'hs/s', `(median of ${runs} runs of 3 s after a 1 s warm-up; 32 in flight)`)
    } finally {
      peer.child.kill('SIGTERM')
      await sender.stop()
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
}
