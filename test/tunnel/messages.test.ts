/**
 * The tunnel link messages (TUNNEL_DATA, TUNNEL_BUILD, TUNNEL_GATEWAY) and tunnel messages
 * (delivery kinds): pinned golden bytes, round trips, and hostile input (truncated, oversized,
 * random) rejected with DecodeError only, and a malformed DATA message having no partial effect.
 */
import t from 'tap'
import fc from 'fast-check'
import {
  TunnelType, isTunnelType, MAX_CELLS_PER_MESSAGE, MAX_GATEWAY_MESSAGE, MAX_DATA_MESSAGE,
  encodeData, forEachCell, encodeBuild, decodeBuild, encodeGateway, decodeGateway, cellsPerMessage
} from '../../src/tunnel/messages.ts'
import {
  DeliveryKind, MAX_TUNNEL_MESSAGE, encodeTunnelMessage, decodeTunnelMessage, deliveryOverhead, type TunnelMessage
} from '../../src/tunnel/delivery.ts'
import { DecodeError, LimitError } from '../../src/util/errors.ts'

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const fill = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v)

/** Collects what forEachCell reports, copying each cell. */
function cellsOf (msg: Uint8Array): Array<{ id: number, cell: Uint8Array, off: number }> {
  const got: Array<{ id: number, cell: Uint8Array, off: number }> = []
  forEachCell(msg, (id, buf, off) => { got.push({ id, cell: buf.slice(off, off + 1024), off }) })
  return got
}

/** Whether `fn` returns or throws a DecodeError (anything else fails the property). */
function onlyDecodeError (fn: () => unknown): boolean {
  try { fn(); return true } catch (err) { return err instanceof DecodeError }
}

t.test('type bytes', async t => {
  t.same(TunnelType, { DATA: 0x30, BUILD: 0x31, GATEWAY: 0x32 })
  t.ok(isTunnelType(0x30) && isTunnelType(0x31) && isTunnelType(0x32))
  t.notOk(isTunnelType(0x2f) || isTunnelType(0x33) || isTunnelType(undefined))
})

t.test('TUNNEL_DATA golden vector: type, count, then (tunnel ID, cell) pairs', async t => {
  const GOLDEN = hex('30 02 01020304' + 'aa'.repeat(1024) + 'fffffffe' + '55'.repeat(1024))
  const enc = encodeData([0x01020304, 0xfffffffe], [fill(1024, 0xaa), fill(1024, 0x55)])
  t.equal(toHex(enc), toHex(GOLDEN))
  t.equal(enc.length, 2 + 2 * 1028)
  const got = cellsOf(GOLDEN)
  t.same(got.map(g => g.id), [0x01020304, 0xfffffffe])
  t.same(got.map(g => g.off), [6, 6 + 1028])
  t.equal(toHex(got[0]!.cell), 'aa'.repeat(1024))
  t.equal(toHex(got[1]!.cell), '55'.repeat(1024))
})

t.test('forEachCell hands out views of the message itself (no copy)', async t => {
  const msg = encodeData([9], [fill(1024, 1)])
  let seen: Uint8Array | undefined
  t.equal(forEachCell(msg, (_id, buf, off) => { seen = buf; buf[off] = 0xee }), 1)
  t.equal(seen, msg, 'the very same array')
  t.equal(msg[6], 0xee, 'writes through to the message (in-place decryption)')
})

t.test('TUNNEL_DATA round trip with 1..64 cells, views as input', async t => {
  for (const c of [1, 2, 33, 64]) {
    const big = new Uint8Array(c * 1024 + 7)
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff
    const cells = Array.from({ length: c }, (_, i) => big.subarray(7 + i * 1024, 7 + (i + 1) * 1024))
    const ids = Array.from({ length: c }, (_, i) => (i * 0x9e3779b1) >>> 0)
    const msg = encodeData(ids, cells)
    t.equal(msg.length, 2 + c * 1028)
    const got = cellsOf(msg)
    t.same(got.map(g => g.id), ids)
    t.ok(got.every((g, i) => Buffer.compare(g.cell, cells[i]!) === 0), `${c} cells identical`)
  }
  t.equal(MAX_DATA_MESSAGE, 2 + 64 * 1028)
})

