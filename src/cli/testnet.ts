/**
 * `umbra testnet`: a local network of routers on 127.0.0.1, in this process, each with its own
 * temporary data directory. Every pair of routers links up, the pairs taking UDP, TCP and HTTP
 * in turn, and each link is checked with a round-trip message. Stays up until Ctrl-C, then
 * closes every link and removes the temporary directories.
 * (Routers as separate processes, netDb bootstrap and network namespaces come with the
 * netDb/runtime work.)
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Router } from '../router/router.ts'
import { parse, positiveInt, untilStopped } from './args.ts'

const HELP = `Usage: umbra testnet [options]

Starts a local network of routers on 127.0.0.1 and links every pair, using UDP, TCP and HTTP
in turn. Stays up until Ctrl-C, then cleans up.

Options:
  --routers N        how many routers (default 3, at most 32)
  --exit             exit once every link is up and checked (for scripts and tests)
  -h, --help         show this text
`

const SCHEMES = ['udp', 'tcp', 'http'] as const

export async function runTestnet (argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    routers: { type: 'string' },
    exit: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' }
  })
  if (values.help === true) { process.stdout.write(HELP); return 0 }
  const n = positiveInt('routers', values.routers, 3, 32)
  const base = await mkdtemp(join(tmpdir(), 'umbra-testnet-'))
  const routers: Router[] = []
  try {
    for (let i = 0; i < n; i++) {
      routers.push(await Router.start({ dataDir: join(base, `router-${i}`), listen: ['udp://127.0.0.1:0', 'tcp://127.0.0.1:0', 'http://127.0.0.1:0/umbra'], network: 'testnet' }))
      console.log(`router ${i}  ${routers[i]!.idHex.slice(0, 12)}  ${routers[i]!.addresses.join('  ')}`)
    }
    for (const r of routers) {
      r.links.onMessage = (_peer, msg, link) => { if (msg[0] === 0x01) link.send(Uint8Array.of(0x02, ...msg.subarray(1))) }
    }
    let k = 0
    const started = performance.now()
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const scheme = SCHEMES[k++ % SCHEMES.length]!
        const b = routers[j]!
        const contact = { ...b.contact(), addresses: b.addresses.filter(x => x.startsWith(scheme + ':')) }
        const t0 = performance.now()
        const link = await routers[i]!.links.connect(contact, { signal: AbortSignal.timeout(15_000) })
        const rtt = await roundTrip(routers[i]!, link)
        console.log(`link router ${i} <-> router ${j} over ${link.transport}: up in ${(performance.now() - t0).toFixed(1)} ms, round trip ${rtt.toFixed(2)} ms`)
      }
    }
    console.log(`all ${n * (n - 1) / 2} links up and checked in ${(performance.now() - started).toFixed(0)} ms`)
    if (values.exit !== true) {
      console.log('testnet running; press Ctrl-C to stop')
      await untilStopped()
    }
    return 0
  } finally {
    await Promise.allSettled(routers.map(async r => { await r.stop() }))
    await rm(base, { recursive: true, force: true })
    console.log('testnet stopped; temporary data removed')
  }
}

async function roundTrip (r: Router, link: import('../link/link.ts').Link): Promise<number> {
  const t0 = performance.now()
  const prev = r.links.onMessage
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('round trip timed out')) }, 10_000)
    r.links.onMessage = (peer, msg, l) => {
      if (l === link && msg[0] === 0x02) { clearTimeout(timer); r.links.onMessage = prev; resolve(); return }
      prev(peer, msg, l)
    }
    link.send(Uint8Array.of(0x01, 1, 2, 3))
  })
  return performance.now() - t0
}
