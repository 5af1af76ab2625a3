/**
 * Fragments: pinned cell layouts, packing efficiency, and reassembly (in order, shuffled,
 * duplicated, last fragment first, IDs reused) with memory bounded by count, bytes and age
 * against hostile payloads. Time is passed explicitly; nothing here measures it.
 */
import t from 'tap'
import fc from 'fast-check'
import {
  PAYLOAD_BYTES, FRAGMENT_HEADER, MAX_FRAGMENTS, MAX_FRAGMENT_DATA, MAX_MESSAGE_BYTES,
  packMessages, Reassembler, ReassemblyBudget, FRAGMENT_COST, MESSAGE_COST
} from '../../src/tunnel/fragment.ts'
import { CELL_BYTES, PAYLOAD_OFFSET } from '../../src/tunnel/layer.ts'
import { MAX_TUNNEL_MESSAGE } from '../../src/tunnel/delivery.ts'
import { ConfigError, DecodeError, LimitError } from '../../src/util/errors.ts'
import { prng } from '../fixtures/prng.ts'

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** A counter of message IDs from 1. */
function ids (from = 1): () => number { let n = from; return () => n++ }

/** A message of `len` bytes whose content depends on `seed`. */
function message (len: number, seed: number): Uint8Array {
  const m = new Uint8Array(len)
  let x = (seed * 0x9e3779b1 + 1) >>> 0
  for (let i = 0; i < len; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; m[i] = x >>> 24 }
  return m
}

/** A clear cell with the given fragments written from the payload start (no terminator added). */
function cell (frags: Array<{ id: number, index: number, flags: number, data: Uint8Array, len?: number }>): Uint8Array {
  const c = new Uint8Array(CELL_BYTES)
  let p = PAYLOAD_OFFSET
  for (const f of frags) {
    if (p + 8 > CELL_BYTES) break
    const n = f.len ?? f.data.length
    c[p] = f.id >>> 24; c[p + 1] = f.id >>> 16; c[p + 2] = f.id >>> 8; c[p + 3] = f.id
    c[p + 4] = f.index; c[p + 5] = f.flags; c[p + 6] = n >>> 8; c[p + 7] = n
    c.set(f.data.subarray(0, Math.max(0, Math.min(f.data.length, CELL_BYTES - p - 8))), p + 8)
    p += 8 + f.data.length
  }
  return c
}

function statsOf (r: Reassembler): Record<string, number> { return { ...r.stats } }

/** Feeds cells in order; returns every message completed. */
function feed (r: Reassembler, cells: Uint8Array[], now = 0): Uint8Array[] {
  const out: Uint8Array[] = []
  for (const c of cells) out.push(...r.receive(c, 0, now))
  return out
}

t.test('constants', async t => {
  t.equal(CELL_BYTES, 1024)
  t.equal(PAYLOAD_OFFSET, 32)
  t.equal(PAYLOAD_BYTES, 992)
  t.equal(FRAGMENT_HEADER, 8)
  t.equal(MAX_FRAGMENTS, 64)
  t.equal(MAX_FRAGMENT_DATA, 984)
  t.equal(MAX_MESSAGE_BYTES, 64 * 984, '65536 does not fit 64 fragments of at most 984 bytes')
  t.equal(MAX_TUNNEL_MESSAGE, MAX_MESSAGE_BYTES)
})

t.test('golden cell: two small messages share a cell, zero nonce/MAC and padding', async t => {
  const cells = packMessages([hex('616263'), hex('0102030405')], ids(1))
  t.equal(cells.length, 1)
  const GOLDEN = hex('00'.repeat(32) + '00000001 00 01 0003 616263' + '00000002 00 01 0005 0102030405' + '00'.repeat(992 - 11 - 13))
  t.equal(toHex(cells[0]!), toHex(GOLDEN))
})

t.test('golden cells: a 1000-byte message spans two cells', async t => {
  const m = message(1000, 7)
  const cells = packMessages([m], () => 0x0a0b0c0d)
  t.equal(cells.length, 2)
  t.equal(toHex(cells[0]!), '00'.repeat(32) + '0a0b0c0d 00 00 03d8'.replace(/ /g, '') + toHex(m.subarray(0, 984)))
  t.equal(toHex(cells[1]!), '00'.repeat(32) + '0a0b0c0d 01 01 0010'.replace(/ /g, '') + toHex(m.subarray(984)) + '00'.repeat(992 - 8 - 16))
  t.same(feed(new Reassembler(), cells), [m])
})

