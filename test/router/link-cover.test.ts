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

t.test('strict: real cells wait for slots, one cell per message; chaff fills the rest; the queue is bounded', async (t) => {
  let now = 0
  const cover = new LinkCover({ ...COVER_PRESETS.off, linkRate: 50, strict: true }, seeded(2), () => now)
  t.equal(cover.strict, true)
  const link = fakeLink()
  cover.opened(link as unknown as Link)
  const cells = [1, 2, 3].map(n => new Uint8Array(CELL_BYTES).fill(n))
  const msg = encodeData([11, 12, 13], cells)
  t.equal(cover.offer(link as unknown as Link, msg), true, 'a TUNNEL_DATA message is taken')
  t.equal(link.sent.length, 0, 'nothing goes before a slot')
  t.equal(cover.stats.realCellsQueued, 3)
  t.equal(cover.offer(link as unknown as Link, new Uint8Array([0x31, 0, 0])), false, 'other messages are left to the caller')
  now = 10_000
  cover.tick()
  const slots = link.sent.length
  t.ok(slots > 300 && slots < 700, `about 50 slots/s for 10 s: ${slots}`)
  t.ok(link.sent.every(m => m.length === COVER_MESSAGE_BYTES), 'every message has the size of one cell')
  t.same(link.sent.slice(0, 3), [0, 1, 2].map(i => encodeData([11 + i], [cells[i]!])), 'real cells first, in order, one per message')
  t.ok(link.sent.slice(3).every(m => m[0] === LINK_COVER), 'then chaff')
  t.same([cover.stats.realCellsSent, cover.stats.realCellsQueued, cover.stats.chaffSent], [3, 0, slots - 3])

  // A busy second sends exactly the slots too: real cells take them, no chaff; the rest waits.
  const before = link.sent.length
  for (let i = 0; i < 2; i++) cover.offer(link as unknown as Link, encodeData(Array(30).fill(5), Array.from({ length: 30 }, () => new Uint8Array(CELL_BYTES))))
  now = 11_000
  cover.tick()
  const second = link.sent.slice(before)
  t.ok(second.length > 20 && second.length < 60, `one second of slots: ${second.length}`)
  t.ok(second.every(m => m[0] === 0x30), 'all of them real')
  t.equal(cover.stats.realCellsQueued, 60 - second.length, 'the rest waits')

  // The queue holds half a second of slots, at least 64 cells.
  for (let i = 0; i < 4; i++) cover.offer(link as unknown as Link, encodeData(Array(50).fill(6), Array.from({ length: 50 }, () => new Uint8Array(CELL_BYTES))))
  t.equal(cover.stats.realCellsQueued, 64, 'the queue stops at 64 cells')
  t.ok(cover.stats.realCellsDropped > 0, 'beyond it cells are dropped and counted')
  cover.closed(link as unknown as Link)
  t.equal(cover.stats.realCellsQueued, 0, 'a closed link drops its queue')
  t.equal(cover.offer(link as unknown as Link, msg), false, 'a link without a shaper is left to the caller')
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