t.test('encodeData refuses what the decoder would refuse', async t => {
  t.throws(() => encodeData([], []), LimitError)
  t.throws(() => encodeData(new Array(65).fill(1), new Array(65).fill(fill(1024, 0))), LimitError)
  t.throws(() => encodeData([1], [fill(1023, 0)]), LimitError)
  t.throws(() => encodeData([1], [fill(1025, 0)]), LimitError)
  t.throws(() => encodeData([1, 2], [fill(1024, 0)]), LimitError)
  t.throws(() => encodeData([-1], [fill(1024, 0)]), LimitError)
  t.throws(() => encodeData([2 ** 32], [fill(1024, 0)]), LimitError)
})

t.test('a malformed TUNNEL_DATA throws DecodeError before any cell is handed out', async t => {
  const good = encodeData([1, 2, 3], [fill(1024, 1), fill(1024, 2), fill(1024, 3)])
  const bad: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['type only', good.subarray(0, 1)],
    ['header only', good.subarray(0, 2)],
    ['truncated by one byte', good.subarray(0, good.length - 1)],
    ['truncated mid-ID', good.subarray(0, 2 + 2 * 1028 + 2)],
    ['trailing byte', Uint8Array.from([...good, 0])],
    ['count 0', Uint8Array.from([0x30, 0])],
    ['count says 2, carries 3', Uint8Array.from([0x30, 2, ...good.subarray(2)])],
    ['count says 4, carries 3', Uint8Array.from([0x30, 4, ...good.subarray(2)])],
    ['count 65', Uint8Array.from([0x30, 65, ...new Uint8Array(65 * 1028)])],
    ['wrong type', Uint8Array.from([0x31, ...good.subarray(1)])]
  ]
  for (const [what, msg] of bad) {
    let calls = 0
    t.throws(() => forEachCell(msg, () => { calls++ }), DecodeError, what)
    t.equal(calls, 0, `${what}: fn never called`)
  }
})

t.test('cellsPerMessage', async t => {
  t.equal(cellsPerMessage(0), 0)
  t.equal(cellsPerMessage(1029), 0)
  t.equal(cellsPerMessage(1030), 1)
  t.equal(cellsPerMessage(2057), 1)
  t.equal(cellsPerMessage(2058), 2)
  t.equal(cellsPerMessage(65535), 63)
  t.equal(cellsPerMessage(MAX_DATA_MESSAGE), 64)
  t.equal(cellsPerMessage(1 << 20), MAX_CELLS_PER_MESSAGE)
  t.equal(cellsPerMessage(Infinity), 64)
  t.equal(cellsPerMessage(Number.NaN), 0)
  for (let m = 1030; m < 70000; m += 997) {
    const c = cellsPerMessage(m)
    t.ok(c >= 1 && 2 + c * 1028 <= m && (c === 64 || 2 + (c + 1) * 1028 > m), `max ${m}: ${c} cells`)
  }
})

t.test('TUNNEL_BUILD golden vector and round trip', async t => {
  const GOLDEN = hex('31 deadbeef 08' + '11'.repeat(1024))
  const body = fill(1024, 0x11)
  t.equal(toHex(encodeBuild(0xdeadbeef, body)), toHex(GOLDEN))
  const d = decodeBuild(GOLDEN)
  t.equal(d.msgId, 0xdeadbeef)
  t.equal(toHex(d.body), '11'.repeat(1024))
  t.equal(d.body.buffer, GOLDEN.buffer, 'body is a view')
  t.equal(GOLDEN.length, 1030)
})

t.test('TUNNEL_BUILD rejects bad sizes and counts', async t => {
  const good = encodeBuild(5, fill(1024, 3))
  for (let n = 0; n < good.length; n += 97) t.throws(() => decodeBuild(good.subarray(0, n)), DecodeError, `truncated to ${n}`)
  t.throws(() => decodeBuild(good.subarray(0, 1029)), DecodeError)
  t.throws(() => decodeBuild(Uint8Array.from([...good, 0])), DecodeError, 'trailing byte')
  const seven = good.slice(); seven[5] = 7
  t.throws(() => decodeBuild(seven), DecodeError, 'record count 7')
  const wrong = good.slice(); wrong[0] = 0x30
  t.throws(() => decodeBuild(wrong), DecodeError, 'wrong type')
  t.throws(() => encodeBuild(1, fill(1023, 0)), LimitError)
  t.throws(() => encodeBuild(2 ** 32, fill(1024, 0)), LimitError)
})

