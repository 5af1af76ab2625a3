/**
 * Micro-benchmark (not a test): µs per ES seal + open of a 900-byte payload between two
 * established sessions, with the real (random) libsodium suite.
 *   node --import tsx test/garlic/bench-es.ts [count]
 */
import { loadCrypto } from '../../src/crypto/index.ts'
import { generateDestination } from '../../src/identity/destination.ts'
import { Garlic } from '../../src/garlic/garlic.ts'

const NOW = Date.now()
const c = await loadCrypto()
const ka = generateDestination(c)
const kb = generateDestination(c)
const a = new Garlic(c, ka)
const b = new Garlic(c, kb)
b.open(a.seal(kb.destination, new Uint8Array(1), NOW), NOW)
a.open(b.seal(ka.destination, new Uint8Array(1), NOW), NOW)
b.open(a.seal(kb.destination, new Uint8Array(1), NOW), NOW)
const payload = new Uint8Array(900).fill(7)
const count = Number(process.argv[2] ?? 200_000)

function run (n: number, dir: 'ab' | 'ba'): number {
  const [s, r, to] = dir === 'ab' ? [a, b, kb.destination] : [b, a, ka.destination]
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    const m = s.seal(to, payload, NOW + i)
    if (r.open(m, NOW + i) === undefined) throw new Error('ES did not open')
  }
  return (performance.now() - t0) * 1000 / n
}

run(20_000, 'ab')
const results: number[] = []
for (let k = 0; k < 5; k++) results.push(run(count / 5, k % 2 === 0 ? 'ab' : 'ba'))
results.sort((x, y) => x - y)
const sealOnly = (() => {
  const t0 = performance.now()
  for (let i = 0; i < count / 5; i++) a.seal(kb.destination, payload, NOW + count + i)
  return (performance.now() - t0) * 5000 / count
})()
console.log(`ES seal+open, 900-byte payload: median ${results[2]!.toFixed(2)} µs (runs: ${results.map(x => x.toFixed(2)).join(', ')}); seal alone ${sealOnly.toFixed(2)} µs; backend ${c.backend}`)

// The floor: the same primitives without any garlic bookkeeping (2 AEAD, 2 tag hashes, 2 buffers).
const cipher = c.aeadCipher(c.randomBytes(32))
const tagKey = c.randomBytes(32)
const ctr = new Uint8Array(8)
const floor = (() => {
  const n = count / 5
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    const out = new Uint8Array(925)
    c.blake2b(ctr, 16, tagKey)
    cipher.seal(i, payload, out, 9, out.subarray(0, 9))
    const plain = new Uint8Array(900)
    c.blake2b(ctr, 16, tagKey)
    if (cipher.open(i, out.subarray(9), plain, 0, out.subarray(0, 9)) < 0) throw new Error('floor')
  }
  return (performance.now() - t0) * 1000 / n
})()
console.log(`floor (primitives only): ${floor.toFixed(2)} µs`)
