/**
 * The fs node protocol codec (messages.ts): golden bytes of one frame, round trips of every
 * request and answer kind through encodeFrame -> FrameReader -> decodeRequest/decodeResponse,
 * FrameReader with frames split at every byte boundary and several frames in one chunk, an
 * oversized length prefix refused before any body is buffered, bad frame envelopes, the field
 * checks of decodeRequest/decodeResponse, responseRecord's truncation (and its well-formed
 * error text), and random bytes and random records: only DecodeError/LimitError are thrown.
 */
import t from 'tap'
import fc from 'fast-check'
import {
  FrameReader, MAX_DEST_BYTES, MAX_FRAME_BYTES, MAX_KBLOCKS, MAX_NODES, PROTOCOL_VERSION,
  decodeRequest, decodeResponse, encodeFrame, requestRecord, responseRecord,
  type Request, type Response
} from '../../../src/apps/fs/messages.ts'
import { DecodeError, LimitError, UmbraError } from '../../../src/util/errors.ts'
import { packRecord, type PlainRecord } from '../../../src/wire/msgpack.ts'

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
const filled = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v)
const q = (v: number): Uint8Array => filled(32, v)
const dest = (n: number, v: number): Uint8Array => filled(n, v)

/** Deep-compares with byte arrays turned to hex (msgpackr hands back Buffers). */
function plain (v: unknown): unknown {
  if (v instanceof Uint8Array) return `bytes:${hex(v)}`
  if (Array.isArray(v)) return v.map(plain)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
  return v
}

/** Whether `f` throws, and only an UmbraError of one of the listed classes. */
function throwsOnly (f: () => unknown, ...classes: Array<typeof DecodeError | typeof LimitError>): boolean {
  try { f() } catch (err) { return err instanceof UmbraError && classes.some(c => err instanceof c) }
  return true
}

/** One frame through the reader, whole. */
function oneFrame (bytes: Uint8Array): { id: number, record: PlainRecord } {
  const r = new FrameReader()
  const out = r.push(bytes)
  if (out.length !== 1 || r.buffered !== 0) throw new Error(`expected one whole frame, got ${out.length} (+${r.buffered} bytes)`)
  return out[0] as { id: number, record: PlainRecord }
}

const requests: Request[] = [
  { op: 'hello', v: PROTOCOL_VERSION, node: true },
  { op: 'hello', v: PROTOCOL_VERSION, node: false },
  { op: 'hello', v: 0xffff, node: true },
  { op: 'find', target: q(0x01) },
  { op: 'get', query: q(0x02) },
  { op: 'search', query: q(0x03) },
  { op: 'put', kind: 'chk', query: q(0x04), block: filled(32 * 1024, 0x55), expires: 0xffffffff, priority: 0xffff },
  { op: 'put', kind: 'kblock', query: q(0x05), block: new Uint8Array(0), expires: 0, priority: 0 }
]

const responses: Response[] = [
  {},
  { nodes: [] },
  { nodes: [dest(387, 1), dest(MAX_DEST_BYTES, 2), dest(500, 3)] },
  { nodes: Array.from({ length: MAX_NODES }, (_, i) => dest(387, i)) },
  { block: new Uint8Array(0) },
  { block: filled(32 * 1024, 0xaa) },
  { kblocks: [] },
  { kblocks: [filled(1, 1), filled(4096, 2)] },
  { kblocks: Array.from({ length: MAX_KBLOCKS }, (_, i) => filled(100, i)) },
  { result: 'stored' },
  { result: 'exists' },
  { result: 'full' },
  { result: 'invalid' },
  { error: '' },
  { error: 'no such block, sorry: é ✓ 😀' },
  { nodes: [dest(400, 9)], block: q(7), kblocks: [q(8)], result: 'stored', error: 'all at once' }
]

