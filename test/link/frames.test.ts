/**
 * Hostile frames against the link codecs: forged, truncated, replayed, reordered, oversized and
 * random input are rejected with typed errors (stream links) or dropped and counted (datagram
 * links), with memory bounded by construction.
 */
import t from 'tap'
import fc from 'fast-check'
import { loadCrypto } from '../../src/crypto/index.ts'
import { BlockType, BlockWriter, parseBlocks } from '../../src/link/blocks.ts'
import { DatagramOpener, DatagramSealer } from '../../src/link/datagram-codec.ts'
import { DirectionKeys } from '../../src/link/keys.ts'
import { ReplayWindow } from '../../src/link/replay-window.ts'
import { StreamOpener, StreamSealer } from '../../src/link/stream-codec.ts'
import { FrameError } from '../../src/util/errors.ts'

const c = await loadCrypto({ seed: 'frames' })
const key = c.randomBytes(32)
const hh = c.randomBytes(32)

function streamPair (rekeyEvery = 1 << 20, maxCt = 65535): { s: StreamSealer, o: StreamOpener, got: Uint8Array[] } {
  const got: Uint8Array[] = []
  const s = new StreamSealer(c, new DirectionKeys(c, key, hh), rekeyEvery)
  const o = new StreamOpener(c, new DirectionKeys(c, key, hh), rekeyEvery, maxCt, (pt) => { got.push(pt.slice()) })
  return { s, o, got }
}

function seal (s: StreamSealer, pt: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = []
  s.sealParts(pt, parts)
  return Buffer.concat(parts)
}

t.test('stream frames round-trip across arbitrary chunking and key rotation', async t => {
  const { s, o, got } = streamPair(7)
  const frames = Array.from({ length: 50 }, (_, i) => new Uint8Array(1 + (i * 37) % 900).fill(i))
  const wire = Buffer.concat(frames.map(f => seal(s, f)))
  let off = 0
  let k = 1
  while (off < wire.length) { const n = Math.min(wire.length - off, k++ % 13 === 0 ? 1 : k * 31); o.push(wire.subarray(off, off + n)); off += n }
  t.equal(got.length, 50)
  t.ok(got.every((g, i) => Buffer.compare(g, frames[i]!) === 0), 'every frame identical, through 7 rekeys')
  t.equal(s.keys.epoch, o.keys.epoch, 'both sides rotated in step')
  t.ok(s.keys.epoch >= 7)
})

/**
 * Feeds `bytes` then more of the same junk until the opener throws (bounded): a frame whose
 * length field was damaged cannot be authenticated, so at the latest when the bytes it claims
 * have arrived, it fails. Returns whether a FrameError came and no frame was delivered.
 */
function rejects (o: StreamOpener, got: Uint8Array[], bytes: Uint8Array): boolean {
  try {
    o.push(bytes)
    for (let i = 0; i < 70; i++) o.push(new Uint8Array(1024).fill(0x5a))
  } catch (err) {
    return err instanceof FrameError && got.length === 0
  }
  return false
}

t.test('a modified byte anywhere in a frame (length, body or tag) is rejected', async t => {
  const pt = new Uint8Array(300).fill(9)
  for (const pos of [0, 1, 2, 100, 317]) {
    const { s, o, got } = streamPair()
    const f = seal(s, pt)
    f[pos]! ^= 0x40
    t.ok(rejects(o, got, f), `flip at byte ${pos}: FrameError, nothing delivered`)
  }
})

t.test('replayed and reordered frames are rejected', async t => {
  const a = streamPair()
  const f1 = seal(a.s, Uint8Array.of(1))
  a.o.push(f1)
  const before = a.got.length
  a.got.length = 0
  t.ok(rejects(a.o, a.got, f1), 'replay of frame 1')
  t.equal(before, 1)
  const b = streamPair()
  seal(b.s, Uint8Array.of(1))
  const g2 = seal(b.s, Uint8Array.of(2))
  t.ok(rejects(b.o, b.got, g2), 'frame 2 before frame 1')
})

t.test('oversized and undersized frame lengths are refused before buffering', async t => {
  const big = streamPair(1 << 20, 65535)
  const f = seal(big.s, new Uint8Array(5000))
  const small = streamPair(1 << 20, 2048)
  t.throws(() => { small.o.push(f.subarray(0, 2)) }, FrameError, 'a 5000-byte frame over a 2048-byte limit')
  t.equal(small.o.buffered, 0, 'nothing was buffered for it')
})

t.test('a truncated frame waits for more bytes; a frame never completed stays bounded', async t => {
  const { s, o, got } = streamPair()
  const f = seal(s, new Uint8Array(1000))
  o.push(f.subarray(0, 500))
  t.equal(got.length, 0)
  t.ok(o.buffered <= 1018, 'holds at most one frame')
  o.push(f.subarray(500))
  t.equal(got.length, 1)
})

t.test('random bytes to a stream opener: FrameError or waiting, never another error', async t => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 3000 }), (junk) => {
    const { o, got } = streamPair(1 << 20, 4096)
    try { o.push(junk) } catch (err) { return err instanceof FrameError }
    return got.length === 0 && o.buffered <= 4096 + 2
  }), { numRuns: 300 })
  t.pass('300 random inputs')
})

