// Splitting and joining messages too big for one datagram: pieces in any order, bounds, malformed pieces.
import t from 'tap'
import fc from 'fast-check'
import { Defragmenter, FRAG_HEADER, MAX_PIECES, splitMessage } from '../../src/link/defrag.ts'
import { DecodeError, LimitError } from '../../src/util/errors.ts'

const limits = { maxMessage: 16384, maxPartial: 4, maxPartialBytes: 20_000 }

t.test('pieces in any order join into the message, once', async t => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 2, maxLength: 20_000 }), fc.integer({ min: 64, max: 1400 }), fc.nat(), fc.nat(),
    (msg, piece, key, shuffleSeed) => {
      if (Math.ceil(msg.length / piece) < 2 || Math.ceil(msg.length / piece) > MAX_PIECES) return true
      const pieces = splitMessage(key >>> 0, msg, piece)
      let s = shuffleSeed
      for (let i = pieces.length - 1; i > 0; i--) { s = (s * 1103515245 + 12345) % 2147483648; const j = s % (i + 1); [pieces[i], pieces[j]] = [pieces[j]!, pieces[i]!] }
      const d = new Defragmenter({ ...limits, maxPartialBytes: 1e6 })
      const out = pieces.map(p => d.add(p))
      const whole = out.filter(x => x !== undefined)
      return whole.length === 1 && out[out.length - 1] !== undefined && Buffer.from(whole[0]!).equals(Buffer.from(msg)) && d.waiting.messages === 0 && d.waiting.bytes === 0
    }), { numRuns: 200 })
})

t.test('interleaved messages; a repeated piece is ignored', async t => {
  const d = new Defragmenter(limits)
  const a = splitMessage(1, new Uint8Array(300).fill(1), 100)
  const b = splitMessage(2, new Uint8Array(250).fill(2), 100)
  t.equal(d.add(a[0]!), undefined)
  t.equal(d.add(b[2]!), undefined)
  t.equal(d.add(a[0]!), undefined, 'a repeat')
  t.equal(d.add(a[2]!), undefined)
  t.equal(d.add(b[0]!), undefined)
  t.same(d.add(a[1]!), new Uint8Array(300).fill(1))
  t.same(d.add(b[1]!), new Uint8Array(250).fill(2))
  t.same(d.waiting, { messages: 0, bytes: 0 })
})

t.test('bounded: the oldest partial message goes when too many or too many bytes wait', async t => {
  const d = new Defragmenter(limits)
  for (let k = 0; k < 6; k++) d.add(splitMessage(k, new Uint8Array(200), 100)[0]!)
  t.equal(d.waiting.messages, 4, 'at most 4 wait')
  t.equal(d.evicted, 2)
  t.equal(d.add(splitMessage(0, new Uint8Array(200), 100)[1]!), undefined, 'an evicted message cannot complete')
  t.equal(d.waiting.messages, 4, 'and its later pieces do not start a new one (no cascade of orphans)')
  const e = new Defragmenter(limits)
  for (let k = 0; k < 3; k++) e.add(splitMessage(k, new Uint8Array(16000), 8000)[0]!)
  t.ok(e.waiting.bytes <= 20_000, `bytes stay bounded (${e.waiting.bytes})`)
})

t.test('a flood of last pieces (the only short kind) is bounded in bytes, overhead counted', async t => {
  const d = new Defragmenter({ maxMessage: 16384, maxPartial: 1_000_000, maxPartialBytes: 100_000 })
  for (let k = 0; k < 10_000; k++) { const b = new Uint8Array(FRAG_HEADER + 1); new DataView(b.buffer).setUint32(0, k); b[4] = 254; b[5] = 255; d.add(b) }
  t.ok(d.waiting.bytes <= 100_000, `bytes stay bounded (${d.waiting.bytes})`)
  t.ok(d.waiting.messages <= 100_000 / 65, `so do messages (${d.waiting.messages})`)
})

t.test('malformed pieces are refused with DecodeError', async t => {
  const d = new Defragmenter(limits)
  const hdr = (key: number, index: number, count: number, n = 100): Uint8Array => {
    const b = new Uint8Array(FRAG_HEADER + n); new DataView(b.buffer).setUint32(0, key); b[4] = index; b[5] = count; return b
  }
  t.throws(() => d.add(new Uint8Array(FRAG_HEADER)), DecodeError, 'no piece')
  t.throws(() => d.add(hdr(1, 0, 1)), DecodeError, 'one piece is not a split')
  t.throws(() => d.add(hdr(1, 3, 3)), DecodeError, 'index past count')
  d.add(hdr(2, 0, 3))
  t.throws(() => d.add(hdr(2, 1, 4)), DecodeError, 'count changed')
  t.equal(d.waiting.messages, 0, 'and the message is dropped')
  d.add(hdr(3, 0, 3, 9000))
  t.throws(() => d.add(hdr(3, 1, 3, 9000)), DecodeError, 'longer than maxMessage')
  t.same(d.waiting, { messages: 0, bytes: 0 })
  t.throws(() => d.add(hdr(4, 0, 3, 10)), DecodeError, 'a short piece that is not the last')
  d.add(hdr(5, 0, 3, 100))
  t.throws(() => d.add(hdr(5, 1, 3, 120)), DecodeError, 'pieces of unequal length')
  t.equal(d.add(hdr(5, 2, 3, 10)), undefined, 'the rest of a refused message is ignored')
  t.same(d.waiting, { messages: 0, bytes: 0 })
  t.equal(d.add(hdr(6, 2, 3, 1)), undefined, 'the last piece may be short')
  t.throws(() => splitMessage(0, new Uint8Array(100), 100), LimitError, 'fits one piece: no split')
  t.throws(() => splitMessage(0, new Uint8Array(300), 10), LimitError, 'pieces under 64 bytes')
  t.throws(() => splitMessage(0, new Uint8Array(64 * 256), 64), LimitError, 'over 255 pieces')
})
