/**
 * Randomised two-peer simulation: loss, reordering, duplication, delays and restarts, then a
 * lossless phase. Nothing throws, nothing is delivered twice or from the wrong sender, and the
 * peers converge so that every message of the lossless phase arrives.
 */
import t, { type Test } from 'tap'
import { Garlic } from '../../src/garlic/garlic.ts'
import { prng } from '../fixtures/prng.ts'
import { NOW, peer, suite, type Peer } from './fixtures.ts'

const c = await suite('garlic-sim')

interface Packet { to: 0 | 1, bytes: Uint8Array }

interface Chaos { loss: number, maxDelayMs: number, restarts: number, settleRounds: number }

function simulate (t: Test, seed: number, chaos: Chaos): void {
  const rnd = prng(seed)
  const peers: Peer[] = [peer(c, { tagWindow: 32, nsResendMs: 3000 }), peer(c, { tagWindow: 32, nsResendMs: 3000 })]
  const delivered: Array<Set<number>> = [new Set(), new Set()]
  const net: Packet[] = []
  let now = NOW
  let counter = 0
  let problems = 0

  const send = (from: 0 | 1): number => {
    const id = ++counter
    const p = Uint8Array.of(from, id >>> 16, (id >>> 8) & 0xff, id & 0xff)
    const to = (1 - from) as 0 | 1
    net.push({ to, bytes: peers[from]!.g.seal(peers[to]!.keys.destination, p, now) })
    return id
  }
  const deliver = (k: number): number | undefined => {
    const [pkt] = net.splice(k, 1)
    if (pkt === undefined) return undefined
    const r = peers[pkt.to]!.g.open(pkt.bytes, now)
    if (r === undefined) return undefined
    const from = r.payload[0]!
    const id = (r.payload[1]! << 16) | (r.payload[2]! << 8) | r.payload[3]!
    if (from !== 1 - pkt.to || r.from === undefined || Buffer.compare(r.from.bytes, peers[from]!.keys.destination.bytes) !== 0) problems++
    if (delivered[pkt.to]!.has(id)) problems++
    delivered[pkt.to]!.add(id)
    return id
  }

  for (let step = 0; step < 2500; step++) {
    const x = rnd()
    if (x < 0.22) send(0)
    else if (x < 0.44) send(1)
    else if (x < 0.74) {
      const k = Math.floor(rnd() * net.length)
      if (rnd() < chaos.loss) net.splice(k, 1) // lost
      else deliver(k)
    } else if (x < 0.78) {
      const p = net[Math.floor(rnd() * net.length)]
      if (p !== undefined) net.push({ to: p.to, bytes: p.bytes.slice() }) // duplicated
    } else if (x < 0.9) {
      now += Math.floor(rnd() * chaos.maxDelayMs)
      for (const p of peers) p.g.tick(now)
    } else if (x < 0.9 + chaos.restarts) {
      const i = rnd() < 0.5 ? 0 : 1
      peers[i] = { keys: peers[i]!.keys, g: new Garlic(c, peers[i]!.keys, { tagWindow: 32, nsResendMs: 3000 }) }
      delivered[i] = new Set() // a restarted peer has no replay memory (documented)
    }
  }
  // Lossless phase: flush, then alternate.
  while (net.length > 0) deliver(Math.floor(rnd() * net.length))
  // A peer answering a handshake the other side no longer holds gives up after 15 s (replyTimeoutMs).
  let lateLosses = 0
  for (let round = 0; round < 40; round++) {
    now += 1000
    for (const from of [0, 1] as const) {
      const id = send(from)
      const got = deliver(net.length - 1)
      if (round >= chaos.settleRounds && got !== id) lateLosses++
    }
  }
  t.equal(problems, 0, `seed ${seed}: no duplicate or misattributed delivery`)
  t.equal(lateLosses, 0, `seed ${seed}: converged: every lossless message after ${chaos.settleRounds} s arrives`)
  t.ok(peers[0]!.g.stats.opened >= 20 && peers[1]!.g.stats.opened >= 20, `seed ${seed}: traffic flowed`)
}

t.test('mild: 10% loss, reordering, duplication: converged as soon as the backlog is flushed', async t => {
  for (const seed of [1, 2, 3, 4, 5, 6]) simulate(t, seed, { loss: 0.1, maxDelayMs: 300, restarts: 0, settleRounds: 0 })
})

t.test('harsh: 20% loss, minutes of delay, restarts: converged within the reply timeout', async t => {
  for (const seed of [1, 2, 3, 4, 5, 6]) simulate(t, seed, { loss: 0.2, maxDelayMs: 2000, restarts: 0.003, settleRounds: 20 })
})
