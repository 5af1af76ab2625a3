// Tunnels between real routers over TCP, UDP and HTTP on 127.0.0.1: a router builds 3-hop
// inbound and outbound tunnels and sends messages through them; transit routers only ever
// handle ciphertext; a cell altered by a hop is dropped at the endpoint; a replayed cell is
// dropped at the hop; a build through an unreachable router times out and is counted.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { startNetwork, until } from './fixtures.ts'
import { DeliveryKind, encodeTunnelMessage } from '../../src/tunnel/delivery.ts'
import { TunnelType } from '../../src/tunnel/messages.ts'
import type { Router } from '../../src/router/router.ts'
import type { InboundTunnel, OutboundTunnel } from '../../src/tunnel/tunnel.ts'

function contains (hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(Buffer.from(needle)) >= 0
}

/** Builds a 3-hop tunnel each way; a build whose message was lost (links still settling) is retried, as pools do. */
async function tunnels (a: Router, n = 3): Promise<{ inb: InboundTunnel, out: OutboundTunnel }> {
  const hops = a.hopCandidates()
  const retry = async <T>(fn: () => Promise<T>): Promise<T> => {
    for (let i = 0; ; i++) {
      try { return await fn() } catch (err) { if (i >= 2 || (err as Error).name !== 'TimeoutError') throw err }
    }
  }
  const inb = await retry(async () => await a.tunnels.buildInbound(hops.slice(0, n), undefined))
  const out = await retry(async () => await a.tunnels.buildOutbound(hops.slice(n, 2 * n), inb))
  return { inb, out }
}

function sendLoop (a: Router, out: OutboundTunnel, inb: InboundTunnel, data: Uint8Array): void {
  const gw = inb.gateway(a.id)
  a.tunnels.sendOut(out, [{ kind: DeliveryKind.TUNNEL, router: gw.id, tunnelId: gw.tunnelId, data: encodeTunnelMessage({ kind: DeliveryKind.LOCAL, data }) }])
}

t.test('3-hop tunnels over mixed transports carry messages; transit routers see only ciphertext', async (t) => {
  const net = await startNetwork(t, 7)
  const a = net[0]!
  const { inb, out } = await tunnels(a)
  t.equal(inb.length, 3, 'inbound tunnel of 3 hops')
  t.equal(out.length, 3, 'outbound tunnel of 3 hops')
  t.equal(new Set([...inb.hops, ...out.hops].map(h => h.idHex)).size, 6, 'six distinct hops, none of them the creator')
  t.notOk([...inb.hops, ...out.hops].some(h => h.idHex === a.idHex), 'the creator is not a hop')

  const marker = randomBytes(24)
  const seen: string[] = []
  for (const r of net.slice(1)) {
    r.tunnels.onTransitCell = (role, cell) => { if (role !== 'endpoint' && contains(cell, marker)) seen.push(`${r.idHex.slice(0, 8)} ${role}`) }
  }
  const got: Uint8Array[] = []
  inb.onMessage = (d) => { got.push(d) }
  const small = Buffer.concat([marker, Buffer.from(' small')])
  const big = Buffer.concat([marker, randomBytes(1200), marker])
  sendLoop(a, out, inb, small)
  sendLoop(a, out, inb, big)
  t.ok(await until(() => got.length === 2), 'both messages came back through the inbound tunnel')
  t.same(got.map(g => Buffer.from(g).toString('hex')).sort(), [small, big].map(g => g.toString('hex')).sort(), 'byte-identical (one cell and two cells)')
  t.same(seen, [], 'no participant or gateway ever handled the plaintext')
  const carried = net.slice(1).reduce((n, r) => n + r.tunnels.stats.transitCells, 0)
  t.ok(carried >= 2 * 6, `transit hops processed cells (${carried})`)
})

t.test('a cell altered by a hop is dropped at the endpoint; a replayed cell is dropped at the hop', async (t) => {
  const net = await startNetwork(t, 7)
  const a = net[0]!
  const { inb, out } = await tunnels(a)
  const got: Uint8Array[] = []
  inb.onMessage = (d) => { got.push(d) }

  // Tamper: the middle hop of the inbound tunnel flips one bit of the next cell it forwards.
  const mid = net.find(r => r.idHex === inb.hops[1]!.idHex)!
  let flipped = false
  mid.tunnels.onTransitCell = (_role, cell) => { if (!flipped) { cell[500]! ^= 1; flipped = true } }
  sendLoop(a, out, inb, Buffer.from('tampered'))
  t.ok(await until(() => a.tunnels.stats.badMac === 1), 'the endpoint (creator) dropped the altered cell')
  t.same(got, [], 'nothing delivered from it')

  // Replay: a hop of the outbound tunnel gets the same DATA message twice.
  const hop = net.find(r => r.idHex === out.hops[0]!.idHex)!
  let captured: { from: Uint8Array, msg: Uint8Array } | undefined
  const orig = hop.links.onMessage
  hop.links.onMessage = (peer, msg, link) => {
    if (captured === undefined && msg[0] === TunnelType.DATA) captured = { from: peer.id, msg: msg.slice() }
    orig(peer, msg, link)
  }
  sendLoop(a, out, inb, Buffer.from('once'))
  t.ok(await until(() => got.length === 1 && captured !== undefined), 'the message arrived once')
  hop.tunnels.handle(captured!.from, captured!.msg)
  t.equal(hop.tunnels.stats.replayed, 1, 'the hop dropped the replayed cell')
  await new Promise(resolve => setTimeout(resolve, 200))
  t.equal(got.length, 1, 'and nothing arrived twice')
})

