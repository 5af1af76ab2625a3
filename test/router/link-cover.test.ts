/**
 * Link chaff: the driver (src/router/link-cover.ts) with a scripted link and clock — chaff of the
 * size of a one-cell TUNNEL_DATA message, displaced by real cells, stopped by back-pressure —
 * then two routers over real UDP and TCP sockets on 127.0.0.1, where the chaff of one arrives
 * at the other, is counted and dropped before any layer sees it, and a router with cover off
 * sends none.
 */
import t from 'tap'
import type { Link } from '../../src/link/link.ts'
import { COVER_MESSAGE_BYTES, LINK_COVER, LinkCover } from '../../src/router/link-cover.ts'
import { encodeData } from '../../src/tunnel/messages.ts'
import { CELL_BYTES } from '../../src/tunnel/layer.ts'
import { COVER_PRESETS } from '../../src/cover/presets.ts'
import { startRouter } from './fixtures.ts'

/** A deterministic uniform generator (LCG), so Poisson slot counts repeat. */
function seeded (seed: number): () => number {
  let x = seed >>> 0
  return () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x / 2 ** 32 }
}

interface FakeLink { state: string, sent: Uint8Array[], room: number, send: (m: Uint8Array) => boolean }
function fakeLink (room = Infinity): FakeLink {
  const l: FakeLink = { state: 'open', sent: [], room, send: (m) => { l.sent.push(m); return l.sent.length < l.room } }
  return l
}

t.test('a chaff message has the size of a one-cell TUNNEL_DATA message', async (t) => {
  t.equal(COVER_MESSAGE_BYTES, encodeData([7], [new Uint8Array(CELL_BYTES)]).length)
})

t.test('fill-up: idle slots become chaff; real cells displace it; back-pressure stops it', async (t) => {
  let now = 0
  const cover = new LinkCover({ ...COVER_PRESETS.off, linkRate: 50 }, seeded(1), () => now)
  const link = fakeLink()
  cover.opened(link as unknown as Link)
  now = 10_000
  cover.tick()
  const idle = link.sent.length
  t.ok(idle > 300 && idle < 700, `about 50/s for 10 s of idle link: ${idle}`)
  t.ok(link.sent.every(m => m.length === COVER_MESSAGE_BYTES && m[0] === LINK_COVER), 'every chaff message is a LINK_COVER of the cell size')
  t.equal(cover.stats.chaffSent, idle)
  t.equal(cover.stats.chaffBytesSent, idle * COVER_MESSAGE_BYTES)

  // 10 s with 1000 real cells (100/s, above the slot rate): no chaff.
  for (let i = 0; i < 20; i++) cover.sent(link as unknown as Link, encodeData(Array(50).fill(1), Array.from({ length: 50 }, () => new Uint8Array(CELL_BYTES))))
  now = 20_000
  cover.tick()
  t.equal(link.sent.length, idle, 'real cells above the rate leave no room for chaff')
  t.equal(cover.stats.realCellsSent, 1000)

  // A link that asks to wait after 3 messages gets no more this tick.
  const slow = fakeLink(3)
  cover.opened(slow as unknown as Link)
  now = 30_000
  cover.tick()
  t.equal(slow.sent.length, 3, 'chaff stops when the link asks to wait')
  t.ok(cover.stats.chaffSkipped > 0, 'and what was skipped is counted')

  // Received chaff is recognised; other messages are not.
  t.equal(cover.received(link.sent[0]!), true)
  t.equal(cover.received(encodeData([1], [new Uint8Array(CELL_BYTES)])), false)
  t.equal(cover.stats.chaffReceived, 1)
  cover.closed(link as unknown as Link)
  cover.closed(slow as unknown as Link)
})

t.test('off: no shapers, no chaff', async (t) => {
  const cover = new LinkCover(COVER_PRESETS.off)
  const link = fakeLink()
  cover.opened(link as unknown as Link)
  cover.tick()
  t.equal(cover.active, false)
  t.equal(link.sent.length, 0)
})

for (const transport of ['udp', 'tcp'] as const) {
  t.test(`two routers over ${transport}: chaff arrives, is counted and dropped before any layer`, async (t) => {
    const a = await startRouter(t, { listen: [`${transport}://127.0.0.1:0`], cover: { ...COVER_PRESETS.off, linkRate: 100 } })
    const b = await startRouter(t, { listen: [`${transport}://127.0.0.1:0`] })
    const leaked: number[] = []
    b.onMessage = (_peer, m) => { if (m[0] === LINK_COVER) leaked.push(m.length) }
    a.onMessage = (_peer, m) => { if (m[0] === LINK_COVER) leaked.push(m.length) }
    await a.connectInfo(b.info.raw, AbortSignal.timeout(10_000))
    const deadline = Date.now() + 15_000
    while (b.cover.stats.chaffReceived < 50 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
    const sb = b.status().cover
    t.ok(sb.chaffReceived >= 50, `b received chaff: ${sb.chaffReceived}`)
    t.equal(sb.chaffBytesReceived, sb.chaffReceived * COVER_MESSAGE_BYTES, 'each of the cell size')
    t.ok(a.status().cover.chaffSent >= sb.chaffReceived, 'a counted what it sent')
    t.equal(a.status().cover.linkRate, 100)
    t.equal(sb.chaffSent, 0, 'b, with cover off, sends none')
    t.equal(a.cover.stats.chaffReceived, 0)
    t.same(leaked, [], 'no layer saw a chaff message')
  })
}
