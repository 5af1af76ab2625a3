/**
 * The credit ledger: earning saturates, charging never goes below 0, dirty tracking (with 0 for
 * deletion), loading persisted records, the maxPeers bound, the priority average and the bound
 * on what we offer, and the credit record's codec.
 */
import t from 'tap'
import fc from 'fast-check'
import { Ledger, MAX_CREDIT, MAX_PRIORITY, decodeCredit, encodeCredit } from '../../src/accounting/ledger.ts'
import { ConfigError, DecodeError, LimitError } from '../../src/util/errors.ts'

/** A valid peer ID: 64 hex characters from a small number. */
const peer = (i: number): string => i.toString(16).padStart(64, '0')
const A = peer(0xa)
const B = peer(0xb)
const C = peer(0xc)

t.test('earn adds and saturates at MAX_CREDIT', async t => {
  const l = new Ledger()
  t.equal(l.credit(A), 0, 'unknown peers have no credit')
  t.equal(l.earn(A, 5), 5)
  t.equal(l.earn(A, 7), 12)
  t.equal(l.credit(A), 12)
  t.equal(l.earn(A, MAX_CREDIT - 13), MAX_CREDIT - 1)
  t.equal(l.earn(A, 10), MAX_CREDIT, 'saturates')
  t.equal(l.earn(A, Number.MAX_SAFE_INTEGER), MAX_CREDIT, 'still saturated')
  t.equal(l.credit(A), MAX_CREDIT)
  t.equal(l.earn(B, 2 ** 40), MAX_CREDIT, 'a newcomer saturates too')
  t.equal(l.earn(C, 0), 0, 'earning nothing keeps nothing')
  t.equal(l.size, 2)
})

t.test('charge deducts at most the credit and returns what it took', async t => {
  const l = new Ledger()
  t.equal(l.charge(A, 10), 0, 'an unknown peer has nothing to take')
  l.earn(A, 10)
  t.equal(l.charge(A, 3), 3)
  t.equal(l.credit(A), 7)
  t.equal(l.charge(A, 0), 0)
  t.equal(l.charge(A, 100), 7, 'only what is there')
  t.equal(l.credit(A), 0)
  t.equal(l.size, 0, 'a peer at 0 is forgotten')
  t.equal(l.charge(A, 1), 0, 'never below 0')
  t.equal(l.credit(A), 0)
})

t.test('charge and earn are inverse up to the bounds (property)', async t => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat({ max: 2 ** 33 })), { maxLength: 40 }), ops => {
    const l = new Ledger()
    let model = 0
    for (const [earn, x] of ops) {
      if (earn) {
        model = Math.min(MAX_CREDIT, model + x)
        if (l.earn(A, x) !== model) return false
      } else {
        const taken = Math.min(model, x)
        model -= taken
        if (l.charge(A, x) !== taken) return false
      }
      if (l.credit(A) !== model || l.size !== (model > 0 ? 1 : 0)) return false
    }
    return true
  }))
})

t.test('invalid peers and amounts throw LimitError', async t => {
  const l = new Ledger()
  for (const bad of ['', 'ab', A.toUpperCase().replace(/0/g, 'F'), A + '0', A.slice(1) + 'g', ' ' + A.slice(1)]) {
    t.throws(() => l.earn(bad, 1), LimitError, `earn(${JSON.stringify(bad)})`)
    t.throws(() => l.charge(bad, 1), LimitError, `charge(${JSON.stringify(bad)})`)
  }
  for (const bad of [-1, 1.5, Number.NaN, Infinity]) {
    t.throws(() => l.earn(A, bad), LimitError, `earn amount ${bad}`)
    t.throws(() => l.charge(A, bad), LimitError, `charge amount ${bad}`)
  }
  t.equal(l.credit('not a peer'), 0)
  t.equal(l.size, 0)
  t.throws(() => new Ledger({ maxPeers: 0 }), ConfigError)
  t.throws(() => new Ledger({ maxPeers: 1.5 }), ConfigError)
})