t.test('a build through a router that went away times out; the hops are profiled', async (t) => {
  const net = await startNetwork(t, 5, { tunnels: { buildTimeoutMs: 1500 } })
  const a = net[0]!
  const hops = a.hopCandidates()
  const gone = net.find(r => r.idHex === hops[1]!.idHex)!
  await gone.stop()
  await t.rejects(a.tunnels.buildInbound(hops.slice(0, 3), undefined), { name: 'TimeoutError' }, 'typed timeout')
  t.equal(a.tunnels.stats.buildTimeouts, 1, 'counted')
  t.ok(a.tunnels.profiles.weight(hops[0]!.idHex) < 0.5, 'hops of a failed build weigh less than unknown routers')
})

t.test('an outbound endpoint that is also the reply tunnel\'s gateway accepts and answers locally', async (t) => {
  const net = await startNetwork(t, 4)
  const a = net[0]!
  const [x, y, z] = a.hopCandidates()
  const inb = await a.tunnels.buildInbound([x!, y!], undefined)
  t.equal(Buffer.from(inb.gateway(a.id).id).toString('hex'), x!.idHex, 'the reply tunnel\'s gateway is X')
  const out = await a.tunnels.buildOutbound([z!, x!], inb)
  t.equal(out.length, 2, 'the outbound tunnel ending at X was built (X hands the reply to its own gateway)')
  const got: Uint8Array[] = []
  inb.onMessage = (d) => { got.push(d) }
  sendLoop(a, out, inb, Buffer.from('loop through X twice'))
  t.ok(await until(() => got.length === 1), 'a message goes out through it and back')
})

t.test('partial messages from tunnel owners: the outbound endpoint holds at most the router-wide budget', async (t) => {
  const budget = 16 * 1024
  const net = await startNetwork(t, 7, { tunnels: { maxReassemblyBytes: budget } })
  const a = net[0]!
  const { inb, out } = await tunnels(a)
  const hops = a.hopCandidates()
  const out2 = await a.tunnels.buildOutbound(hops.slice(3, 6), inb)
  const endpoint = net.find(r => r.idHex === out.hops[2]!.idHex)!
  t.equal(out2.hops[2]!.idHex, endpoint.idHex, 'both outbound tunnels end at the same router')

  // A hostile owner: every message's last cell is never sent, so the endpoint holds the rest.
  const mgr = a.tunnels as unknown as { packCells: (msgs: Uint8Array[]) => { cells: Uint8Array[], nonces: Uint8Array } }
  const pack = mgr.packCells.bind(a.tunnels)
  mgr.packCells = (msgs) => {
    const { cells, nonces } = pack(msgs)
    return { cells: cells.slice(0, -1), nonces: nonces.subarray(0, 16 * (cells.length - 1)) }
  }
  const gw = inb.gateway(a.id)
  const partial = (tunnel: OutboundTunnel): void => {
    a.tunnels.sendOut(tunnel, [{ kind: DeliveryKind.TUNNEL, router: gw.id, tunnelId: gw.tunnelId, data: encodeTunnelMessage({ kind: DeliveryKind.LOCAL, data: randomBytes(3000) }) }])
  }
  for (let i = 0; i < 12; i++) { partial(out); await new Promise(resolve => setTimeout(resolve, 5)) }
  t.ok(await until(() => endpoint.tunnels.reassembly.bytes > budget / 2), `the endpoint holds partial messages (${endpoint.tunnels.reassembly.bytes} bytes)`)
  await new Promise(resolve => setTimeout(resolve, 200))
  t.ok(endpoint.tunnels.reassembly.bytes <= budget, `12 partial messages of ~3 KB: at most the budget held (${endpoint.tunnels.reassembly.bytes} of ${budget})`)
  for (let i = 0; i < 3; i++) partial(out2)
  t.ok(await until(() => endpoint.tunnels.reassembly.refused > 0), 'the second tunnel cannot take the first one\'s room: refused')
  t.ok(endpoint.tunnels.reassembly.bytes <= budget, 'still within the budget')

  // An honest message through the first tunnel still gets through (its own oldest makes room).
  mgr.packCells = pack
  const got: Uint8Array[] = []
  inb.onMessage = (d) => { got.push(d) }
  const msg = randomBytes(3000)
  sendLoop(a, out, inb, msg)
  t.ok(await until(() => got.some(g => Buffer.from(g).equals(msg))), 'a whole message through the same tunnel still arrives')
})
