/** Shared setup of the garlic tests: a deterministic suite, destinations, and a helper that runs a handshake. */
import { cryptoReady, createCrypto } from '../../src/crypto/index.ts'
import type { CryptoSuite } from '../../src/crypto/types.ts'
import { generateDestination, type DestinationKeys } from '../../src/identity/destination.ts'
import { Garlic } from '../../src/garlic/garlic.ts'
import type { GarlicOptions } from '../../src/garlic/options.ts'

/** A fixed wall-clock time (ms) for the tests. */
export const NOW = 1_800_000_000_000

export interface Peer { keys: DestinationKeys, g: Garlic }

/** A deterministic suite (seeded) after libsodium loaded. */
export async function suite (seed: string): Promise<CryptoSuite> {
  await cryptoReady()
  return createCrypto({ seed })
}

/** A destination and its Garlic. */
export function peer (c: CryptoSuite, opts?: GarlicOptions, keys = generateDestination(c)): Peer {
  return { keys, g: new Garlic(c, keys, opts) }
}

/** `n` distinct payloads of `size` bytes (byte i of payload k is (k * 31 + i) mod 256). */
export function payloads (n: number, size: number, salt = 0): Uint8Array[] {
  return Array.from({ length: n }, (_, k) => Uint8Array.from({ length: size }, (_, i) => (k * 31 + i + salt * 7) & 0xff))
}

/** Alice → Bob NS, Bob → Alice NSR, Alice → Bob first ES: both established. Returns the three messages. */
export function establish (a: Peer, b: Peer, now = NOW): Uint8Array[] {
  const ns = a.g.seal(b.keys.destination, Uint8Array.of(1), now)
  if (b.g.open(ns, now) === undefined) throw new Error('NS did not open')
  const nsr = b.g.seal(a.keys.destination, Uint8Array.of(2), now)
  if (a.g.open(nsr, now) === undefined) throw new Error('NSR did not open')
  const es = a.g.seal(b.keys.destination, Uint8Array.of(3), now)
  if (b.g.open(es, now) === undefined) throw new Error('first ES did not open')
  return [ns, nsr, es]
}
