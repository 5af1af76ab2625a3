/**
 * The signed-record convention RouterInfo and LeaseSet share: the encoding ends with a 64-byte
 * Ed25519 signature over every byte before it.
 */
import type { CryptoSuite } from '../crypto/types.ts'

/** Bytes of the trailing Ed25519 signature. */
export const SIGNATURE_BYTES = 64

/** `body` followed by its signature by `secretKey` (libsodium's 64-byte form). */
export function appendSignature (crypto: CryptoSuite, body: Uint8Array, secretKey: Uint8Array): Uint8Array {
  const raw = new Uint8Array(body.length + SIGNATURE_BYTES)
  raw.set(body)
  raw.set(crypto.sign(body, secretKey), body.length)
  return raw
}

/** Whether the trailing `signature` of `raw` is `publicKey`'s signature of the bytes before it. */
export function trailingSignatureValid (crypto: CryptoSuite, raw: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  return crypto.verify(signature, raw.subarray(0, raw.length - SIGNATURE_BYTES), publicKey)
}
