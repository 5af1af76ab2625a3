/**
 * What an attacker can and cannot do: forward secrecy after the NSR, replays, tampering,
 * misdirected messages, forged senders, anonymous messages.
 */
import t from 'tap'
import { Garlic } from '../../src/garlic/garlic.ts'
import { encodeNsBody, ES_HEADER_BYTES, seconds, TYPE_ES, TYPE_NSR } from '../../src/garlic/layout.ts'
import { openNs, sealNs, startNs } from '../../src/garlic/handshake.ts'
import { nonce12 } from '../../src/crypto/noise-symmetric.ts'
import { deriveTag } from '../../src/garlic/tags.ts'
import { generateDestination } from '../../src/identity/destination.ts'
import { NOW, peer, suite, type Peer } from './fixtures.ts'

const c = await suite('garlic-security')

function send (from: Peer, to: Peer, p: Uint8Array, now = NOW): Uint8Array {
  return from.g.seal(to.keys.destination, p, now)
}

function dropped (p: Peer): number {
  return Object.values(p.g.stats.dropped).reduce((x, y) => x + y, 0)
}

t.test('forward secrecy: both static secrets and the NS open the pre-NSR traffic but nothing after the NSR', async t => {
  const a = peer(c)
  const b = peer(c)
  const ns = send(a, b, new TextEncoder().encode('hello'))
  b.g.open(ns, NOW)
  const preNsr = [send(a, b, Uint8Array.of(1)), send(a, b, Uint8Array.of(2))]
  for (const m of preNsr) t.ok(b.g.open(m, NOW))
  const nsr = send(b, a, Uint8Array.of(3))
  t.ok(a.g.open(nsr, NOW))
  const postAb: Uint8Array[] = []
  const postBa: Uint8Array[] = []
  for (let i = 0; i < 20; i++) {
    postAb.push(send(a, b, Uint8Array.of(10, i)))
    t.ok(b.g.open(postAb[i]!, NOW), 'the real recipient opens post-NSR ES')
    postBa.push(send(b, a, Uint8Array.of(20, i)))
    t.equal(postBa[i]![0], TYPE_ES)
    t.ok(a.g.open(postBa[i]!, NOW))
  }
  t.equal(b.g.sessionState(a.keys.destination), 'established')

  // The attacker later learns both static secrets and has recorded every message.
  const atk = openNs(c, b.keys.encryption, ns)
  t.same(atk.remoteStatic, a.keys.encryption.publicKey, 'the NS opens with the recipient static secret (not forward secret)')
  const tryOpen = (m: Uint8Array, keys: Uint8Array[]): boolean => {
    for (const key of keys) {
      for (let n = 0; n < 64; n++) {
        try { c.aeadDecrypt(key, nonce12(n), m.subarray(ES_HEADER_BYTES), m.subarray(0, ES_HEADER_BYTES)); return true } catch {}
      }
    }
    return false
  }
  const nsKeys = [atk.ab.key, atk.ab.tagKey, atk.nsrTagKey]
  for (const m of preNsr) t.ok(tryOpen(m, nsKeys), 'pre-NSR ES open with the NS-derived key (documented)')
  const nsTags = new Set<string>()
  for (const k of nsKeys) for (let n = 0; n < 256; n++) nsTags.add(Buffer.from(deriveTag(c, k, n).subarray(0, 8)).toString('hex'))
  let opened = 0
  let linked = 0
  for (const m of [...postAb, ...postBa]) {
    if (tryOpen(m, nsKeys)) opened++
    if (nsTags.has(Buffer.from(m.subarray(1, 9)).toString('hex'))) linked++
  }
  t.equal(opened, 0, 'no post-NSR ES opens under any NS-derived key')
  t.equal(linked, 0, 'no post-NSR tag is one an NS-derived tag key yields')

  // Clones holding only the static keys, fed the whole recorded transcript in order.
  const bobClone = new Garlic(c, b.keys)
  t.ok(bobClone.open(ns, NOW), 'a clone of the recipient opens the NS')
  for (const m of preNsr) t.ok(bobClone.open(m, NOW), 'and the pre-NSR ES')
  t.equal(postAb.filter(m => bobClone.open(m, NOW) !== undefined).length, 0, 'but no post-NSR ES')
  const aliceClone = new Garlic(c, a.keys)
  t.equal(aliceClone.open(nsr, NOW), undefined, 'a clone of the sender cannot open the NSR')
  t.equal(postBa.filter(m => aliceClone.open(m, NOW) !== undefined).length, 0, 'nor any post-NSR ES')
})