t.test('TUNNEL_GATEWAY golden vector and round trip', async t => {
  const GOLDEN = hex('32 00000007 0006 01 68656c6c6f')
  const tm = encodeTunnelMessage({ kind: DeliveryKind.LOCAL, data: Buffer.from('hello') })
  t.equal(toHex(encodeGateway(7, tm)), toHex(GOLDEN))
  const d = decodeGateway(GOLDEN)
  t.equal(d.tunnelId, 7)
  t.equal(toHex(d.message), '0168656c6c6f')
  const reply = encodeTunnelMessage({ kind: DeliveryKind.BUILD_REPLY, msgId: 1, body: fill(1024, 9) })
  const g = decodeGateway(encodeGateway(0xffffffff, reply))
  t.equal(g.tunnelId, 0xffffffff)
  t.same(decodeTunnelMessage(g.message), { kind: 4, msgId: 1, body: fill(1024, 9) })
  const max = Uint8Array.from([1, ...fill(MAX_GATEWAY_MESSAGE - 1, 2)])
  t.equal(decodeGateway(encodeGateway(1, max)).message.length, MAX_GATEWAY_MESSAGE)
})

t.test('TUNNEL_GATEWAY rejects truncation, oversize, and kinds other than LOCAL and BUILD_REPLY', async t => {
  const good = hex('32 00000007 0006 01 68656c6c6f')
  for (let n = 0; n < good.length; n++) t.throws(() => decodeGateway(good.subarray(0, n)), DecodeError, `truncated to ${n}`)
  t.throws(() => decodeGateway(Uint8Array.from([...good, 0])), DecodeError, 'trailing byte')
  t.throws(() => decodeGateway(hex('32 00000007 0000')), DecodeError, 'empty tunnel message')
  t.throws(() => decodeGateway(hex('32 00000007 0002 0201')), DecodeError, 'kind ROUTER')
  t.throws(() => decodeGateway(hex('32 00000007 0001 03')), DecodeError, 'kind TUNNEL')
  const over = new Uint8Array(7 + MAX_GATEWAY_MESSAGE + 1); over.set(hex('32 00000001')); over[5] = (MAX_GATEWAY_MESSAGE + 1) >> 8; over[6] = (MAX_GATEWAY_MESSAGE + 1) & 0xff; over[7] = 1
  t.throws(() => decodeGateway(over), DecodeError, 'length over the maximum')
  t.throws(() => encodeGateway(1, Uint8Array.from([1, ...fill(MAX_GATEWAY_MESSAGE, 0)])), LimitError)
  t.throws(() => encodeGateway(1, new Uint8Array(0)), LimitError)
  t.throws(() => encodeGateway(1, hex('0201')), LimitError)
  t.throws(() => encodeGateway(-1, hex('01')), LimitError)
})

const ROUTER_A = fill(32, 0xab)
const DELIVERY_GOLDEN: Array<[TunnelMessage, string]> = [
  [{ kind: DeliveryKind.LOCAL, data: hex('cafe') }, '01 cafe'],
  [{ kind: DeliveryKind.LOCAL, data: new Uint8Array(0) }, '01'],
  [{ kind: DeliveryKind.ROUTER, router: ROUTER_A, data: hex('beef') }, '02' + 'ab'.repeat(32) + 'beef'],
  [{ kind: DeliveryKind.TUNNEL, router: fill(32, 0xcd), tunnelId: 42, data: hex('01ff') }, '03' + 'cd'.repeat(32) + '0000002a 01ff'],
  [{ kind: DeliveryKind.BUILD_REPLY, msgId: 9, body: fill(1024, 0x22) }, '04 00000009' + '22'.repeat(1024)]
]

t.test('tunnel message golden vectors for every kind, both ways', async t => {
  for (const [m, h] of DELIVERY_GOLDEN) {
    const golden = hex(h)
    t.equal(toHex(encodeTunnelMessage(m)), toHex(golden), `encode kind ${m.kind}`)
    t.same(decodeTunnelMessage(golden), m, `decode kind ${m.kind}`)
  }
  t.same(DeliveryKind, { LOCAL: 1, ROUTER: 2, TUNNEL: 3, BUILD_REPLY: 4 })
  t.same([1, 2, 3, 4].map(k => deliveryOverhead(k as 1 | 2 | 3 | 4)), [1, 33, 37, 5])
  t.throws(() => deliveryOverhead(5 as 1), LimitError)
})