t.test('golden bytes of one frame', async t => {
  const frame = encodeFrame(7, requestRecord({ op: 'find', target: q(0x01) }))
  t.equal(hex(frame),
    '00000035' + // body length 53
    '83' + // map of 3
    'a169' + '07' + // "i": 7
    'a26f70' + 'a466696e64' + // "op": "find"
    'a6746172676574' + 'c420' + '01'.repeat(32), // "target": bin8(32)
  'u32-BE length, then a MessagePack map with i first')
  t.same(plain(decodeRequest(oneFrame(frame).record)), plain({ op: 'find', target: q(0x01) }))
  t.equal(oneFrame(frame).id, 7)
  t.equal(hex(encodeFrame(0xffffffff, responseRecord({ result: 'full' }))),
    '00000014' + '82' + 'a169' + 'ceffffffff' + 'a6726573756c74' + 'a466756c6c', 'an answer, with the largest id')
})

t.test('every request kind round-trips', async t => {
  const ids = [0, 1, 127, 128, 255, 256, 65535, 65536, 0xffffffff]
  for (const [n, req] of requests.entries()) {
    const id = ids[n] as number
    const f = oneFrame(encodeFrame(id, requestRecord(req)))
    t.equal(f.id, id, `${req.op}: id`)
    t.equal(f.record.i, id)
    t.same(plain(decodeRequest(f.record)), plain(req), `${req.op} round trip`)
  }
})

t.test('every answer kind round-trips', async t => {
  for (const [n, res] of responses.entries()) {
    const f = oneFrame(encodeFrame(n + 100, responseRecord(res)))
    t.equal(f.id, n + 100)
    t.same(plain(decodeResponse(f.record)), plain(res), `answer ${n}: ${JSON.stringify(plain(res)).slice(0, 60)}`)
  }
  t.notOk('nodes' in responseRecord({ nodes: undefined, result: 'stored' }), 'undefined fields are left out')
})

t.test('FrameReader: splits at every byte boundary, several frames in one chunk', async t => {
  const frames = [
    encodeFrame(1, requestRecord({ op: 'hello', v: 1, node: true })),
    encodeFrame(2, requestRecord({ op: 'get', query: q(9) })),
    encodeFrame(3, responseRecord({ error: 'x' })),
    encodeFrame(4, responseRecord({ block: filled(300, 4) }))
  ]
  const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0))
  let at = 0
  for (const f of frames) { all.set(f, at); at += f.length }
  const want = [1, 2, 3, 4]

  const whole = new FrameReader().push(all)
  t.same(whole.map(f => f.id), want, 'all frames from one chunk')
  t.same(plain(decodeResponse(whole[3]?.record as PlainRecord)), plain({ block: filled(300, 4) }))

  let bad = 0
  for (let cut = 0; cut <= all.length; cut++) {
    const r = new FrameReader()
    const ids = [...r.push(all.subarray(0, cut)), ...r.push(all.subarray(cut))].map(f => f.id)
    if (JSON.stringify(ids) !== JSON.stringify(want) || r.buffered !== 0) bad++
  }
  t.equal(bad, 0, `two chunks, cut at each of ${all.length + 1} places`)

  for (let cut1 = 0; cut1 < frames[0]!.length + 6; cut1++) {
    for (const cut2 of [cut1 + 1, cut1 + 3, all.length - 2]) {
      if (cut2 < cut1 || cut2 > all.length) continue
      const r = new FrameReader()
      const got = [all.subarray(0, cut1), all.subarray(cut1, cut2), all.subarray(cut2)].flatMap(c => r.push(c))
      if (JSON.stringify(got.map(f => f.id)) !== JSON.stringify(want)) bad++
    }
  }
  t.equal(bad, 0, 'three chunks')

  const r = new FrameReader()
  const ids: number[] = []
  for (let i = 0; i < all.length; i++) {
    for (const f of r.push(all.subarray(i, i + 1))) ids.push(f.id)
    if (i === 2) t.equal(r.buffered, 3, 'a partial length prefix is held')
  }
  t.same(ids, want, 'one byte at a time')
  t.equal(r.buffered, 0)

  const copy = all.slice()
  const r2 = new FrameReader()
  const first = r2.push(copy.subarray(0, frames[0]!.length + 10))
  copy.fill(0)
  const rest = r2.push(all.subarray(frames[0]!.length + 10))
  t.same([...first, ...rest].map(f => f.id), want, 'a held partial frame does not alias the caller\'s chunk')
  t.same(plain(decodeRequest(rest[0]?.record as PlainRecord)), plain({ op: 'get', query: q(9) }))

  t.same(new FrameReader().push(new Uint8Array(0)), [], 'an empty chunk')
})