t.test('dirty tracking: changes since the last take, deletion as 0', async t => {
  const l = new Ledger()
  t.same(l.takeDirty(), [])
  l.earn(A, 5)
  l.earn(B, 3)
  l.earn(A, 1)
  t.same(l.takeDirty(), [[A, 6], [B, 3]], 'latest credit of each changed peer, once')
  t.same(l.takeDirty(), [], 'cleared')
  l.charge(B, 3)
  l.charge(A, 2)
  t.same(l.takeDirty(), [[B, 0], [A, 4]], 'charged to 0 means delete')
  l.charge(C, 5)
  l.charge(A, 0)
  l.earn(A, 0)
  t.same(l.takeDirty(), [], 'nothing changed: nothing dirty')
  l.earn(A, MAX_CREDIT)
  l.takeDirty()
  l.earn(A, 1)
  t.same(l.takeDirty(), [], 'earning at saturation changes nothing')
  l.earn(C, 1)
  l.charge(C, 1)
  t.same(l.takeDirty(), [[C, 0]], 'earned and lost within one flush: delete')
})

t.test('load takes valid entries without marking them dirty and skips junk', async t => {
  const l = new Ledger()
  const D = peer(0xd)
  const junk: Array<[string, number]> = [
    ['x'.repeat(64), 5],
    [A.toUpperCase(), 5],
    [A.slice(2), 5],
    [peer(1), -1],
    [peer(2), 1.5],
    [peer(3), MAX_CREDIT + 1],
    [peer(4), Number.NaN],
    [peer(5), Infinity],
    [peer(6), 0],
    [42 as unknown as string, 5]
  ]
  l.load([[A, 10], ...junk, [B, MAX_CREDIT], [D, 1]])
  t.equal(l.size, 3)
  t.equal(l.credit(A), 10)
  t.equal(l.credit(B), MAX_CREDIT)
  t.equal(l.credit(D), 1)
  for (let i = 1; i <= 6; i++) t.equal(l.credit(peer(i)), 0)
  t.same(l.takeDirty(), [], 'loading marks nothing dirty')
  l.load([[A, 20]])
  t.equal(l.credit(A), 20, 'a later record replaces the credit')
  t.same(l.takeDirty(), [])
  l.charge(A, 5)
  t.same(l.takeDirty(), [[A, 15]])
})

t.test('maxPeers: the lowest is evicted for a richer newcomer, a poorer one is refused', async t => {
  const l = new Ledger({ maxPeers: 3 })
  l.earn(A, 10)
  l.earn(B, 5)
  l.earn(C, 20)
  l.takeDirty()
  const D = peer(0xd)
  t.equal(l.earn(D, 6), 6, 'richer than the lowest: kept')
  t.equal(l.size, 3)
  t.equal(l.credit(B), 0, 'the lowest was evicted')
  t.same(l.takeDirty(), [[B, 0], [D, 6]], 'eviction is a deletion')
  const E = peer(0xe)
  t.equal(l.earn(E, 3), 0, 'poorer than the lowest: refused')
  t.equal(l.earn(E, 6), 0, 'as poor as the lowest: refused too')
  t.equal(l.credit(E), 0)
  t.equal(l.size, 3)
  t.same(l.takeDirty(), [], 'a refusal changes nothing')
  t.equal(l.earn(A, 1), 11, 'known peers earn as usual when full')
  t.same(l.top(10), [{ peer: C, credit: 20 }, { peer: A, credit: 11 }, { peer: D, credit: 6 }])
  l.charge(D, 6)
  t.equal(l.earn(E, 1), 1, 'room again after a peer reached 0')
  t.equal(l.size, 3)
})

t.test('maxPeers bounds loading too; what does not fit is deleted from the store', async t => {
  const l = new Ledger({ maxPeers: 2 })
  l.load([[A, 5], [B, 1], [C, 3]])
  t.equal(l.size, 2)
  t.equal(l.credit(A), 5)
  t.equal(l.credit(C), 3)
  t.same(l.takeDirty(), [[B, 0]], 'the evicted record is deleted')
  l.load([[peer(0xd), 2]])
  t.equal(l.credit(peer(0xd)), 0)
  t.same(l.takeDirty(), [[peer(0xd), 0]], 'a refused record is deleted')
})

t.test('memory stays bounded under a flood of newcomers', async t => {
  const l = new Ledger({ maxPeers: 100 })
  for (let i = 1; i <= 5000; i++) l.earn(peer(i), i % 97 + 1)
  t.equal(l.size, 100)
  const top = l.top(1000)
  t.equal(top.length, 100)
  t.ok(top.every(e => e.credit >= 96), 'the richest are kept')
})

