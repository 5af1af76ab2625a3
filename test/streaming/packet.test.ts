/**
 * Tests of the stream packet codec: golden vectors (decode, re-encode, compare bytes), every
 * rejection rule, round trips of random valid packets, and random input (never anything but
 * DecodeError; whatever decodes re-encodes to the same bytes).
 */
import t from 'tap'
import fc from 'fast-check'
import {
  decodePacket, encodePacket, packet, MAX_PACKET_BYTES, MAX_PAYLOAD, MAX_SACK_BLOCKS, type SackRange, type StreamPacket
} from '../../src/streaming/packet.ts'
import { DecodeError, LimitError } from '../../src/util/errors.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const decodeFails = (s: string | Uint8Array): boolean => {
  try { decodePacket(typeof s === 'string' ? unhex(s) : s); return false } catch (e) { return e instanceof DecodeError && (e as Error).name === 'DecodeError' }
}

const GOLDEN: Array<{ name: string, hex: string, pkt: StreamPacket }> = [
  {
    name: 'SYN with MSS and data',
    hex: '00000000 01020304 00000000 00000000 0021 00040000 00 0384 6869',
    pkt: packet({ sendStreamId: 0, recvStreamId: 0x01020304, syn: true, window: 262144, mss: 900, payload: new TextEncoder().encode('hi') })
  },
  {
    name: 'SYN-ACK',
    hex: '01020304 0a0b0c0d 00000000 00000001 0023 00010000 00 0200',
    pkt: packet({ sendStreamId: 0x01020304, recvStreamId: 0x0a0b0c0d, syn: true, ack: 1, window: 65536, mss: 512 })
  },
  {
    name: 'ACK with two SACK blocks, FIN and ECHO',
    hex: 'a1b2c3d4 00000007 0000002a 0000000a 0016 00004000 02 00020003 00050001',
    pkt: packet({ sendStreamId: 0xa1b2c3d4, recvStreamId: 7, seq: 42, ack: 10, fin: true, echo: true, window: 16384, sack: [{ start: 12, end: 15 }, { start: 20, end: 21 }] })
  },
  {
    name: 'RST answering a SYN',
    hex: '00000005 00000000 00000000 00000000 0008 00000000 00',
    pkt: packet({ sendStreamId: 5, recvStreamId: 0, rst: true })
  },
  {
    name: 'data before the stream ID is known',
    hex: '00000000 00000009 00000003 00000000 0000 00004000 00 ff',
    pkt: packet({ sendStreamId: 0, recvStreamId: 9, seq: 3, window: 16384, payload: new Uint8Array([0xff]) })
  }
]

t.test('golden vectors: decode, compare fields, re-encode identically', async t => {
  for (const g of GOLDEN) {
    const bytes = unhex(g.hex)
    t.equal(hex(encodePacket(g.pkt)), hex(bytes), `${g.name}: encode`)
    const d = decodePacket(bytes)
    t.same({ ...d, payload: hex(d.payload) }, { ...g.pkt, payload: hex(g.pkt.payload) }, `${g.name}: decode`)
    t.equal(hex(encodePacket(d)), hex(bytes), `${g.name}: re-encode`)
  }
})

t.test('every malformed layout is a DecodeError', async t => {
  const ok = '01020304 0a0b0c0d 00000005 00000001 0002 00004000 00'
  t.notOk(decodeFails(ok), 'baseline decodes')
  t.ok(decodeFails(''), 'empty')
  t.ok(decodeFails(ok.slice(0, -2)), 'truncated header')
  t.ok(decodeFails('01020304 0a0b0c0d 00000005 00000001 0042 00004000 00'), 'unknown flag 0x40')
  t.ok(decodeFails('01020304 0a0b0c0d 00000005 00000001 0000 00004000 00'), 'ack field without ACK')
  t.ok(decodeFails('01020304 0a0b0c0d 00000005 00000000 0000 00004000 01 00010001'), 'SACK without ACK')
  t.ok(decodeFails('01020304 0a0b0c0d 00000005 00000001 0002 00004000 01 0001'), 'truncated SACK block')
  t.ok(decodeFails('01020304 0a0b0c0d 00000005 00000001 0002 00004000 01 00000001'), 'SACK gap 0')
  t.ok(decodeFails('01020304 0a0b0c0d 00000005 00000001 0002 00004000 01 00010000'), 'SACK run of 0')
  t.ok(decodeFails('01020304 0a0b0c0d 00000005 fffffff0 0002 00004000 01 ffff0001'), 'SACK past 2^32')
  t.ok(decodeFails('01020304 0a0b0c0d 00000005 00000001 0002 00004000 09' + '00010001'.repeat(9)), '9 SACK blocks')
  t.ok(decodeFails('00000000 0a0b0c0d 00000005 00000000 0001 00004000 00'), 'SYN with seq 5')
  t.ok(decodeFails('00000000 0a0b0c0d 00000000 00000000 0009 00004000 00'), 'SYN with RST')
  t.ok(decodeFails('01020304 0a0b0c0d 00000000 00000000 0001 00004000 00'), 'SYN to a stream ID without ACK')
  t.ok(decodeFails('00000000 0a0b0c0d 00000000 00000001 0003 00004000 00'), 'SYN-ACK without a stream ID')
  t.ok(decodeFails('01020304 00000000 00000005 00000001 0002 00004000 00'), 'recvStreamId 0 outside RST')
  t.ok(decodeFails('00000000 0a0b0c0d 00000000 00000000 0008 00000000 00'), 'RST without sendStreamId')
  t.ok(decodeFails('01020304 0a0b0c0d 00000000 00000000 0008 00000000 00 aa'), 'RST with payload')
  t.ok(decodeFails('00000000 0a0b0c0d 00000000 00000000 0021 00004000 00 0030'), 'MSS 48 below 64')
  t.ok(decodeFails('00000000 0a0b0c0d 00000000 00000000 0021 00004000 00 03'), 'truncated MSS')
  t.ok(decodeFails(new Uint8Array(MAX_PACKET_BYTES + 1)), 'oversized')
})

