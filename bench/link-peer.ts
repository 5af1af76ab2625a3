/**
 * The receiving side of bench/link.ts, run as its own process: a router listening on one
 * transport (argv: listen address, optional UDP loopback MTU). Prints `INFO <base64 RouterInfo>`; on a control message [0xff, n u32] it times the
 * next n messages (first to last) and prints `DONE <n> <ms> <bytes>`.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Router } from '../src/router/router.ts'

const listen = process.argv[2] ?? 'tcp://127.0.0.1:0'
const dataDir = await mkdtemp(join(tmpdir(), 'umbra-bench-'))
const mtu = Number(process.argv[3])
const router = await Router.start({ dataDir, listen: [listen], network: 'bench', ...(mtu > 0 ? { udp: { loopbackMtu: mtu } } : {}) })
let expect = 0
let got = 0
let bytes = 0
let t0 = 0
router.links.onMessage = (_peer, m) => {
  if (m[0] === 0xff && m.length === 5) {
    expect = new DataView(m.buffer, m.byteOffset).getUint32(1); got = 0; bytes = 0; t0 = 0
    return
  }
  if (got === 0) t0 = performance.now()
  got++
  bytes += m.length
  if (got === expect) process.stdout.write(`DONE ${got} ${(performance.now() - t0).toFixed(3)} ${bytes}\n`)
}
process.stdout.write(`INFO ${Buffer.from(router.info.raw).toString('base64')}\n`)
// However the router's stop goes, the process ends within 10 s of being told to.
const stop = async (): Promise<void> => {
  setTimeout(() => { process.exit(1) }, 10_000).unref()
  await router.stop(); await rm(dataDir, { recursive: true, force: true }); process.exit(0)
}
process.on('SIGTERM', () => { void stop() })
process.stdin.on('end', () => { void stop() })
process.stdin.resume()