t.test('cells are separate 1024-byte views of one fresh buffer', async t => {
  const m = message(5000, 1)
  const cells = packMessages([m], ids())
  t.equal(cells.length, 6)
  t.ok(cells.every(c => c.length === 1024))
  t.ok(cells.every((c, i) => c.byteOffset === i * 1024 && c.buffer === cells[0]!.buffer))
  t.not(cells[0]!.buffer, m.buffer)
  t.same(packMessages([], ids()), [], 'no messages, no cells')
})

t.test('packMessages refuses empty and oversized messages before making cells', async t => {
  let asked = 0
  const counting = (): number => ++asked
  t.throws(() => packMessages([message(10, 1), new Uint8Array(0)], counting), LimitError)
  t.throws(() => packMessages([message(MAX_MESSAGE_BYTES + 1, 1)], counting), LimitError)
  t.throws(() => packMessages([message(65536, 1)], counting), LimitError)
  t.equal(asked, 0, 'no ID taken')
  t.throws(() => packMessages([message(10, 1)], () => 0), RangeError, 'message ID 0')
  t.throws(() => packMessages([message(10, 1)], () => 2 ** 32), RangeError)
  t.throws(() => packMessages([message(10, 1)], ids(), { minStart: Number.NaN }), ConfigError)
})

t.test('the largest message: 64 full fragments, started in a fresh cell', async t => {
  const big = message(MAX_MESSAGE_BYTES, 3)
  const cells = packMessages([message(10, 2), big, message(10, 4)], ids())
  t.equal(cells.length, 1 + 64 + 1, 'cannot start behind the small message: 65 fragments')
  t.same(feed(new Reassembler(), cells), [message(10, 2), big, message(10, 4)])
})

t.test('packing efficiency', async t => {
  t.equal(packMessages(Array.from({ length: 1000 }, (_, i) => message(900, i)), ids()).length, 1000,
    '1000 messages of 900 bytes: one per cell, none split')
  const small = packMessages(Array.from({ length: 100 }, (_, i) => message(40, i)), ids())
  t.ok(small.length <= 5, `100 messages of 40 bytes in ${small.length} cells`)
  t.equal(packMessages([message(984, 1), message(984, 2)], ids()).length, 2, 'a full cell each')
  // A message that needs several cells anyway uses the rest of the current one (>= minStart).
  t.equal(packMessages([message(500, 1), message(2000, 2)], ids()).length, 3)
  t.equal(packMessages([message(500, 1), message(2000, 2)], ids(), { minStart: 600 }).length, 4)
  // ... but not the last few bytes (63 < minStart = 64 left after a 921-byte message).
  t.equal(packMessages([message(920, 1), message(2000, 2)], ids()).length, 3, '64 bytes left: used')
  const cells = packMessages([message(921, 1), message(2000, 2)], ids())
  t.equal(cells.length, 4, '63 bytes left: not used')
  t.equal(toHex(cells[0]!.subarray(32 + 929)), '00'.repeat(63), 'tail left as padding')
})

t.test('out of order, last fragment first, duplicates ignored', async t => {
  const m = message(3000, 9)
  const cells = packMessages([m], ids(77))
  t.equal(cells.length, 4)
  const r = new Reassembler()
  t.same(r.receive(cells[3]!, 0, 0), [], 'last fragment first')
  t.same(r.receive(cells[3]!, 0, 0), [], 'duplicate of it')
  t.same(r.receive(cells[1]!, 0, 1), [])
  t.same(r.receive(cells[1]!, 0, 1), [])
  t.same(r.receive(cells[0]!, 0, 2), [])
  t.equal(r.stats.duplicates, 2)
  t.equal(r.stats.pendingMessages, 1)
  t.equal(r.stats.pendingBytes, 3000 - 984 + 3 * FRAGMENT_COST + MESSAGE_COST, 'three fragments\' data and cost, and the message\'s')
  t.same(r.receive(cells[2]!, 0, 3), [m], 'completed by the missing middle')
  t.same(statsOf(r), { completed: 1, dropped: 0, expired: 0, duplicates: 2, pendingMessages: 0, pendingBytes: 0 })
})