t.test('top: highest first, ties by peer, at most limit', async t => {
  const l = new Ledger()
  l.earn(B, 5)
  l.earn(A, 5)
  l.earn(C, 9)
  t.same(l.top(2), [{ peer: C, credit: 9 }, { peer: A, credit: 5 }])
  t.same(l.top(0), [])
  t.same(l.top(-3), [])
  t.same(l.top(Infinity).length, 3)
})

t.test('observe keeps a 1/16 running average, clamped at MAX_PRIORITY', async t => {
  const l = new Ledger()
  t.equal(l.avgReceived, 0)
  l.observe(16)
  t.equal(l.avgReceived, 1)
  l.observe(1)
  t.equal(l.avgReceived, 1)
  l.observe(33)
  t.equal(l.avgReceived, 3)
  const m = new Ledger()
  m.observe(1e9)
  t.equal(m.avgReceived, MAX_PRIORITY / 16, 'clamped')
  m.observe(Infinity)
  t.equal(m.avgReceived, (MAX_PRIORITY / 16 * 15 + MAX_PRIORITY) / 16)
  t.throws(() => m.observe(-1), LimitError)
  t.throws(() => m.observe(Number.NaN), LimitError)
  const n = new Ledger()
  for (let i = 0; i < 400; i++) n.observe(100)
  t.ok(Math.abs(n.avgReceived - 100) < 1e-6, 'converges to a steady value')
})

t.test('offer is bounded by floor(2 * (1 + avgReceived))', async t => {
  const l = new Ledger()
  t.equal(l.offer(0), 0)
  t.equal(l.offer(1), 1)
  t.equal(l.offer(1000), 2, 'with nothing observed: at most 2')
  t.equal(l.offer(-5), 0, 'never negative')
  t.equal(l.offer(Number.NaN), 0)
  t.equal(l.offer(1.9), 1, 'an integer')
  l.observe(16) // avg 1
  t.equal(l.offer(1000), 4)
  t.equal(l.offer(Infinity), 4)
  l.observe(25) // avg (15 + 25) / 16 = 2.5
  t.equal(l.offer(1000), 7)
})

t.test('offer(x) <= floor(2 * (1 + avg)) and <= x, for any history (property)', async t => {
  fc.assert(fc.property(
    fc.array(fc.double({ min: 0, max: 1e6, noNaN: true })),
    fc.double({ min: 0, max: 1e9, noNaN: true }),
    (seen, x) => {
      const l = new Ledger()
      let avg = 0
      for (const p of seen) {
        l.observe(p)
        avg = (avg * 15 + Math.min(p, MAX_PRIORITY)) / 16
      }
      if (Math.abs(l.avgReceived - avg) > 1e-9 * Math.max(1, avg)) return false
      if (l.avgReceived > MAX_PRIORITY) return false
      const o = l.offer(x)
      return Number.isInteger(o) && o >= 0 && o <= x && o <= Math.floor(2 * (1 + l.avgReceived))
    }
  ))
})

t.test('credit codec: u32 big-endian round trip; wrong lengths are DecodeErrors', async t => {
  t.same([...encodeCredit(0x01020304)], [1, 2, 3, 4])
  t.same([...encodeCredit(MAX_CREDIT)], [0xff, 0xff, 0xff, 0xff])
  t.same([...encodeCredit(0)], [0, 0, 0, 0])
  t.equal(decodeCredit(Uint8Array.from([0x80, 0, 0, 1])), 0x8000_0001)
  fc.assert(fc.property(fc.integer({ min: 0, max: MAX_CREDIT }), c => decodeCredit(encodeCredit(c)) === c))
  fc.assert(fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), b => {
    const e = encodeCredit(decodeCredit(b))
    return e.every((x, i) => x === b[i])
  }))
  for (const n of [0, 3, 5, 8]) t.throws(() => decodeCredit(new Uint8Array(n)), DecodeError, `${n} bytes`)
  t.throws(() => encodeCredit(-1), LimitError)
  t.throws(() => encodeCredit(MAX_CREDIT + 1), LimitError)
  t.throws(() => encodeCredit(0.5), LimitError)
})