t.test('replays: NS, NSR and ES each open once', async t => {
  const a = peer(c)
  const b = peer(c)
  const ns = send(a, b, Uint8Array.of(1))
  t.ok(b.g.open(ns, NOW))
  t.equal(b.g.open(ns, NOW + 1000), undefined)
  t.equal(b.g.stats.dropped.replay, 1)
  const early = send(a, b, Uint8Array.of(2))
  t.ok(b.g.open(early, NOW))
  t.equal(b.g.open(early, NOW), undefined, 'pre-NSR ES replay')
  const nsr = send(b, a, Uint8Array.of(3))
  t.ok(a.g.open(nsr, NOW))
  t.equal(a.g.open(nsr, NOW), undefined, 'NSR replay')
  const es = send(a, b, Uint8Array.of(4))
  t.ok(b.g.open(es, NOW))
  t.equal(b.g.open(es, NOW), undefined, 'ES replay')
  t.equal(b.g.stats.dropped['unknown-tag'], 2, 'a used tag is gone')
  t.equal(a.g.stats.dropped['unknown-tag'], 1)

  // After the replay cache forgot it (and the session expired), the NS is refused by its age.
  b.g.tick(NOW + 11 * 60_000)
  t.equal(b.g.stats.sessions, 0)
  t.equal(b.g.open(ns, NOW + 11 * 60_000), undefined)
  t.equal(b.g.stats.dropped.clock, 1)
  t.equal(b.g.stats.sessions, 0, 'the replay created no session')
})

t.test('an NS from the future or the distant past is refused', async t => {
  const a = peer(c)
  const b = peer(c)
  t.equal(b.g.open(send(a, b, Uint8Array.of(1), NOW + 3 * 60_000), NOW), undefined)
  t.equal(b.g.open(send(peer(c), b, Uint8Array.of(1), NOW - 6 * 60_000), NOW), undefined)
  t.equal(b.g.stats.dropped.clock, 2)
  t.ok(b.g.open(send(peer(c), b, Uint8Array.of(1), NOW + 60_000), NOW), 'within the skew')
})

t.test('a full replay cache refuses old NS rather than forget them', async t => {
  const b = peer(c, { replayCacheSize: 2 })
  const senders = [peer(c), peer(c), peer(c)]
  const msgs = senders.map((s, i) => send(s, b, Uint8Array.of(i), NOW + i * 1000))
  for (const [i, m] of msgs.entries()) t.ok(b.g.open(m, NOW + 2000), `NS ${i} accepted`)
  t.equal(b.g.open(msgs[0]!, NOW + 2000), undefined, 'the evicted entry is not replayable')
  t.equal(b.g.stats.dropped.clock, 1)
  t.equal(b.g.open(msgs[2]!, NOW + 2000), undefined)
  t.equal(b.g.stats.dropped.replay, 1)
})

t.test('flipping any bit of any message type drops it, and the genuine message still opens', async t => {
  const kinds: Array<[string, (a: Peer, b: Peer) => Uint8Array, (a: Peer, b: Peer) => Peer]> = [
    ['NS', (a, b) => send(a, b, Uint8Array.of(1, 2, 3)), (_a, b) => b],
    ['NSR', (a, b) => { b.g.open(send(a, b, Uint8Array.of(0)), NOW); return send(b, a, Uint8Array.of(1, 2, 3)) }, (a) => a],
    ['ES', (a, b) => { b.g.open(send(a, b, Uint8Array.of(0)), NOW); a.g.open(send(b, a, Uint8Array.of(0)), NOW); return send(a, b, Uint8Array.of(1, 2, 3)) }, (_a, b) => b],
    ['anonymous', (a, b) => a.g.sealAnonymous(b.keys.destination, Uint8Array.of(1, 2, 3)), (_a, b) => b]
  ]
  for (const [name, make, receiver] of kinds) {
    const a = peer(c)
    const b = peer(c)
    const msg = make(a, b)
    const r = receiver(a, b)
    let failures = 0
    const positions = new Set<number>([0, 1, 8, 9, 32, 33, 40, 41, 80, 81, 82, 83, msg.length - 17, msg.length - 1])
    for (let i = 0; i < msg.length; i += 13) positions.add(i)
    for (const pos of positions) {
      if (pos >= msg.length) continue
      for (const bit of [0x01, 0x80]) {
        const bad = msg.slice()
        bad[pos]! ^= bit
        if (r.g.open(bad, NOW) !== undefined) failures++
      }
    }
    t.equal(failures, 0, `${name}: no tampered copy opens`)
    t.equal(r.g.open(msg.subarray(0, msg.length - 1), NOW), undefined, `${name}: truncated`)
    t.same(r.g.open(msg, NOW)?.payload, Uint8Array.of(1, 2, 3), `${name}: the genuine one still opens`)
  }
})