t.test('a message ID reused after completion starts a new message', async t => {
  const r = new Reassembler()
  const a = message(2000, 1)
  const b = message(1500, 2)
  t.same(feed(r, packMessages([a], () => 5)), [a])
  t.same(feed(r, packMessages([b], () => 5).reverse()), [b])
  t.same(feed(r, packMessages([message(10, 3)], () => 5)), [message(10, 3)])
  t.equal(r.stats.completed, 3)
  t.equal(r.stats.pendingMessages, 0)
})

t.test('an ID reused after a lost fragment: the contradicted message is dropped, not merged', async t => {
  const r = new Reassembler()
  const a = packMessages([message(2500, 1)], () => 5) // 3 fragments; the middle one is lost
  r.receive(a[0]!, 0, 0)
  r.receive(a[2]!, 0, 0)
  const b = message(1500, 2)
  const bc = packMessages([b], () => 5) // 2 fragments: its last (index 1) contradicts a's last (index 2)
  t.same(feed(r, [bc[1]!, bc[0]!]), [b])
  t.equal(r.stats.dropped, 1)
  t.equal(r.stats.pendingMessages, 0)
})

t.test('malformed payloads: DecodeError, and the cell changes nothing', async t => {
  const ok = { id: 1, index: 0, flags: 0, data: message(100, 1) }
  const bad: Array<[string, Uint8Array]> = [
    ['index 64', cell([ok, { id: 2, index: 64, flags: 1, data: message(10, 2) }])],
    ['index 255', cell([{ id: 2, index: 255, flags: 0, data: message(10, 2) }])],
    ['message ID 0', cell([ok, { id: 0, index: 0, flags: 1, data: message(10, 2) }])],
    ['unknown flag', cell([ok, { id: 2, index: 0, flags: 2, data: message(10, 2) }])],
    ['data overruns the payload', cell([ok, { id: 2, index: 0, flags: 1, data: message(10, 2), len: 992 - 108 - 8 + 1 }])],
    ['length 985 alone', cell([{ id: 2, index: 0, flags: 1, data: message(984, 2), len: 985 }])],
    ['length 0xffff', cell([{ id: 2, index: 0, flags: 1, data: message(10, 2), len: 0xffff }])]
  ]
  const r = new Reassembler()
  r.receive(cell([{ id: 9, index: 1, flags: 1, data: message(50, 1) }]), 0, 0)
  const before = statsOf(r)
  for (const [what, c] of bad) {
    t.throws(() => r.receive(c, 0, 0), DecodeError, what)
    t.same(statsOf(r), before, `${what}: nothing taken`)
  }
  t.throws(() => r.receive(new Uint8Array(1023), 0, 0), DecodeError, 'short buffer')
  t.throws(() => r.receive(new Uint8Array(2048), 1025, 0), DecodeError, 'offset past the last cell')
  t.throws(() => r.receive(new Uint8Array(2048), -1, 0), DecodeError, 'negative offset')
  // The good fragment of the first bad cell was not taken: its message's first fragment is still missing.
  t.same(r.receive(cell([{ id: 9, index: 0, flags: 0, data: message(20, 2) }]), 0, 0).length, 1, 'message 9 completes normally')
})

t.test('payload edges: a fragment ending 7 bytes short of the end, and one filling it exactly', async t => {
  const r = new Reassembler()
  const a = message(992 - 8 - 7, 1)
  const c = cell([{ id: 3, index: 0, flags: 1, data: a }])
  c.fill(0xff, 1024 - 7) // fewer than 8 bytes left: not a header, ignored
  t.same(r.receive(c, 0, 0), [a])
  const b = message(984, 2)
  t.same(r.receive(cell([{ id: 4, index: 0, flags: 1, data: b }]), 0, 0), [b])
  t.same(r.receive(new Uint8Array(1024), 0, 0), [], 'an empty payload')
  const big = new Uint8Array(5000)
  big.set(cell([{ id: 5, index: 0, flags: 1, data: hex('aa') }]), 3000)
  t.same(r.receive(big, 3000, 0), [hex('aa')], 'a cell at an offset inside a larger buffer')
})

t.test('returned messages are copies, safe after the cell buffer is reused', async t => {
  const buf = cell([{ id: 1, index: 0, flags: 1, data: hex('010203') }])
  const [got] = new Reassembler().receive(buf, 0, 0)
  buf.fill(0)
  t.equal(toHex(got!), '010203')
})

