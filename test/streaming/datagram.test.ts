/**
 * Tests of the datagram codecs: repliable datagrams round-trip and verify, are bound to their
 * recipient, reject forgeries and malformed input with typed errors; raw datagrams are bounded.
 */
import t from 'tap'
import fc from 'fast-check'
import { loadCrypto } from '../../src/crypto/index.ts'
import { destinationHash, generateDestination } from '../../src/identity/destination.ts'
import {
  decodeRaw, decodeRepliable, encodeRaw, encodeRepliable, MAX_RAW_PAYLOAD, MAX_REPLIABLE_PAYLOAD, REPLIABLE_OVERHEAD
} from '../../src/streaming/datagram.ts'
import { Protocol } from '../../src/streaming/protocol.ts'
import { CryptoError, DecodeError, LimitError } from '../../src/util/errors.ts'

const crypto = await loadCrypto()
const alice = generateDestination(crypto)
const bob = generateDestination(crypto)
const bobHash = destinationHash(crypto, bob.destination.bytes)
const carolHash = destinationHash(crypto, generateDestination(crypto).destination.bytes)
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

t.test('protocol numbers are I2P/SAM', async t => {
  t.same({ ...Protocol }, { STREAMING: 6, REPLIABLE: 17, DATAGRAM: 17, RAW: 18 })
})

t.test('repliable: layout, round trip, sender identity', async t => {
  const payload = new TextEncoder().encode('hello bob')
  const d = encodeRepliable(crypto, alice, bobHash, payload)
  t.equal(d.length, 391 + 64 + payload.length)
  t.equal(REPLIABLE_OVERHEAD, 455)
  t.equal(hex(d.subarray(0, 391)), hex(alice.destination.bytes), 'starts with the sender destination')
  const signed = new Uint8Array([...bobHash, ...payload])
  t.ok(crypto.verify(d.subarray(391, 455), signed, alice.destination.signingKey), 'signature over recipient hash ‖ payload')
  t.equal(hex(d.subarray(455)), hex(payload))
  const got = decodeRepliable(crypto, d, bobHash)
  t.equal(hex(got.from.bytes), hex(alice.destination.bytes))
  t.equal(hex(got.payload), hex(payload))
  t.equal(decodeRepliable(crypto, encodeRepliable(crypto, alice, bobHash, new Uint8Array(0)), bobHash).payload.length, 0, 'empty payload')
})

t.test('repliable: forged, altered or misdirected datagrams fail with CryptoError', async t => {
  const d = encodeRepliable(crypto, alice, bobHash, new Uint8Array([1, 2, 3]))
  t.throws(() => decodeRepliable(crypto, d, carolHash), CryptoError, 'replayed to another recipient')
  const altered = d.slice()
  altered[altered.length - 1]! ^= 1
  t.throws(() => decodeRepliable(crypto, altered, bobHash), CryptoError, 'payload altered')
  const spoofed = d.slice()
  spoofed.set(bob.destination.bytes, 0)
  t.throws(() => decodeRepliable(crypto, spoofed, bobHash), CryptoError, 'another sender claimed')
})

t.test('repliable: malformed input is a DecodeError, oversize is refused both ways', async t => {
  const d = encodeRepliable(crypto, alice, bobHash, new Uint8Array(10))
  t.throws(() => decodeRepliable(crypto, d.subarray(0, 300), bobHash), DecodeError, 'truncated destination')
  t.throws(() => decodeRepliable(crypto, d.subarray(0, 400), bobHash), DecodeError, 'truncated signature')
  const badCert = d.slice()
  badCert[384] = 9
  t.throws(() => decodeRepliable(crypto, badCert, bobHash), DecodeError, 'bad certificate')
  t.throws(() => encodeRepliable(crypto, alice, bobHash, new Uint8Array(MAX_REPLIABLE_PAYLOAD + 1)), LimitError)
  t.throws(() => encodeRepliable(crypto, alice, bobHash.subarray(1), new Uint8Array(1)), LimitError, 'hash must be 32 bytes')
  t.throws(() => decodeRepliable(crypto, new Uint8Array(REPLIABLE_OVERHEAD + MAX_REPLIABLE_PAYLOAD + 1), bobHash), DecodeError)
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), bytes => {
    try { decodeRepliable(crypto, bytes, bobHash); return false } catch (e) { return e instanceof DecodeError || e instanceof CryptoError }
  }), { numRuns: 300 })
})

t.test('raw: the payload itself, bounded', async t => {
  const p = new Uint8Array([9, 8, 7])
  const d = encodeRaw(p)
  t.equal(hex(d), '090807')
  t.equal(hex(decodeRaw(d)), '090807')
  t.equal(encodeRaw(new Uint8Array(MAX_RAW_PAYLOAD)).length, MAX_RAW_PAYLOAD)
  t.throws(() => encodeRaw(new Uint8Array(MAX_RAW_PAYLOAD + 1)), LimitError)
  t.throws(() => decodeRaw(new Uint8Array(MAX_RAW_PAYLOAD + 1)), DecodeError)
})