t.test('a message for another destination is dropped', async t => {
  const a = peer(c)
  const b = peer(c)
  const eve = peer(c)
  t.equal(eve.g.open(send(a, b, Uint8Array.of(1)), NOW), undefined, 'NS')
  t.equal(eve.g.open(a.g.sealAnonymous(b.keys.destination, Uint8Array.of(1)), NOW), undefined, 'anonymous')
  t.equal(eve.g.stats.dropped.auth, 2)
  const es = send(a, b, Uint8Array.of(2))
  t.equal(eve.g.open(es, NOW), undefined, 'ES')
  t.equal(eve.g.stats.dropped['unknown-tag'], 1)
  t.equal(eve.g.stats.sessions, 0)
})

t.test('an NS claiming a destination whose static key differs is dropped', async t => {
  const alice = generateDestination(c)
  const mallory = generateDestination(c)
  const b = peer(c)
  // Mallory authenticates with her own static key but carries Alice's destination.
  const hs = startNs(c, mallory.encryption, b.keys.destination.encryptionKey)
  const forged = sealNs(c, hs, 0, encodeNsBody({ timestamp: seconds(NOW), destination: alice.destination.bytes, payload: Uint8Array.of(1) }))
  t.equal(b.g.open(forged, NOW), undefined)
  t.equal(b.g.stats.dropped['sender-mismatch'], 1)
  t.equal(b.g.stats.sessions, 0)
  // The same with her own destination is fine.
  const honest = sealNs(c, hs, 1, encodeNsBody({ timestamp: seconds(NOW), destination: mallory.destination.bytes, payload: Uint8Array.of(1) }))
  t.same(b.g.open(honest, NOW)?.from?.bytes, mallory.destination.bytes)
})

t.test('an anonymous message opens with no sender and creates no session', async t => {
  const a = peer(c)
  const b = peer(c)
  const m = a.g.sealAnonymous(b.keys.destination, new TextEncoder().encode('datagram'))
  t.equal(m.length, 8 + 49)
  const r = b.g.open(m, NOW)
  t.equal(r?.from, undefined)
  t.equal(new TextDecoder().decode(r?.payload), 'datagram')
  t.equal(b.g.stats.sessions, 0)
  t.equal(a.g.stats.sessions, 0)
  t.equal(dropped(b), 0)
})

t.test('a tag used with the other message type is dropped', async t => {
  const a = peer(c)
  const b = peer(c)
  b.g.open(send(a, b, Uint8Array.of(0)), NOW)
  const nsr = send(b, a, Uint8Array.of(1))
  const asEs = nsr.slice(0, ES_HEADER_BYTES + 16 + 4)
  asEs[0] = TYPE_ES
  t.equal(a.g.open(asEs, NOW), undefined)
  t.equal(a.g.stats.dropped['wrong-type'], 1)
  t.ok(a.g.open(nsr, NOW))
  const es = send(a, b, Uint8Array.of(2))
  const padded = new Uint8Array(es.length + 40)
  padded.set(es)
  padded[0] = TYPE_NSR
  t.equal(b.g.open(padded, NOW), undefined)
  t.equal(b.g.stats.dropped['wrong-type'], 1)
  t.ok(b.g.open(es, NOW))
})

t.test('low-order ephemeral keys are dropped without touching state; low-order recipients refused', async t => {
  const a = peer(c)
  const b = peer(c)
  const ns = send(a, b, Uint8Array.of(1))
  const badNs = ns.slice()
  badNs.fill(0, 1, 33)
  t.equal(b.g.open(badNs, NOW), undefined)
  t.equal(b.g.stats.dropped.auth, 1)
  t.ok(b.g.open(ns, NOW))
  const nsr = send(b, a, Uint8Array.of(2))
  const badNsr = nsr.slice()
  badNsr.fill(0, 9, 41)
  t.equal(a.g.open(badNsr, NOW), undefined, 'an observer swapping in a low-order eB')
  t.equal(a.g.stats.dropped.auth, 1)
  t.equal(a.g.sessionState(b.keys.destination), 'pending', 'the handshake survives')
  t.same(a.g.open(nsr, NOW)?.payload, Uint8Array.of(2))
  const weakBytes = b.keys.destination.bytes.slice()
  weakBytes.fill(0, 0, 32) // an all-zero (low-order) X25519 key: another destination
  const weak = { ...b.keys.destination, bytes: weakBytes, encryptionKey: weakBytes.slice(0, 32) }
  t.throws(() => a.g.seal(weak, Uint8Array.of(1), NOW), { name: 'CryptoError' })
  t.throws(() => a.g.sealAnonymous(weak, Uint8Array.of(1)), { name: 'CryptoError' })
  t.equal(a.g.stats.sessions, 1, 'no session was created for it')
})