t.test('FrameReader: oversized length prefix is a LimitError before the body is buffered', async t => {
  const prefix = (n: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return b }
  t.throws(() => new FrameReader().push(prefix(MAX_FRAME_BYTES + 1)), LimitError, 'the 4 prefix bytes alone are enough')
  t.throws(() => new FrameReader().push(prefix(0xffffffff)), LimitError)
  const r = new FrameReader()
  t.same(r.push(prefix(0x7fffffff).subarray(0, 3)), [], 'three bytes: not yet a length')
  t.throws(() => r.push(prefix(0x7fffffff).subarray(3)), LimitError, 'the fourth byte completes it')
  const ok = new FrameReader()
  t.same(ok.push(prefix(MAX_FRAME_BYTES)), [], 'exactly the limit is accepted and waits for its body')
  t.equal(ok.buffered, 4)
  const good = encodeFrame(1, responseRecord({ result: 'stored' }))
  const mixed = new Uint8Array(good.length + 4)
  mixed.set(good)
  mixed.set(prefix(MAX_FRAME_BYTES + 1), good.length)
  t.throws(() => new FrameReader().push(mixed), LimitError, 'after a good frame in the same chunk')
  t.throws(() => encodeFrame(1, responseRecord({ block: filled(MAX_FRAME_BYTES, 0) })), LimitError, 'encodeFrame refuses too')
})

t.test('FrameReader: bad envelopes are DecodeErrors', async t => {
  const frame = (body: Uint8Array): Uint8Array => {
    const out = new Uint8Array(4 + body.length)
    new DataView(out.buffer).setUint32(0, body.length)
    out.set(body, 4)
    return out
  }
  const cases: Array<[string, Uint8Array]> = [
    ['empty body', new Uint8Array(0)],
    ['not a map', Uint8Array.of(0x93, 1, 2, 3)],
    ['truncated map', Uint8Array.of(0x82, 0xa1, 0x69)],
    ['trailing bytes', Uint8Array.of(0x81, 0xa1, 0x69, 0x01, 0x00)],
    ['0xc1', Uint8Array.of(0x81, 0xa1, 0x69, 0xc1)],
    ['extension type', Uint8Array.of(0x81, 0xa1, 0x69, 0xd4, 0x01, 0x00)],
    ['no id', packRecord({ op: 'find' })],
    ['negative id', packRecord({ i: -1 })],
    ['id too large', packRecord({ i: 2 ** 32 })],
    ['fractional id', packRecord({ i: 1.5 })],
    ['id as text', packRecord({ i: '1' })],
    ['id as bigint', packRecord({ i: 2n ** 63n })]
  ]
  for (const [what, body] of cases) t.throws(() => new FrameReader().push(frame(body)), DecodeError, what)
})

