/**
 * The hop layer `H` and its inverse (docs/tunnels.md, "Cells"): a reference model built from
 * node:crypto, round trips, outbound and inbound chains of 1..7 hops, tamper propagation, and a
 * pinned golden vector.
 */
import t from 'tap'
import * as nc from 'node:crypto'
import fc from 'fast-check'
import { loadCrypto } from '../../src/crypto/index.ts'
import type { CryptoSuite } from '../../src/crypto/index.ts'
import { CELL_BODY_BYTES, CELL_BYTES, CELL_NONCE_BYTES, HopLayer } from '../../src/tunnel/layer.ts'
import { CryptoError, DecodeError } from '../../src/util/errors.ts'

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const seq = (n: number, from = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff)

// Computed once (layerKey 00..1f, ivKey 20..3f, cell byte i = 7i+3) and checked against the
// node:crypto reference model (`referenceH` below: AES-256-ECB and OpenSSL's own AES-256-CTR).
const GOLDEN_NONCE = '306614000b619ca0bd6db912fff4370e'
const GOLDEN_BODY_HEAD = '50effd7d84bc4600ff60efe763928c8c20fe0fbbed63119b4e82d5f072552b5a'
const GOLDEN_SHA256 = '0a05d531239d62d055f4ef65b9f31974ef32b8fae47e72a3621059dd3b07b2f3'

interface HopKeys { layerKey: Uint8Array, ivKey: Uint8Array }

function hopKeys (c: CryptoSuite, n: number): HopKeys[] {
  return Array.from({ length: n }, () => ({ layerKey: c.randomBytes(32), ivKey: c.randomBytes(32) }))
}
const layersOf = (c: CryptoSuite, keys: HopKeys[]): HopLayer[] => keys.map(k => new HopLayer(c, k.layerKey, k.ivKey))

/** `H` written straight from the spec with node:crypto, on a copy. */
function referenceH (k: HopKeys, cell: Uint8Array): Uint8Array {
  const aes = (x: Uint8Array): Buffer => nc.createCipheriv('aes-256-ecb', k.ivKey, null).setAutoPadding(false).update(x)
  const n1 = aes(cell.subarray(0, 16))
  const iv = Buffer.concat([n1.subarray(0, 12), Buffer.alloc(4)])
  const body = nc.createCipheriv('aes-256-ctr', k.layerKey, iv).update(cell.subarray(16))
  return new Uint8Array(Buffer.concat([aes(n1), body]))
}

t.test('sizes', async t => {
  t.equal(CELL_BYTES, 1024)
  t.equal(CELL_NONCE_BYTES, 16)
  t.equal(CELL_BODY_BYTES, 1008)
})

t.test('apply matches the spec; invert(apply(x)) = x = apply(invert(x)) at any offset', async t => {
  const c = await loadCrypto()
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }),
    fc.uint8Array({ minLength: CELL_BYTES, maxLength: CELL_BYTES }), fc.nat({ max: 50 }), fc.nat({ max: 50 }),
    (layerKey, ivKey, cell, pre, post) => {
      const layer = new HopLayer(c, layerKey, ivKey)
      const buf = new Uint8Array(pre + CELL_BYTES + post).fill(0xee)
      buf.set(cell, pre)
      layer.apply(buf, pre)
      const untouched = buf.subarray(0, pre).every(b => b === 0xee) && buf.subarray(pre + CELL_BYTES).every(b => b === 0xee)
      const ok1 = untouched && toHex(buf.subarray(pre, pre + CELL_BYTES)) === toHex(referenceH({ layerKey, ivKey }, cell))
      layer.invert(buf, pre)
      const ok2 = toHex(buf.subarray(pre, pre + CELL_BYTES)) === toHex(cell)
      layer.invert(buf, pre)
      layer.apply(buf, pre)
      const ok3 = toHex(buf.subarray(pre, pre + CELL_BYTES)) === toHex(cell)
      layer.dispose()
      return ok1 && ok2 && ok3
    }), { numRuns: 100 })
  t.pass('100 random cells')
})

