/**
 * Handshake CPU cost: the pure Noise XK state machines (no sockets), per side, in µs per
 * handshake (median of runs). Separates crypto cost from connection cost in `bench link`.
 *   npm run bench -- handshake [--json] [--runs 5]
 */
import { loadCrypto } from '../src/crypto/index.ts'
import { HEAD_BYTES, InitiatorHandshake, ResponderHandshake } from '../src/link/handshake.ts'
import { median, type report as Report } from './report.ts'

export async function run (args: string[], report: typeof Report): Promise<void> {
  const runs = Number(args[args.indexOf('--runs') + 1] ?? 5) || 5
  const c = await loadCrypto()
  const si = c.x25519Keypair()
  const sr = c.x25519Keypair()
  const info = new Uint8Array(300)
  const cfg = { crypto: c, prologue: new TextEncoder().encode('umbra/link/1 bench') }
  const n = 300
  const ini: number[] = []
  const resp: number[] = []
  for (let r = 0; r < runs; r++) {
    let ti = 0
    let tr = 0
    for (let k = 0; k < n; k++) {
      const now = Date.now()
      let t = performance.now()
      const i = new InitiatorHandshake(cfg, si, sr.publicKey, info)
      const m1 = i.write1(now)
      ti += performance.now() - t; t = performance.now()
      const h = new ResponderHandshake(cfg, sr)
      const p1 = h.read1Head(m1.subarray(0, HEAD_BYTES), now)
      h.read1Pad(m1.subarray(HEAD_BYTES, HEAD_BYTES + p1))
      const m2 = h.write2(now)
      tr += performance.now() - t; t = performance.now()
      i.read2Whole(m2, now)
      const { msg } = i.write3()
      ti += performance.now() - t; t = performance.now()
      h.read3(msg)
      tr += performance.now() - t
    }
    ini.push(ti / n * 1000)
    resp.push(tr / n * 1000)
  }
  report('handshake', 'noise xk, pure', 'initiator cpu per handshake', median(ini), 'us', `(median of ${runs}; ${n} each)`)
  report('handshake', 'noise xk, pure', 'responder cpu per handshake', median(resp), 'us', '(RouterInfo verify not included)')
}