t.test('decodeRequest rejects bad requests', async t => {
  const put = { op: 'put', kind: 'chk', query: q(1), block: filled(10, 1), expires: 100, priority: 5 }
  t.ok(decodeRequest(put), 'control')
  const bad: Array<[string, PlainRecord]> = [
    ['unknown op', { op: 'delete', query: q(1) }],
    ['op too long to echo', { op: 'x'.repeat(1000) }],
    ['no op', { query: q(1) }],
    ['op not text', { op: 7 }],
    ['op with different case', { op: 'FIND', target: q(1) }],
    ['hello without v', { op: 'hello', node: true }],
    ['hello v too large', { op: 'hello', v: 0x10000, node: true }],
    ['hello v negative', { op: 'hello', v: -1 }],
    ['find target 31', { op: 'find', target: filled(31, 1) }],
    ['find target 33', { op: 'find', target: filled(33, 1) }],
    ['find target missing', { op: 'find' }],
    ['find target text', { op: 'find', target: 'x'.repeat(32) }],
    ['get query 31', { op: 'get', query: filled(31, 1) }],
    ['get query 33', { op: 'get', query: filled(33, 1) }],
    ['search query 31', { op: 'search', query: filled(31, 1) }],
    ['search query 33', { op: 'search', query: filled(33, 1) }],
    ['search query as array', { op: 'search', query: Array.from(q(1)) }],
    ['put query 31', { ...put, query: filled(31, 1) }],
    ['put query 33', { ...put, query: filled(33, 1) }],
    ['put bad kind', { ...put, kind: 'ssk' }],
    ['put kind missing', { ...put, kind: null }],
    ['put block too large', { ...put, block: filled(32 * 1024 + 1, 0) }],
    ['put block missing', { ...put, block: null }],
    ['put priority > 65535', { ...put, priority: 65536 }],
    ['put priority fractional', { ...put, priority: 1.5 }],
    ['put negative expires', { ...put, expires: -1 }],
    ['put expires > u32', { ...put, expires: 2 ** 32 }],
    ['put expires as bigint', { ...put, expires: 5n }],
    ['put expires as text', { ...put, expires: '5' }]
  ]
  for (const [what, r] of bad) t.throws(() => decodeRequest(r), DecodeError, what)
  t.equal(decodeRequest({ op: 'hello', v: 1, node: 'yes' }).op, 'hello')
  t.same(decodeRequest({ op: 'hello', v: 1, node: 'yes' }), { op: 'hello', v: 1, node: false }, 'node is true only for true')
  t.same(plain(decodeRequest({ op: 'get', query: q(2), extra: 'ignored' })), plain({ op: 'get', query: q(2) }), 'unknown fields dropped')
})

t.test('decodeResponse rejects bad answers', async t => {
  const bad: Array<[string, PlainRecord]> = [
    ['17 nodes', { nodes: Array.from({ length: MAX_NODES + 1 }, (_, i) => dest(387, i)) }],
    ['a node of 386 bytes', { nodes: [dest(387, 1), dest(386, 2)] }],
    ['a node of 1025 bytes', { nodes: [dest(MAX_DEST_BYTES + 1, 1)] }],
    ['an empty node', { nodes: [new Uint8Array(0)] }],
    ['nodes not a list', { nodes: dest(387, 1) }],
    ['a node not bytes', { nodes: ['x'.repeat(400)] }],
    ['block too large', { block: filled(32 * 1024 + 1, 0) }],
    ['block not bytes', { block: 'abc' }],
    ['33 kblocks', { kblocks: Array.from({ length: MAX_KBLOCKS + 1 }, () => filled(10, 1)) }],
    ['an empty kblock', { kblocks: [new Uint8Array(0)] }],
    ['a kblock of 4097 bytes', { kblocks: [filled(4097, 1)] }],
    ['kblocks not a list', { kblocks: 3 }],
    ['unknown result', { result: 'maybe' }],
    ['result not text', { result: 1 }],
    ['error a number', { error: 42 }],
    ['error bytes', { error: filled(3, 0x41) }],
    ['error null', { error: null }]
  ]
  for (const [what, r] of bad) t.throws(() => decodeResponse(r), DecodeError, what)
  t.equal(decodeResponse({ error: 'e'.repeat(1000) }).error?.length, 200, 'a long error from the wire is cut to 200')
  t.same(decodeResponse({ i: 5, unknown: 'x' }), {}, 'unknown fields dropped')
})

t.test('responseRecord truncates lists and the error text', async t => {
  const rec = responseRecord({
    nodes: Array.from({ length: 40 }, (_, i) => dest(387, i)),
    kblocks: Array.from({ length: 50 }, (_, i) => filled(8, i)),
    error: 'é'.repeat(1000)
  })
  t.equal((rec.nodes as Uint8Array[]).length, MAX_NODES)
  t.equal((rec.nodes as Uint8Array[])[MAX_NODES - 1]?.[0], MAX_NODES - 1, 'the first ones are kept')
  t.equal((rec.kblocks as Uint8Array[]).length, MAX_KBLOCKS)
  t.equal(rec.error, 'é'.repeat(200))
  const back = decodeResponse(oneFrame(encodeFrame(9, rec)).record)
  t.equal(back.nodes?.length, MAX_NODES, 'and the truncated answer decodes')
  t.equal(back.kblocks?.length, MAX_KBLOCKS)
  t.equal(back.error, 'é'.repeat(200))
})