t.test('after each hop the cell looks unrelated: nonce and body both change', async t => {
  const c = await loadCrypto({ seed: 'layer-unrelated' })
  const layers = layersOf(c, hopKeys(c, 7))
  const cell = c.randomBytes(CELL_BYTES)
  const seen = new Set<string>([toHex(cell.subarray(0, 16))])
  for (const [i, layer] of layers.entries()) {
    const before = cell.slice()
    layer.apply(cell)
    t.not(toHex(cell.subarray(0, 16)), toHex(before.subarray(0, 16)), `hop ${i + 1}: nonce changed`)
    t.notOk(seen.has(toHex(cell.subarray(0, 16))), `hop ${i + 1}: no nonce repeats along the path`)
    seen.add(toHex(cell.subarray(0, 16)))
    let same = 0
    for (let j = 16; j < CELL_BYTES; j++) if (cell[j] === before[j]) same++
    // Unrelated bytes agree by chance about 1008/256 ≈ 4 times.
    t.ok(same < 30, `hop ${i + 1}: body changed (${same} of 1008 bytes equal by chance)`)
  }
  // The same hop applied to an equal body under another nonce gives an unrelated body.
  const a = new Uint8Array(CELL_BYTES)
  const b = new Uint8Array(CELL_BYTES)
  b[0] = 1
  layers[0]!.apply(a)
  layers[0]!.apply(b)
  let same = 0
  for (let j = 16; j < CELL_BYTES; j++) if (a[j] === b[j]) same++
  t.ok(same < 30, 'nonces differing in one bit give unrelated keystreams')
})

t.test('outbound: gateway inverts hops N..1, hops 1..N apply, the endpoint sees the clear cell', async t => {
  const c = await loadCrypto({ seed: 'layer-outbound' })
  for (let n = 1; n <= 7; n++) {
    const keys = hopKeys(c, n)
    const creator = layersOf(c, keys)
    const hops = layersOf(c, keys)
    const clear = c.randomBytes(CELL_BYTES)
    const cell = clear.slice()
    for (let i = n - 1; i >= 0; i--) creator[i]!.invert(cell)
    t.not(toHex(cell), toHex(clear), `${n} hops: what leaves the gateway is not the clear cell`)
    for (let i = 0; i < n; i++) hops[i]!.apply(cell)
    t.equal(toHex(cell), toHex(clear), `${n} hops: endpoint gets the clear cell`)
  }
})

t.test('inbound: gateway applies, hops apply, the creator inverts last..first', async t => {
  const c = await loadCrypto({ seed: 'layer-inbound' })
  for (let n = 1; n <= 7; n++) {
    const keys = hopKeys(c, n)
    const hops = layersOf(c, keys) // hop 1 is the inbound gateway
    const creator = layersOf(c, keys)
    const clear = c.randomBytes(CELL_BYTES)
    const buf = new Uint8Array(3 + CELL_BYTES)
    buf.set(clear, 3)
    for (let i = 0; i < n; i++) hops[i]!.apply(buf, 3)
    t.not(toHex(buf.subarray(3)), toHex(clear), `${n} hops: what reaches the creator is not the clear cell`)
    for (let i = n - 1; i >= 0; i--) creator[i]!.invert(buf, 3)
    t.equal(toHex(buf.subarray(3)), toHex(clear), `${n} hops: creator recovers the clear cell`)
  }
})

t.test('a flipped bit anywhere in transit changes the clear cell at the endpoint', async t => {
  const c = await loadCrypto({ seed: 'layer-tamper' })
  const n = 3
  const keys = hopKeys(c, n)
  const creator = layersOf(c, keys)
  const hops = layersOf(c, keys)
  const clear = c.randomBytes(CELL_BYTES)
  const sent = clear.slice()
  for (let i = n - 1; i >= 0; i--) creator[i]!.invert(sent)
  const positions = [0, 5, 15, 16, 17, 500, 1023]
  for (let k = 0; k < 40; k++) positions.push(c.randomBytes(2).reduce((a, b) => a * 256 + b, 0) % (CELL_BYTES * 8) >> 3)
  for (const pos of positions) {
    for (const at of [0, 1, 2]) { // flipped before hop `at + 1`
      const cell = sent.slice()
      for (let i = 0; i < n; i++) {
        if (i === at) cell[pos]! ^= 1 << (pos % 8)
        hops[i]!.apply(cell)
      }
      t.not(toHex(cell), toHex(clear), `byte ${pos} flipped before hop ${at + 1}: clear cell differs`)
      if (pos < CELL_NONCE_BYTES) {
        // A nonce flip garbles the whole body (the MAC then fails).
        let same = 0
        for (let j = 16; j < CELL_BYTES; j++) if (cell[j] === clear[j]) same++
        t.ok(same < 30, `nonce flip at byte ${pos}: body garbled`)
      }
    }
  }
})

