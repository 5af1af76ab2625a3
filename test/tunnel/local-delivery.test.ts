// Two destinations on one router (3-hop tunnels, routers over TCP, UDP and HTTP on 127.0.0.1):
// what one sends the other gets inside the router, with no garlic and no cells, unchanged and
// in order; a destination of another router is still reached through tunnels; a closed
// destination gets nothing; a flood is bounded, and another sender still gets through; a
// message that would not always fit a gateway message through tunnels is dropped, as the
// tunnel path would drop it; raw datagrams may not take the stream or repliable numbers.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { drain, startNetwork, until } from './fixtures.ts'
import { LOCAL_SENDER_SHARE, MAX_LOCAL_INBOX, maxDatagramPayload, type Datagram } from '../../src/router/session.ts'
import { ConfigError, LimitError } from '../../src/util/errors.ts'
import type { Router } from '../../src/router/router.ts'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const transitCells = (net: Router[]): number => net.reduce((n, r) => n + r.tunnels.stats.transitCells, 0)

t.test('destinations of one router talk inside it; others still through tunnels', async (t) => {
  const net = await startNetwork(t, 5, { pool: { length: 3, quantity: 2 } })
  const [alice, bob, carol, dave] = await Promise.all([net[0]!.createDestination(), net[0]!.createDestination(), net[1]!.createDestination(), net[0]!.createDestination()])

  // A stream both ways, 1 MiB each: over 3+3 hops that is over 6 000 transit cells.
  const cellsBefore = transitCells(net)
  const up = randomBytes(1024 * 1024)
  const down = randomBytes(1024 * 1024)
  let bobGot: Promise<Buffer> | undefined
  bob.listen(80, (s) => { bobGot = drain(s); s.end(down) })
  const s = await alice.connect(bob.address, { toPort: 80 })
  const aliceGot = drain(s)
  s.end(up)
  const gotDown = await aliceGot
  t.ok(await until(() => bobGot !== undefined), 'bob accepted the stream')
  t.equal(sha(await bobGot!), sha(up), 'alice → bob byte-identical (1 MiB)')
  t.equal(sha(gotDown), sha(down), 'bob → alice byte-identical (1 MiB)')

  // Both datagram kinds.
  const got: Datagram[] = []
  bob.onDatagram = (d) => { got.push(d) }
  await alice.sendDatagram(bob.address, Buffer.from('repliable'), { fromPort: 5, toPort: 9 })
  await alice.sendDatagram(bob.address, Buffer.from('raw'), { toPort: 9, raw: true })
  t.ok(await until(() => got.length === 2), 'both datagrams arrived')
  const rep = got.find(d => d.from !== undefined)
  const raw = got.find(d => d.from === undefined)
  t.ok(rep !== undefined && Buffer.from(rep.from!.bytes).equals(Buffer.from(alice.destination.bytes)), 'the repliable datagram names alice')
  t.same([rep?.fromPort, rep?.toPort, rep?.protocol, Buffer.from(rep?.payload ?? []).toString()], [5, 9, 17, 'repliable'], 'ports, protocol and payload of the repliable datagram')
  t.same([raw?.protocol, Buffer.from(raw?.payload ?? []).toString()], [18, 'raw'], 'the raw datagram arrived without a sender')

  const cells = transitCells(net) - cellsBefore
  t.ok(cells < 1000, `no tunnel carried it: ${cells} transit cells in the whole network meanwhile (background only)`)
  t.ok(alice.stats.local > 100 && bob.stats.local > 100, `both handed messages over inside the router (alice ${alice.stats.local}, bob ${bob.stats.local})`)

  // Carol is on another router: through tunnels, as before.
  const carolGot: Datagram[] = []
  carol.onDatagram = (d) => { carolGot.push(d) }
  const local = alice.stats.local
  const before = transitCells(net)
  await alice.sendDatagram(carol.address, Buffer.from('to carol'), { toPort: 1 })
  t.ok(await until(() => carolGot.length === 1), 'carol got a datagram from alice')
  t.equal(alice.stats.local, local, 'not handed over locally')
  t.ok(transitCells(net) > before, 'it went through tunnels')

  // The same size rule as through tunnels (maxDatagramPayload): a repliable datagram counts the
  // new-session overhead and the largest LeaseSet (as its first message to a remote carries
  // them), a raw one only its own overhead. Larger ones are refused at once.
  const n = got.length
  const rawMax = maxDatagramPayload(true)
  const signedMax = maxDatagramPayload(false)
  await t.rejects(alice.sendDatagram(bob.address, randomBytes(rawMax + 1), { raw: true }), LimitError, `a raw datagram over ${rawMax} bytes is refused`)
  await t.rejects(alice.sendDatagram(bob.address, randomBytes(signedMax + 1), { toPort: 2 }), LimitError, `a repliable one over ${signedMax} bytes is refused`)
  await alice.sendDatagram(bob.address, randomBytes(signedMax), { toPort: 4 })
  await alice.sendDatagram(bob.address, randomBytes(rawMax), { raw: true, toPort: 3 })
  t.ok(await until(() => got.length === n + 2), 'the largest of each kind arrived')
  t.same(got.slice(n).map(d => [d.toPort, d.payload.length]), [[4, signedMax], [3, rawMax]], 'in order, whole')
  await t.rejects(alice.sendDatagram(bob.address, Buffer.from('x'), { raw: true, protocol: 17 }), ConfigError, 'a raw datagram may not take the repliable number')

  // A flood from one sender is bounded to its share of the inbox, delivered in order, and
  // another sender's datagram still gets through.
  const m = got.length
  const bobDropped = bob.stats.dropped
  const share = MAX_LOCAL_INBOX * LOCAL_SENDER_SHARE
  const flood = Array.from({ length: share + 50 }, async (_, i) => { await alice.sendDatagram(bob.address, Buffer.from(String(i)), { raw: true, toPort: 7 }) })
  const daves = dave.sendDatagram(bob.address, Buffer.from('dave'), { raw: true, toPort: 8 })
  await Promise.all([...flood, daves])
  t.ok(await until(() => got.length === m + share + 1), `${share} of the flood and dave's datagram arrived`)
  const fromFlood = got.slice(m).filter(d => d.toPort === 7).map(d => Number(Buffer.from(d.payload).toString()))
  t.same(fromFlood, Array.from({ length: share }, (_, i) => i), 'the first of the flood, in order')
  t.ok(got.slice(m).some(d => d.toPort === 8), 'dave got through during the flood')
  t.equal(bob.stats.dropped, bobDropped + 50, 'the 50 beyond the share were dropped')

  // Bob closes: alice's messages no longer reach him, and nothing breaks.
  await net[0]!.closeDestination(bob)
  const k = got.length
  await alice.sendDatagram(bob.address, Buffer.from('late'), { raw: true }).catch(() => {})
  await new Promise(resolve => setTimeout(resolve, 200))
  t.equal(got.length, k, 'a closed destination gets nothing')
  await alice.sendDatagram(carol.address, Buffer.from('still'), { toPort: 1 })
  t.ok(await until(() => carolGot.length === 2), 'alice still reaches carol')
})