t.test('tunnel messages: truncation, wrong sizes, unknown kinds and oversize are DecodeErrors', async t => {
  t.throws(() => decodeTunnelMessage(new Uint8Array(0)), DecodeError, 'empty')
  for (const k of [0, 5, 0x30, 0xff]) t.throws(() => decodeTunnelMessage(Uint8Array.of(k, 1, 2)), DecodeError, `kind ${k}`)
  const router = hex(DELIVERY_GOLDEN[2]![1])
  for (let n = 1; n < 33; n++) t.throws(() => decodeTunnelMessage(router.subarray(0, n)), DecodeError, `ROUTER truncated to ${n}`)
  const tunnel = hex(DELIVERY_GOLDEN[3]![1])
  for (let n = 1; n < 37; n++) t.throws(() => decodeTunnelMessage(tunnel.subarray(0, n)), DecodeError, `TUNNEL truncated to ${n}`)
  const reply = hex(DELIVERY_GOLDEN[4]![1])
  t.throws(() => decodeTunnelMessage(reply.subarray(0, 1028)), DecodeError, 'BUILD_REPLY short')
  t.throws(() => decodeTunnelMessage(Uint8Array.from([...reply, 0])), DecodeError, 'BUILD_REPLY long')
  const max = new Uint8Array(MAX_TUNNEL_MESSAGE); max[0] = 1
  t.equal((decodeTunnelMessage(max) as { data: Uint8Array }).data.length, MAX_TUNNEL_MESSAGE - 1)
  const over = new Uint8Array(MAX_TUNNEL_MESSAGE + 1); over[0] = 1
  t.throws(() => decodeTunnelMessage(over), DecodeError, 'one byte over the maximum')
  t.throws(() => encodeTunnelMessage({ kind: 1, data: new Uint8Array(MAX_TUNNEL_MESSAGE) }), LimitError)
  t.throws(() => encodeTunnelMessage({ kind: 2, router: fill(31, 0), data: new Uint8Array(1) }), LimitError)
  t.throws(() => encodeTunnelMessage({ kind: 3, router: fill(32, 0), tunnelId: -1, data: new Uint8Array(1) }), LimitError)
  t.throws(() => encodeTunnelMessage({ kind: 4, msgId: 1, body: fill(1000, 0) }), LimitError)
})

t.test('property: tunnel messages round-trip', async t => {
  const arbData = fc.uint8Array({ maxLength: 3000 })
  const arbMsg: fc.Arbitrary<TunnelMessage> = fc.oneof(
    fc.record({ kind: fc.constant(DeliveryKind.LOCAL), data: arbData }),
    fc.record({ kind: fc.constant(DeliveryKind.ROUTER), router: fc.uint8Array({ minLength: 32, maxLength: 32 }), data: arbData }),
    fc.record({ kind: fc.constant(DeliveryKind.TUNNEL), router: fc.uint8Array({ minLength: 32, maxLength: 32 }), tunnelId: fc.nat({ max: 0xffffffff }), data: arbData }),
    fc.record({ kind: fc.constant(DeliveryKind.BUILD_REPLY), msgId: fc.nat({ max: 0xffffffff }), body: fc.uint8Array({ minLength: 1024, maxLength: 1024 }) })
  )
  fc.assert(fc.property(arbMsg, m => {
    const enc = encodeTunnelMessage(m)
    const data = m.kind === DeliveryKind.BUILD_REPLY ? m.body : m.data
    return enc.length === deliveryOverhead(m.kind) + data.length && toHex(encodeTunnelMessage(decodeTunnelMessage(enc))) === toHex(enc)
  }), { numRuns: 300 })
  t.pass('300 round trips')
})

t.test('property: random bytes never throw anything but DecodeError', async t => {
  // Random bytes, and random bytes behind each valid type or kind byte with plausible counts.
  const arb = fc.oneof(
    fc.uint8Array({ maxLength: 2100 }),
    fc.tuple(fc.constantFrom(0x30, 0x31, 0x32, 1, 2, 3, 4), fc.integer({ min: 0, max: 70 }), fc.uint8Array({ maxLength: 2100 }))
      .map(([a, b, rest]) => Uint8Array.from([a, b, ...rest])),
    fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: -2, max: 2 })).map(([c, d]) => {
      const m = new Uint8Array(Math.max(0, 2 + c * 1028 + d)); m[0] = 0x30; m[1] = c; return m
    })
  )
  fc.assert(fc.property(arb, b => {
    let calls = 0
    const ok = onlyDecodeError(() => forEachCell(b, () => { calls++ })) &&
      onlyDecodeError(() => decodeBuild(b)) &&
      onlyDecodeError(() => decodeGateway(b)) &&
      onlyDecodeError(() => decodeTunnelMessage(b))
    const cellsOk = calls === 0 || (b.length === 2 + calls * 1028 && calls === b[1])
    return ok && cellsOk
  }), { numRuns: 2000 })
  t.pass('2000 hostile inputs')
})