t.test('datagrams: forged, replayed and stale packets are dropped; reordering within the window is fine', async t => {
  const s = new DatagramSealer(c, new DirectionKeys(c, key, hh), 100)
  const o = new DatagramOpener(c, new DirectionKeys(c, key, hh), 100, 256)
  /** What openFresh gives, as packet number and plaintext length. */
  const open = (b: Uint8Array): { pn: number, len: number } | undefined => {
    const r = o.openFresh(b)
    return r === undefined ? undefined : { pn: r.pn, len: r.pt.length }
  }
  const pkt = (pn: number): Uint8Array => { const b = new Uint8Array(60); const n = s.seal(pn, Uint8Array.of(pn & 0xff, 1, 2), b, 0); return b.subarray(0, n) }
  const p = [0, 1, 2, 3, 150, 151, 152].map(pkt)
  t.same(open(p[1]!), { pn: 1, len: 3 })
  t.same(open(p[0]!), { pn: 0, len: 3 }, 'reordered packet accepted')
  t.equal(open(p[1]!), undefined, 'replay dropped')
  const forged = p[2]!.slice(); forged[20]! ^= 1
  t.equal(open(forged), undefined, 'forged dropped')
  t.same(open(p[2]!), { pn: 2, len: 3 }, 'the genuine one still opens after a forgery')
  t.same(open(p[4]!)?.pn, 150, 'next key epoch entered on an authentic packet')
  t.same(open(p[3]!)?.pn, 3, 'late packet of the previous epoch still opens')
  t.equal(open(pkt(260))?.pn, 260, 'the following epoch is entered too')
  t.equal(open(p[5]!)?.pn, 151, 'a packet of the previous epoch inside the window opens')
  t.equal(open(p[0]!), undefined, 'two epochs back and outside the window: dropped')
  t.equal(open(pkt(600)), undefined, 'more than one epoch ahead: dropped')
  t.equal(open(new Uint8Array(10)), undefined, 'runt dropped')
  t.ok(o.dropped >= 4, 'drops counted')
  fc.assert(fc.property(fc.uint8Array({ maxLength: 1600 }), (junk) => open(junk) === undefined), { numRuns: 300 })
  t.equal(o.keys.epoch, 2, 'random packets never moved the key epoch')
})

t.test('datagrams: sealParts is seal in three arrays; openFresh gives the plaintext in a fresh array', async t => {
  const s = new DatagramSealer(c, new DirectionKeys(c, key, hh), 100)
  const o = new DatagramOpener(c, new DirectionKeys(c, key, hh), 100, 256)
  for (const [pn, len] of [[0, 3], [1, 15], [2, 16], [3, 3000], [150, 40]] as const) {
    const pt = c.randomBytes(len)
    const whole = new Uint8Array(len + 24)
    s.seal(pn, pt, whole, 0)
    const parts = s.sealParts(pn, pt)
    t.equal(parts.length, 3)
    t.equal(Buffer.concat(parts).toString('hex'), Buffer.from(whole).toString('hex'), `packet ${pn} of ${len} bytes: the same bytes`)
    const r = o.openFresh(Buffer.concat(parts))
    t.equal(r?.pn, pn)
    t.equal(Buffer.from(r!.pt).toString('hex'), Buffer.from(pt).toString('hex'))
  }
  t.equal(o.openFresh(s.sealParts(3, Uint8Array.of(1)).reduce((a, b) => Buffer.concat([a, b]), Buffer.alloc(0))), undefined, 'a replay is dropped')
  t.equal(o.openFresh(new Uint8Array(70_000)), undefined, 'junk of any size is dropped')
})

t.test('replay window marks, slides and forgets', async t => {
  const w = new ReplayWindow(64)
  t.ok(w.check(5)); w.mark(5)
  t.notOk(w.check(5))
  w.mark(200)
  t.notOk(w.check(100), 'far behind the window')
  t.ok(w.check(199)); w.mark(199); t.notOk(w.check(199))
  t.notOk(w.check(-1)); t.notOk(w.check(2 ** 60))
})

t.test('blocks: writer pads to the quantum, parser rejects overruns, skips unknown types', async t => {
  const w = new BlockWriter(1024, 128)
  w.add(BlockType.MSG, Uint8Array.of(1, 2, 3))
  w.add(99, Uint8Array.of(7))
  const pt = w.finish()
  t.equal(pt.length, 128)
  const seen: number[] = []
  parseBlocks(pt, { onBlock: (type) => { seen.push(type) } })
  t.same(seen, [BlockType.MSG, 99])
  t.throws(() => { parseBlocks(Uint8Array.of(BlockType.MSG, 0, 9, 1), { onBlock: () => {} }) }, FrameError)
  t.throws(() => { parseBlocks(Uint8Array.of(BlockType.MSG, 0), { onBlock: () => {} }) }, FrameError)
  fc.assert(fc.property(fc.uint8Array({ maxLength: 500 }), (junk) => {
    try { parseBlocks(junk, { onBlock: () => {} }); return true } catch (err) { return err instanceof FrameError }
  }), { numRuns: 300 })
})
