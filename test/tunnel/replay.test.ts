/**
 * The decaying Bloom filter of cell nonces: no false negatives, measured false-positive rates
 * (random nonces, and counter nonces through a hop's layer), rotation by time and by count, fixed memory, argument checks.
 * All randomness comes from seeded suites, so every count here is deterministic.
 */
import t from 'tap'
import { loadCrypto } from '../../src/crypto/index.ts'
import { CELL_BYTES, HopLayer } from '../../src/tunnel/layer.ts'
import { ReplayFilter } from '../../src/tunnel/replay.ts'
import { ConfigError, DecodeError } from '../../src/util/errors.ts'

t.test('no false negatives on 100k nonces; false positives on 200k fresh ones below 1e-4', async t => {
  const c = await loadCrypto({ seed: 'replay-fn-fp' })
  const f = new ReplayFilter({ capacity: 100_000 })
  const inserted = c.randomBytes(16 * 100_000)
  let early = 0
  for (let i = 0; i < 100_000; i++) if (f.seen(inserted, 16 * i, 0)) early++
  t.ok(early <= 2, `inserting 100k distinct nonces: ${early} reported as seen`)
  t.equal(f.size, 100_000 - early)
  let missed = 0
  for (let i = 0; i < 100_000; i++) if (!f.seen(inserted, 16 * i, 1)) missed++
  t.equal(missed, 0, 'every inserted nonce is seen again')
  // The generation is full now: each fresh nonce rotates it to "previous" and starts a new one.
  const fresh = c.randomBytes(16 * 200_000)
  let fp = 0
  for (let i = 0; i < 200_000; i++) if (f.seen(fresh, 16 * i, 2)) fp++
  t.ok(fp / 200_000 < 1e-4, `false positives: ${fp} of 200k fresh nonces`)
})

t.test('the measured false-positive rate follows the sizing model', async t => {
  const c = await loadCrypto({ seed: 'replay-model' })
  // Target 1e-2: a full previous generation contributes about 5e-3, the filling current one less.
  const f = new ReplayFilter({ capacity: 50_000, falsePositive: 1e-2 })
  const fill = c.randomBytes(16 * 50_000)
  for (let i = 0; i < 50_000; i++) f.seen(fill, 16 * i, 0)
  const fresh = c.randomBytes(16 * 50_000)
  let fp = 0
  for (let i = 0; i < 50_000; i++) if (f.seen(fresh, 16 * i, 0)) fp++
  const rate = fp / 50_000
  t.ok(rate > 2e-3 && rate < 1.5e-2, `rate ${rate} near the 5e-3..1e-2 the model predicts`)
})

t.test('counter nonces through a hop layer (what a hop checks) do as well as random ones; raw, they would not', async t => {
  const c = await loadCrypto({ seed: 'replay-structured' })
  const layer = new HopLayer(c, c.randomBytes(32), c.randomBytes(32))
  const f = new ReplayFilter({ capacity: 100_000 })
  const cell = new Uint8Array(CELL_BYTES)
  const dv = new DataView(cell.buffer)
  let fp = 0
  for (let i = 0; i < 150_000; i++) {
    cell.fill(0, 0, 16)
    dv.setUint32(12, i) // a sender's nonces 0, 1, 2, ... differ only in their last bytes
    layer.apply(cell)
    if (f.seen(cell, 0, 0)) fp++
  }
  t.ok(fp / 150_000 < 1e-4, `${fp} false positives among 150k counter nonces after the layer`)
  t.ok(f.seen(cell, 0, 0), 'the last one is remembered')
  // Fed raw, the same nonces share one block and their bits barely vary: the filter reports
  // fresh ones as seen. That is why the hop checks its own layer's output.
  const raw = new ReplayFilter({ capacity: 100_000 })
  const nonce = new Uint8Array(16)
  const ndv = new DataView(nonce.buffer)
  let rawFp = 0
  for (let i = 0; i < 10_000; i++) { ndv.setUint32(12, i); if (raw.seen(nonce, 0, 0)) rawFp++ }
  t.ok(rawFp > 1000, `raw counter nonces: ${rawFp} of 10k wrongly reported as seen`)
})