t.test('golden vector', async t => {
  const c = await loadCrypto()
  const layer = new HopLayer(c, seq(32), seq(32, 32))
  const cell = Uint8Array.from({ length: CELL_BYTES }, (_, i) => (i * 7 + 3) & 0xff)
  layer.apply(cell)
  t.equal(toHex(cell.subarray(0, 16)), GOLDEN_NONCE, 'nonce after H')
  t.equal(toHex(cell.subarray(16, 48)), GOLDEN_BODY_HEAD, 'first 32 body bytes after H')
  t.equal(nc.createHash('sha256').update(cell).digest('hex'), GOLDEN_SHA256, 'SHA-256 of the whole cell after H')
  layer.invert(cell)
  t.ok(cell.every((b, i) => b === ((i * 7 + 3) & 0xff)), 'inverts back')
})

t.test('argument checks', async t => {
  const c = await loadCrypto()
  t.throws(() => new HopLayer(c, new Uint8Array(31), new Uint8Array(32)), CryptoError)
  t.throws(() => new HopLayer(c, new Uint8Array(32), new Uint8Array(16)), CryptoError)
  const layer = new HopLayer(c, new Uint8Array(32), new Uint8Array(32))
  t.throws(() => layer.apply(new Uint8Array(1023)), DecodeError)
  t.throws(() => layer.apply(new Uint8Array(1030), 7), DecodeError)
  t.throws(() => layer.invert(new Uint8Array(1024), -1), DecodeError)
  t.throws(() => layer.invert(new Uint8Array(1030), 1.5), DecodeError)
  const keyCopy = new Uint8Array(32)
  const l2 = new HopLayer(c, keyCopy, keyCopy)
  const a = new Uint8Array(CELL_BYTES)
  l2.apply(a)
  keyCopy.fill(9) // the layer copied its keys
  const b = new Uint8Array(CELL_BYTES)
  l2.apply(b)
  t.equal(toHex(a), toHex(b), 'keys are copied at construction')
  l2.dispose()
  layer.dispose()
})

t.test('applyAll and invertAll: the same as apply and invert on each cell, at any offsets', async t => {
  const c = await loadCrypto()
  fc.assert(fc.property(fc.array(fc.nat({ max: 40 }), { minLength: 1, maxLength: 70 }), fc.boolean(), (pads, shared) => {
    const [k] = hopKeys(c, 1)
    const layer = new HopLayer(c, k!.layerKey, k!.ivKey)
    // Cells either in one buffer (a TUNNEL_DATA message) or each in its own, at odd offsets.
    const one = new Uint8Array(pads.reduce((a, p) => a + p + CELL_BYTES, 0))
    const bufs: Uint8Array[] = []
    const offs: number[] = []
    let at = 0
    for (const p of pads) {
      if (shared) { bufs.push(one); offs.push(at + p); at += p + CELL_BYTES } else { bufs.push(new Uint8Array(p + CELL_BYTES)); offs.push(p) }
    }
    for (let i = 0; i < bufs.length; i++) bufs[i]!.set(c.randomBytes(CELL_BYTES), offs[i])
    const cells = bufs.map((b, i) => b.slice(offs[i], offs[i]! + CELL_BYTES))
    layer.applyAll(bufs, offs)
    if (!cells.every((x, i) => toHex(referenceH(k!, x)) === toHex(bufs[i]!.subarray(offs[i], offs[i]! + CELL_BYTES)))) return false
    layer.invertAll(bufs, offs)
    return cells.every((x, i) => toHex(x) === toHex(bufs[i]!.subarray(offs[i], offs[i]! + CELL_BYTES)))
  }), { numRuns: 40 })

  const [k] = hopKeys(c, 1)
  const layer = new HopLayer(c, k!.layerKey, k!.ivKey)
  const good = c.randomBytes(CELL_BYTES)
  const before = toHex(good)
  t.throws(() => { layer.applyAll([good, new Uint8Array(CELL_BYTES - 1)], [0, 0]) }, DecodeError, 'a truncated cell in the batch')
  t.equal(toHex(good), before, 'and then no cell of the batch was changed')
  layer.applyAll([good], [0], 0)
  t.equal(toHex(good), before, 'an empty batch changes nothing')

  // Without offsets, each cell is its own array at offset 0.
  const own = [c.randomBytes(CELL_BYTES), c.randomBytes(CELL_BYTES)]
  const clear = own.map(x => x.slice())
  layer.applyAll(own)
  t.same(own.map(toHex), clear.map(x => toHex(referenceH(k!, x))), 'applyAll(cells) is H on each at offset 0')
  layer.invertAll(own)
  t.same(own.map(toHex), clear.map(toHex), 'invertAll(cells) undoes it')
  t.throws(() => { layer.applyAll([good, new Uint8Array(CELL_BYTES - 1)]) }, DecodeError, 'a truncated cell without offsets')
})