t.test('the encoder refuses what the decoder would', async t => {
  const base = packet({ sendStreamId: 1, recvStreamId: 2, ack: 0 })
  const bad: Array<[string, Partial<StreamPacket>]> = [
    ['seq > u32', { seq: 2 ** 32 }],
    ['negative window', { window: -1 }],
    ['fractional ack', { ack: 1.5 }],
    ['SYN with seq', { syn: true, seq: 1 }],
    ['9 SACK blocks', { sack: Array.from({ length: 9 }, (_, i) => ({ start: 2 * i + 1, end: 2 * i + 2 })) }],
    ['adjacent SACK blocks', { sack: [{ start: 1, end: 2 }, { start: 2, end: 3 }] }],
    ['SACK at the ack', { sack: [{ start: 0, end: 2 }] }],
    ['SACK without ACK', { ack: undefined, sack: [{ start: 1, end: 2 }] }],
    ['oversized payload', { payload: new Uint8Array(MAX_PAYLOAD + 1) }],
    ['MSS too small', { mss: 10 }]
  ]
  for (const [name, p] of bad) t.throws(() => encodePacket({ ...base, ...p }), LimitError, name)
})

const u32 = fc.nat({ max: 0xffff_ffff })
const arbPacket: fc.Arbitrary<StreamPacket> = fc.record({
  kind: fc.constantFrom('syn', 'synack', 'data', 'early', 'rst'),
  sendStreamId: fc.integer({ min: 1, max: 0xffff_ffff }),
  recvStreamId: fc.integer({ min: 1, max: 0xffff_ffff }),
  seq: u32,
  ack: fc.nat({ max: 2 ** 31 }),
  fin: fc.boolean(),
  echo: fc.boolean(),
  window: u32,
  parts: fc.array(fc.tuple(fc.integer({ min: 1, max: 4000 }), fc.integer({ min: 1, max: 4000 })), { maxLength: MAX_SACK_BLOCKS }),
  mss: fc.option(fc.integer({ min: 64, max: 0xffff }), { nil: undefined }),
  payload: fc.uint8Array({ maxLength: 1500 })
}).map(r => {
  const sack: SackRange[] = []
  let prev = r.ack
  for (const [gap, len] of r.parts) { sack.push({ start: prev + gap, end: prev + gap + len }); prev += gap + len }
  const common = { recvStreamId: r.recvStreamId, fin: r.fin, echo: r.echo, window: r.window, mss: r.mss }
  switch (r.kind) {
    case 'syn': return packet({ ...common, sendStreamId: 0, syn: true, payload: r.payload })
    case 'synack': return packet({ ...common, sendStreamId: r.sendStreamId, syn: true, ack: r.ack, sack, payload: r.payload })
    case 'data': return packet({ ...common, sendStreamId: r.sendStreamId, seq: r.seq, ack: r.ack, sack, payload: r.payload })
    case 'early': return packet({ ...common, sendStreamId: 0, seq: r.seq, payload: r.payload })
    default: return packet({ ...common, sendStreamId: r.sendStreamId, recvStreamId: r.recvStreamId % 2 === 0 ? 0 : r.recvStreamId, seq: r.seq, rst: true })
  }
})

t.test('round trip of random valid packets compares bytes', async t => {
  fc.assert(fc.property(arbPacket, p => {
    const bytes = encodePacket(p)
    const d = decodePacket(bytes)
    return hex(encodePacket(d)) === hex(bytes) && d.seq === p.seq && d.ack === p.ack && hex(d.payload) === hex(p.payload) &&
      JSON.stringify(d.sack) === JSON.stringify(p.sack) && d.mss === p.mss && d.window === p.window
  }), { numRuns: 2000 })
  t.pass('2000 random packets round-tripped')
})

t.test('random input: DecodeError or an identical re-encoding', async t => {
  const check = (bytes: Uint8Array): boolean => {
    let d: StreamPacket
    try { d = decodePacket(bytes) } catch (e) { return e instanceof DecodeError }
    return hex(encodePacket(d)) === hex(bytes)
  }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check), { numRuns: 5000 })
  // Mutations of valid packets reach deeper into the decoder than uniform noise.
  fc.assert(fc.property(arbPacket, fc.nat(), fc.nat({ max: 255 }), (p, at, byte) => {
    const bytes = encodePacket(p)
    bytes[at % bytes.length] = byte
    return check(bytes) && check(bytes.subarray(0, at % (bytes.length + 1)))
  }), { numRuns: 5000 })
  t.pass('5000 random inputs and 10000 mutated packets: DecodeError or identical bytes')
})