t.test('a destination created with localDelivery: false talks to its router\'s others through tunnels', async (t) => {
  const net = await startNetwork(t, 5, { pool: { length: 3, quantity: 2 } })
  const [alice, hermit] = await Promise.all([net[0]!.createDestination(), net[0]!.createDestination({ localDelivery: false })])
  t.equal(hermit.localDelivery, false, 'the option is kept')
  const aliceGot: Datagram[] = []
  const hermitGot: Datagram[] = []
  alice.onDatagram = (d) => { aliceGot.push(d) }
  hermit.onDatagram = (d) => { hermitGot.push(d) }
  const before = transitCells(net)
  // To it from a destination that takes local delivery, and from it: both through tunnels.
  await alice.sendDatagram(hermit.address, Buffer.from('to the hermit'), { toPort: 1 })
  await hermit.sendDatagram(alice.address, Buffer.from('from the hermit'), { toPort: 2 })
  t.ok(await until(() => aliceGot.length === 1 && hermitGot.length === 1, 20_000), 'both datagrams arrived')
  t.same([Buffer.from(hermitGot[0]?.payload ?? []).toString(), Buffer.from(aliceGot[0]?.payload ?? []).toString()], ['to the hermit', 'from the hermit'], 'whole')
  t.equal(alice.stats.local + hermit.stats.local, 0, 'neither was handed over inside the router')
  t.ok(transitCells(net) - before >= 6, `they went through tunnels (${transitCells(net) - before} transit cells)`)

  // A stream between them too.
  const up = randomBytes(64 * 1024)
  let got: Promise<Buffer> | undefined
  hermit.listen(80, (s) => { got = drain(s); s.end() })
  const s = await alice.connect(hermit.address, { toPort: 80 })
  const closed = drain(s)
  s.end(up)
  t.ok(await until(() => got !== undefined, 20_000), 'the hermit accepted a stream from alice')
  t.equal(sha(await got!), sha(up), 'its 64 KiB arrived whole, through tunnels')
  t.equal((await closed).length, 0, 'and the stream closed both ways')
  t.equal(alice.stats.local + hermit.stats.local, 0, 'still nothing handed over inside')
})
