// Stream packet sizes against the hard limits they must meet: a full packet in a garlic
// new-session message with the largest LeaseSet bundled still fits a gateway message, for the
// default MSS and the zero-hop one; the default MSS fills 8 cells at the outbound gateway, by
// arithmetic and by packing a sealed, wrapped full packet.
import t from 'tap'
import { establish, peer, suite, NOW } from '../garlic/fixtures.ts'
import { defaultMss, zeroHopMss, STREAM_PACKET_CELLS } from '../../src/router/session.ts'
import { MAX_LEASE_SET_BYTES } from '../../src/identity/lease-set.ts'
import { DeliveryKind, encodeTunnelMessage } from '../../src/tunnel/delivery.ts'
import { encodeGateway, MAX_GATEWAY_MESSAGE } from '../../src/tunnel/messages.ts'
import { MAX_FRAGMENT_DATA, packMessages } from '../../src/tunnel/fragment.ts'
import { MAX_SPLIT_MESSAGE } from '../../src/link/datagram-carrier.ts'
import { CLOVE_HEADER } from '../../src/router/clove.ts'
import { HEADER_BYTES as STREAM_HEADER_BYTES } from '../../src/streaming/packet.ts'

t.test('a full packet in a new-session message with the largest LeaseSet fits a gateway message', async t => {
  const c = await suite('mss')
  const b = peer(c)
  for (const mss of [defaultMss(), zeroHopMss()]) {
    // A fresh sender each time: its first message is a new-session one, the largest kind.
    const payload = c.randomBytes(CLOVE_HEADER + STREAM_HEADER_BYTES + mss + 16)
    const ns = peer(c).g.seal(b.keys.destination, payload, NOW, c.randomBytes(MAX_LEASE_SET_BYTES))
    const gw = encodeGateway(7, encodeTunnelMessage({ kind: DeliveryKind.LOCAL, data: ns }))
    t.ok(gw.length > 0, `MSS ${mss}: a gateway message of ${gw.length} bytes`)
  }
  const over = c.randomBytes(CLOVE_HEADER + STREAM_HEADER_BYTES + zeroHopMss() + 16 + 1)
  const ns = peer(c).g.seal(b.keys.destination, over, NOW, c.randomBytes(MAX_LEASE_SET_BYTES))
  t.throws(() => encodeGateway(7, encodeTunnelMessage({ kind: DeliveryKind.LOCAL, data: ns })), 'one byte more does not fit: the zero-hop MSS is the largest')
  t.ok(MAX_GATEWAY_MESSAGE >= 8192)
  const largest = encodeGateway(7, Uint8Array.from([DeliveryKind.LOCAL, ...new Uint8Array(MAX_GATEWAY_MESSAGE - 1)]))
  t.ok(largest.length <= MAX_SPLIT_MESSAGE, `the largest gateway message (${largest.length} bytes) fits a datagram link's ${MAX_SPLIT_MESSAGE}`)
})

t.test('the default MSS fills 8 cells of fragment data at the outbound gateway', async t => {
  t.equal(STREAM_PACKET_CELLS, 8)
  t.equal(defaultMss(), 7765)
  t.equal(defaultMss() - defaultMss(1), 7 * MAX_FRAGMENT_DATA, 'each cell more adds one cell of data')
  t.ok(zeroHopMss() > defaultMss(), `zero-hop ${zeroHopMss()} > ${defaultMss()}`)
})

t.test('a full packet, sealed and wrapped as the session sends it, packs into exactly 8 cells', async t => {
  const c = await suite('mss-pack')
  const a = peer(c)
  const b = peer(c)
  establish(a, b)
  // The largest packet: the stream header, MSS bytes of data and 16 bytes of SACK and options,
  // in a clove, in an existing-session garlic message, delivered LOCAL at an inbound gateway
  // reached through an outbound tunnel (DELIVER_TUNNEL), as DestinationSession.sendVia does.
  const cellsFor = (extra: number): number => {
    const payload = c.randomBytes(CLOVE_HEADER + STREAM_HEADER_BYTES + defaultMss() + 16 + extra)
    const es = a.g.seal(b.keys.destination, payload, NOW)
    const msg = encodeTunnelMessage({ kind: DeliveryKind.TUNNEL, router: new Uint8Array(32), tunnelId: 7, data: encodeTunnelMessage({ kind: DeliveryKind.LOCAL, data: es }) })
    return packMessages([msg], () => 1).length
  }
  t.equal(cellsFor(0), STREAM_PACKET_CELLS, 'a full packet fills 8 cells')
  t.equal(cellsFor(1), STREAM_PACKET_CELLS + 1, 'one byte more takes a ninth')
})