t.test('memory bound: 10 000 cells each starting a different incomplete big message', async t => {
  const r = new Reassembler()
  let maxMsgs = 0
  let maxBytes = 0
  for (let i = 0; i < 10_000; i++) {
    t.same(r.receive(cell([{ id: i + 1, index: 0, flags: 0, data: message(984, i) }]), 0, i), [])
    maxMsgs = Math.max(maxMsgs, r.stats.pendingMessages)
    maxBytes = Math.max(maxBytes, r.stats.pendingBytes)
  }
  t.ok(maxMsgs <= 64, `at most ${maxMsgs} messages held`)
  t.ok(maxBytes <= 256 * 1024, `at most ${maxBytes} bytes held`)
  t.equal(r.stats.pendingMessages, 64)
  t.equal(r.stats.dropped, 10_000 - 64, 'oldest evicted, each counted')
})

t.test('memory bound by bytes: many fragments of few messages', async t => {
  const r = new Reassembler({ maxMessages: 1000, maxBytes: 100_000 })
  for (let i = 0; i < 10_000; i++) {
    r.receive(cell([{ id: 1 + Math.floor(i / 63), index: i % 63, flags: 0, data: message(984, i) }]), 0, 0)
    if (r.stats.pendingBytes > 100_000) { t.fail(`pendingBytes ${r.stats.pendingBytes} at cell ${i}`); break }
  }
  t.ok(r.stats.pendingBytes <= 100_000)
  t.ok(r.stats.dropped > 0)
  // A message larger alone than maxBytes is dropped, not buffered.
  const tiny = new Reassembler({ maxBytes: 1500 + 2 * FRAGMENT_COST + MESSAGE_COST })
  const cells = packMessages([message(3000, 1)], ids())
  t.same(feed(tiny, cells), [])
  t.ok(tiny.stats.pendingBytes <= 1500 + 2 * FRAGMENT_COST + MESSAGE_COST)
  t.ok(tiny.stats.dropped >= 1)
  t.same(feed(tiny, packMessages([message(900, 1)], ids())), [message(900, 1)], 'single-cell messages still pass')
})

t.test('timeout: messages expire timeoutMs after their first fragment (explicit clock)', async t => {
  const r = new Reassembler({ timeoutMs: 10_000 })
  const a = packMessages([message(2000, 1)], () => 1)
  const b = packMessages([message(2000, 2)], () => 2)
  r.receive(a[0]!, 0, 1_000)
  r.receive(b[0]!, 0, 5_000)
  r.receive(a[1]!, 0, 9_000) // a later fragment does not extend the deadline
  t.equal(r.expire(10_999), 0)
  t.equal(r.stats.pendingMessages, 2)
  t.equal(r.expire(11_000), 1, 'a: 10 s after its first fragment')
  t.equal(r.stats.pendingMessages, 1)
  t.equal(r.stats.pendingBytes, 984 + FRAGMENT_COST + MESSAGE_COST)
  t.equal(r.stats.expired, 1)
  t.same(r.receive(a[2]!, 0, 11_001), [], 'the rest of a starts a new message')
  t.same(r.receive(b[1]!, 0, 14_999), [])
  t.same(r.receive(b[2]!, 0, 14_999), [message(2000, 2)], 'b completes in time')
  t.equal(r.expire(100_000), 1)
  t.same(statsOf(r), { completed: 1, dropped: 0, expired: 2, duplicates: 0, pendingMessages: 0, pendingBytes: 0 })
  // A fragment arriving for a message past its deadline, before expire() ran, does not join it.
  const c = packMessages([message(2000, 3)], () => 3)
  r.receive(c[0]!, 0, 0)
  t.same(r.receive(c[1]!, 0, 10_000), [])
  t.same(r.receive(c[2]!, 0, 10_000), [])
  t.equal(r.stats.expired, 3)
  t.throws(() => new Reassembler({ maxMessages: 0 }), ConfigError)
  t.throws(() => new Reassembler({ timeoutMs: -1 }), ConfigError)
})

/** Message sizes 1..70000, capped to the limit, many of them tiny. */
const arbSizes = fc.array(fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 40 }), weight: 4 },
  { arbitrary: fc.integer({ min: 1, max: 2000 }), weight: 3 },
  { arbitrary: fc.integer({ min: 1, max: 70_000 }).map(n => Math.min(n, MAX_MESSAGE_BYTES)), weight: 1 }
), { minLength: 1, maxLength: 40 })