t.test('rotation by time: seen after one rotation, forgotten after two', async t => {
  const c = await loadCrypto({ seed: 'replay-time' })
  const f = new ReplayFilter({ capacity: 1000, rotateMs: 1000 })
  const x = c.randomBytes(20)
  t.notOk(f.seen(x, 4, 10_000), 'first sight')
  t.ok(f.seen(x, 4, 10_500), 'seen before any rotation')
  t.ok(f.seen(x, 4, 11_000), 'seen after one rotation')
  t.ok(f.seen(x, 4, 11_999), 'still seen just before the second')
  t.notOk(f.seen(x, 4, 12_000), 'forgotten after two rotations (and recorded again)')
  t.ok(f.seen(x, 4, 12_001), 'recorded again')
  t.notOk(f.seen(x, 4, 14_001), 'a gap of two periods forgets both generations at once')
  t.equal(f.size, 1)
  t.ok(f.seen(x, 4, 13_000), 'time going backwards rotates nothing')
})

t.test('rotation by count: a full generation rotates, so flooding only ages nonces', async t => {
  const c = await loadCrypto({ seed: 'replay-count' })
  const f = new ReplayFilter({ capacity: 1000 })
  const x = c.randomBytes(16)
  const flood = c.randomBytes(16 * 3000)
  t.notOk(f.seen(x, 0, 0))
  for (let i = 0; i < 1000; i++) f.seen(flood, 16 * i, 0)
  t.ok(f.size <= 2000, `size ${f.size} bounded by two generations`)
  t.ok(f.seen(x, 0, 0), 'seen after one count rotation')
  for (let i = 1000; i < 3000; i++) f.seen(flood, 16 * i, 0)
  t.notOk(f.seen(x, 0, 0), 'forgotten after two')
})

t.test('memory is fixed at construction', async t => {
  const c = await loadCrypto({ seed: 'replay-memory' })
  const f = new ReplayFilter({ capacity: 2000, rotateMs: 100 })
  const bytes = f.byteLength
  const many = c.randomBytes(16 * 10_000)
  for (let i = 0; i < 10_000; i++) {
    f.seen(many, 16 * i, i) // rotations by count and by time
    if (i % 2500 === 0) t.equal(f.byteLength, bytes, `after ${i} nonces`)
  }
  t.ok(f.size <= 2 * 2000, 'at most two generations of nonces')
  t.equal(f.byteLength, bytes, 'unchanged after 10k nonces and many rotations')
  const d = new ReplayFilter()
  t.ok(d.byteLength > 8 << 20 && d.byteLength < 12 << 20, `defaults (2^20 per generation, 1e-6): ${d.byteLength} bytes`)
  t.equal(d.capacity, 1 << 20)
  t.equal(d.rotateMs, 300_000)
  const loose = new ReplayFilter({ capacity: 1 << 20, falsePositive: 1e-3 })
  t.ok(loose.byteLength < d.byteLength, 'a looser target takes less memory')
})

t.test('argument checks', async t => {
  t.throws(() => new ReplayFilter({ capacity: 0 }), ConfigError)
  t.throws(() => new ReplayFilter({ capacity: 1.5 }), ConfigError)
  t.throws(() => new ReplayFilter({ capacity: 2 ** 27 }), ConfigError)
  t.throws(() => new ReplayFilter({ falsePositive: 0 }), ConfigError)
  t.throws(() => new ReplayFilter({ falsePositive: 0.5 }), ConfigError)
  t.throws(() => new ReplayFilter({ rotateMs: 0 }), ConfigError)
  const f = new ReplayFilter({ capacity: 10 })
  t.throws(() => f.seen(new Uint8Array(15), 0, 0), DecodeError)
  t.throws(() => f.seen(new Uint8Array(20), 5, 0), DecodeError)
  t.throws(() => f.seen(new Uint8Array(20), -1, 0), DecodeError)
  t.notOk(f.seen(new Uint8Array(20), 4, 0))
  t.ok(f.seen(new Uint8Array(16), 0, 0), 'the same 16 bytes at another offset')
})