t.test('error text is sent as well-formed UTF-8 (a lone surrogate does not poison the frame)', async t => {
  for (const error of ['bad name \ud83d', 'x\udc00y', 'a'.repeat(199) + '😀', 'ok 😀']) {
    const rec = responseRecord({ error })
    const got = decodeResponse(oneFrame(encodeFrame(1, rec)).record).error
    t.equal(typeof got, 'string', JSON.stringify(error))
    t.equal(got, (rec.error as string), 'the sent text arrives unchanged')
  }
  t.equal(responseRecord({ error: 'ok 😀' }).error, 'ok 😀', 'pairs are kept')
  t.equal(responseRecord({ error: 'a\ud83db' }).error, 'a\ufffdb', 'a lone surrogate becomes U+FFFD')
  t.equal(responseRecord({ error: 'a'.repeat(199) + '😀' }).error, 'a'.repeat(199) + '\ufffd', 'a pair cut by truncation too')
})

t.test('random bytes: the reader and decoders throw only DecodeError/LimitError', async t => {
  const feed = (chunks: Uint8Array[]): boolean => {
    const r = new FrameReader()
    for (const c of chunks) {
      let frames: Array<{ id: number, record: PlainRecord }>
      try { frames = r.push(c) } catch (err) { return err instanceof UmbraError && (err instanceof DecodeError || err instanceof LimitError) }
      for (const f of frames) {
        if (!throwsOnly(() => decodeRequest(f.record), DecodeError)) return false
        if (!throwsOnly(() => decodeResponse(f.record), DecodeError)) return false
      }
    }
    return r.buffered <= 4 + MAX_FRAME_BYTES
  }
  const framed = fc.uint8Array({ maxLength: 300 }).map(body => {
    const out = new Uint8Array(4 + body.length)
    new DataView(out.buffer).setUint32(0, body.length)
    out.set(body, 4)
    return out
  })
  const mapLike = fc.tuple(fc.integer({ min: 0x80, max: 0x8f }), fc.uint8Array({ maxLength: 200 }))
    .map(([t, b]) => Uint8Array.of(t, 0xa1, 0x69, 0x01, ...b))
    .map(body => { const out = new Uint8Array(4 + body.length); new DataView(out.buffer).setUint32(0, body.length); out.set(body, 4); return out })
  fc.assert(fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 300 }), framed, mapLike), { maxLength: 5 }), feed), { numRuns: 400 })
  t.pass('random chunks: 400 runs')

  const value = fc.oneof(
    fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.integer({ min: -1, max: 2 ** 32 }),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), fc.string({ maxLength: 20 }),
    fc.constantFrom('hello', 'find', 'get', 'search', 'put', 'chk', 'kblock', 'stored', 'exists', 'full', 'invalid'),
    fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 32, maxLength: 32 }),
    fc.array(fc.uint8Array({ minLength: 380, maxLength: 400 }), { maxLength: 3 }),
    fc.array(fc.oneof(fc.integer(), fc.string(), fc.uint8Array({ maxLength: 5 })), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 3 })
  )
  const keys = fc.constantFrom('op', 'v', 'node', 'target', 'query', 'block', 'kind', 'expires', 'priority',
    'nodes', 'kblocks', 'result', 'error', 'x')
  const record = fc.dictionary(keys, value, { maxKeys: 8 }).map(r => r as PlainRecord)
  fc.assert(fc.property(record, fc.nat(0xffffffff), (r, id) => {
    if (!throwsOnly(() => decodeRequest(r), DecodeError) || !throwsOnly(() => decodeResponse(r), DecodeError)) return false
    const f = oneFrame(encodeFrame(id, r))
    if (f.id !== id) return false
    return throwsOnly(() => decodeRequest(f.record), DecodeError) && throwsOnly(() => decodeResponse(f.record), DecodeError)
  }), { numRuns: 400 })
  t.pass('random records: 400 runs')
})