t.test('property: pack, then reassemble in order, gives the same messages', async t => {
  fc.assert(fc.property(arbSizes, fc.integer({ min: 9, max: 992 }), fc.nat(), (sizes, minStart, seed) => {
    const msgs = sizes.map((n, i) => message(n, seed + i))
    const cells = packMessages(msgs, ids(seed % 1000 + 1), { minStart })
    const r = new Reassembler()
    const got = feed(r, cells)
    return got.length === msgs.length && got.every((g, i) => Buffer.compare(g, msgs[i]!) === 0) &&
      r.stats.pendingMessages === 0 && r.stats.pendingBytes === 0 && r.stats.dropped === 0
  }), { numRuns: 150 })
  t.pass('150 batches')
})

t.test('property: pack, shuffle cells, reassemble: the same messages', async t => {
  fc.assert(fc.property(arbSizes, fc.nat(), (sizes, seed) => {
    const msgs = sizes.map((n, i) => message(n, seed + i))
    const cells = packMessages(msgs, ids())
    const rnd = prng(seed)
    for (let i = cells.length - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); [cells[i], cells[j]] = [cells[j]!, cells[i]!] }
    const r = new Reassembler({ maxMessages: 1000, maxBytes: 1 << 30 })
    const got = feed(r, cells).map(toHex).sort()
    return got.length === msgs.length && got.join() === msgs.map(toHex).sort().join() && r.stats.pendingMessages === 0
  }), { numRuns: 150 })
  t.pass('150 shuffled batches')
})

t.test('property: duplicated cells of incomplete messages are ignored', async t => {
  fc.assert(fc.property(fc.integer({ min: 985, max: MAX_MESSAGE_BYTES }), fc.nat(), (size, seed) => {
    const m = message(size, seed)
    const cells = packMessages([m], ids())
    const rnd = prng(seed)
    const order = cells.slice(0, -1).flatMap(c => rnd() < 0.5 ? [c, c] : [c])
    for (let i = order.length - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); [order[i], order[j]] = [order[j]!, order[i]!] }
    const r = new Reassembler()
    const before = feed(r, order)
    const got = r.receive(cells[cells.length - 1]!, 0, 0)
    return before.length === 0 && got.length === 1 && Buffer.compare(got[0]!, m) === 0 && r.stats.pendingBytes === 0
  }), { numRuns: 100 })
  t.pass('100 messages with duplicated fragments')
})

t.test('property: hostile payloads only ever throw DecodeError, leave no trace when they do, and stay within bounds', async t => {
  const arbFrag = fc.record({
    id: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 4 }), weight: 6 }, { arbitrary: fc.integer({ min: 0, max: 4 }), weight: 1 }, { arbitrary: fc.nat({ max: 0xffffffff }), weight: 1 }),
    index: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 3 }), weight: 6 }, { arbitrary: fc.integer({ min: 0, max: 70 }), weight: 2 }, { arbitrary: fc.nat({ max: 255 }), weight: 1 }),
    flags: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 1 }), weight: 9 }, { arbitrary: fc.nat({ max: 255 }), weight: 1 }),
    size: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 1000 })),
    lie: fc.oneof({ arbitrary: fc.constant(0), weight: 9 }, { arbitrary: fc.integer({ min: -5, max: 5 }), weight: 1 })
  })
  const arbCell = fc.oneof(
    { arbitrary: fc.uint8Array({ minLength: 1024, maxLength: 1024 }), weight: 1 },
    { arbitrary: fc.tuple(fc.array(arbFrag, { maxLength: 6 }), fc.nat()).map(([fs, seed]) =>
      cell(fs.map((f, i) => ({ id: f.id, index: f.index, flags: f.flags, data: message(f.size, seed + i), len: Math.max(0, f.size + f.lie) })))), weight: 5 }
  )
  fc.assert(fc.property(fc.array(arbCell, { maxLength: 60 }), cells => {
    const r = new Reassembler({ maxMessages: 8, maxBytes: 8000, timeoutMs: 50 })
    let now = 0
    for (const c of cells) {
      const before = statsOf(r)
      try {
        r.receive(c, 0, now)
      } catch (err) {
        if (!(err instanceof DecodeError)) return false
        if (JSON.stringify(statsOf(r)) !== JSON.stringify(before)) return false
      }
      if (r.stats.pendingMessages > 8 || r.stats.pendingBytes > 8000 || r.stats.pendingBytes < 0) return false
      now += 7
      if (now % 70 === 0) r.expire(now)
    }
    return true
  }), { numRuns: 300 })
  t.pass('300 hostile sequences')
})

