// Two destinations on different routers, over 3-hop tunnels across TCP, UDP and HTTP links on
// 127.0.0.1: a stream carries bytes both ways unchanged, both datagram kinds arrive (repliable
// ones name and prove their sender, raw ones do not), and no transit router ever handles the
// payload or either destination's keys in any cell.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { drain, startNetwork, until } from './fixtures.ts'
import { maxDatagramPayload, type Datagram } from '../../src/router/session.ts'
import { LimitError } from '../../src/util/errors.ts'

function contains (hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(Buffer.from(needle)) >= 0
}

t.test('streams and datagrams between destinations on different routers', async (t) => {
  const net = await startNetwork(t, 7, { pool: { length: 3, quantity: 2 } })
  const marker = randomBytes(16)
  const leaks: string[] = []
  const [alice, bob] = await Promise.all([net[0]!.createDestination(), net[1]!.createDestination()])
  const secrets = [marker, alice.destination.signingKey, bob.destination.signingKey, alice.destination.encryptionKey, bob.destination.encryptionKey]
  for (const r of net) {
    r.tunnels.onTransitCell = (role, cell) => {
      secrets.forEach((s, i) => { if (contains(cell, s)) leaks.push(`${r.idHex.slice(0, 8)} ${role} saw secret ${i}`) })
    }
  }

  // A stream: alice sends 1 MiB (with the marker in it), bob answers with 1 MiB.
  const up = Buffer.concat([marker, randomBytes(1024 * 1024 - 16)])
  const down = randomBytes(1024 * 1024)
  let bobGot: Promise<Buffer> | undefined
  bob.listen(80, (s) => {
    bobGot = drain(s)
    s.end(down)
  })
  const s = await alice.connect(bob.address, { toPort: 80 })
  const aliceGot = drain(s)
  s.end(up)
  const [gotDown, gotUp] = [await aliceGot, await (await until(() => bobGot !== undefined), bobGot!)]
  t.equal(createHash('sha256').update(gotUp).digest('hex'), createHash('sha256').update(up).digest('hex'), 'alice → bob byte-identical (1 MiB)')
  t.equal(createHash('sha256').update(gotDown).digest('hex'), createHash('sha256').update(down).digest('hex'), 'bob → alice byte-identical (1 MiB)')
  t.equal(s.toPort, 80, 'the stream reports the port it was opened to')

  // Datagrams, both kinds.
  const got: Datagram[] = []
  bob.onDatagram = (d) => { got.push(d) }
  await alice.sendDatagram(bob.address, Buffer.concat([marker, Buffer.from('repliable')]), { fromPort: 5, toPort: 9 })
  await alice.sendDatagram(bob.address, Buffer.concat([marker, Buffer.from('raw')]), { toPort: 9, raw: true })
  t.ok(await until(() => got.length === 2), 'both datagrams arrived')
  const rep = got.find(d => d.from !== undefined)
  const raw = got.find(d => d.from === undefined)
  t.ok(rep !== undefined && Buffer.from(rep.from!.bytes).equals(Buffer.from(alice.destination.bytes)), 'the repliable datagram names (and proves) alice')
  t.same([rep?.fromPort, rep?.toPort, rep?.protocol], [5, 9, 17], 'ports and protocol of the repliable datagram')
  t.ok(raw !== undefined && Buffer.from(raw.payload).subarray(16).toString() === 'raw' && raw.protocol === 18, 'the raw datagram arrived without a sender')

  // The largest datagrams of each kind (maxDatagramPayload) arrive through tunnels, the
  // repliable one as carol's first message to bob (new session, her LeaseSet bundled); one byte
  // more is refused at the sender, not dropped on the way.
  const carol = await net[2]!.createDestination()
  const big: Datagram[] = []
  bob.onDatagram = (d) => { big.push(d) }
  const signed = randomBytes(maxDatagramPayload(false))
  const rawBig = randomBytes(maxDatagramPayload(true))
  await carol.sendDatagram(bob.address, signed, { toPort: 7 })
  await carol.sendDatagram(bob.address, rawBig, { raw: true, toPort: 8 })
  t.ok(await until(() => big.length === 2), `the largest repliable (${signed.length} bytes) and raw (${rawBig.length} bytes) datagrams arrived through tunnels`)
  const bigRep = big.find(d => d.toPort === 7)
  t.ok(bigRep !== undefined && Buffer.from(bigRep.payload).equals(signed) && bigRep.from !== undefined &&
    Buffer.from(bigRep.from.bytes).equals(Buffer.from(carol.destination.bytes)), 'the repliable one is whole and names carol')
  t.ok(Buffer.from(big.find(d => d.toPort === 8)?.payload ?? []).equals(rawBig), 'the raw one is whole')
  await t.rejects(carol.sendDatagram(bob.address, randomBytes(signed.length + 1)), LimitError, 'one byte more is refused (repliable)')
  await t.rejects(carol.sendDatagram(bob.address, randomBytes(rawBig.length + 1), { raw: true }), LimitError, 'one byte more is refused (raw)')

  const transit = net.reduce((n, r) => n + r.tunnels.stats.transitCells, 0)
  t.ok(transit > 2 * 1024 * 5, `transit routers carried the traffic (${transit} cells)`)
  t.same(leaks, [], 'no transit router ever handled the payload or a destination key')
})