t.test('a shared budget: tunnels hold together at most its bytes; each makes room only from its own', async t => {
  const F = 984 + FRAGMENT_COST // what a full fragment is charged
  const budget = new ReassemblyBudget(5 * F + 2 * MESSAGE_COST)
  const a = new Reassembler({ budget })
  const b = new Reassembler({ budget })
  // Partial messages: every fragment but the last (984 bytes each).
  const partial = (id: number): Uint8Array[] => packMessages([message(4 * 984, id)], () => id).slice(0, 3)
  t.same(feed(a, partial(1)), [], 'a holds 3 fragments of message 1')
  t.equal(budget.bytes, 3 * F + MESSAGE_COST, 'their data, a cost per fragment and one per message')
  t.same(feed(b, partial(2).slice(0, 2)), [], 'b holds 2 fragments of message 2')
  t.equal(budget.bytes, 5 * F + 2 * MESSAGE_COST, 'both count against the budget')
  // The budget is spent: b cannot take a's room; its own message is given up.
  t.same(feed(b, partial(2).slice(2)), [], 'b\'s third fragment does not fit')
  t.equal(budget.refused, 1, 'refused once')
  t.same([b.stats.pendingMessages, b.stats.dropped], [0, 1], 'b gave up its message (it could not complete)')
  t.equal(a.stats.pendingMessages, 1, 'a\'s message is untouched')
  t.equal(budget.bytes, 3 * F + MESSAGE_COST, 'b\'s bytes came back')
  // A whole message in one cell needs no room at all.
  t.same(feed(b, packMessages([message(100, 7)], () => 7)), [message(100, 7)], 'a one-cell message passes whatever the budget')
  // a completes its message: its bytes come back.
  const last = packMessages([message(4 * 984, 1)], () => 1)[3]!
  t.same(a.receive(last, 0, 0), [message(4 * 984, 1)], 'a completes message 1')
  t.equal(budget.bytes, 0, 'completion gives the bytes back')
})

t.test('a shared budget: a tunnel makes room from its own oldest; expiry and clear give bytes back', async t => {
  const F = 984 + FRAGMENT_COST
  const budget = new ReassemblyBudget(3 * F + 2 * MESSAGE_COST)
  const r = new Reassembler({ budget, timeoutMs: 1000 })
  const frags = (id: number, n: number): Uint8Array[] => packMessages([message(5 * 984, id)], () => id).slice(0, n)
  feed(r, frags(1, 2))
  feed(r, frags(2, 1))
  t.equal(budget.bytes, 3 * F + 2 * MESSAGE_COST)
  feed(r, frags(3, 1))
  t.same([r.stats.pendingMessages, r.stats.dropped, budget.refused], [2, 1, 0], 'its own oldest (message 1) made room; nothing refused')
  t.equal(budget.bytes, 2 * F + 2 * MESSAGE_COST)
  t.equal(r.expire(5000), 2, 'both expire')
  t.equal(budget.bytes, 0, 'expiry gives the bytes back')
  feed(r, frags(4, 2))
  r.clear()
  t.same([budget.bytes, r.stats.pendingMessages, r.stats.pendingBytes], [0, 0, 0], 'clear (the tunnel is gone) gives them back too')
  t.throws(() => new ReassemblyBudget(0), ConfigError, 'a budget below one byte is refused')
})

t.test('tiny fragments are charged what holding them costs, not just their bytes', async t => {
  const r = new Reassembler({ maxMessages: 64, maxBytes: 64 * 1024 })
  // A hostile sender: 1-byte fragments, many per cell, never a last one.
  let id = 1
  for (let c = 0; c < 200; c++) {
    const frags = Array.from({ length: 100 }, (_, k) => ({ id: 1 + ((id + k) % 64), index: (c + k) % 63 + 1, flags: 0, data: new Uint8Array([k]) }))
    id += 100
    r.receive(cell(frags), 0, 0)
  }
  t.ok(r.stats.pendingBytes <= 64 * 1024, `within the bound as charged (${r.stats.pendingBytes})`)
  const held = r.stats.pendingBytes
  // At 1 byte each, the charge is dominated by the fixed costs: at most this many fragments are held.
  t.ok(held / (1 + FRAGMENT_COST) <= 64 * 1024 / FRAGMENT_COST, 'so at most ~256 tiny fragments are held, not 4096')
  t.ok(r.stats.dropped > 0, 'the rest were dropped')
})
