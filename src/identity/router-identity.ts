/**
 * A router's identity: its Ed25519 signing key and X25519 static (link handshake) key.
 * The public part, {@link RouterIdentity}, has a fixed 65-byte layout; its SHA-256 is the
 * router's ID ({@link routerHash}). Private keys ({@link RouterKeys}) never leave this process
 * except through the keystore; this module does no I/O.
 */
import type { CryptoSuite, KeyPair } from '../crypto/types.ts'
import { decode, encode, type Codec } from '../wire/codec.ts'
import { ConfigError, DecodeError } from '../util/errors.ts'

/** Layout version of {@link RouterIdentity}. */
export const ROUTER_IDENTITY_VERSION = 1
/** Size of an encoded {@link RouterIdentity}. */
export const ROUTER_IDENTITY_BYTES = 65

/** The public keys of a router. */
export interface RouterIdentity {
  /** Ed25519 public key (32 bytes): signs the RouterInfo. */
  readonly signingKey: Uint8Array
  /** X25519 public key (32 bytes): the link handshake's static key. */
  readonly staticKey: Uint8Array
}

/** A router's key pairs and public identity. `signing.secretKey` is libsodium's 64-byte form. */
export interface RouterKeys {
  readonly identity: RouterIdentity
  readonly signing: KeyPair
  readonly static: KeyPair
}

/**
 * Codec of {@link RouterIdentity}, 65 bytes:
 * ```
 * u8  version = 1
 * 32  signingKey (Ed25519 public key)
 * 32  staticKey  (X25519 public key)
 * ```
 * An unknown version is a DecodeError.
 */
export const routerIdentityCodec: Codec<RouterIdentity> = {
  maxSize: ROUTER_IDENTITY_BYTES,
  encode (w, v) {
    if (v.signingKey.length !== 32 || v.staticKey.length !== 32) throw new ConfigError('router identity keys must be 32 bytes')
    w.u8(ROUTER_IDENTITY_VERSION).bytes(v.signingKey).bytes(v.staticKey)
  },
  decode (r) {
    const version = r.u8()
    if (version !== ROUTER_IDENTITY_VERSION) throw new DecodeError(`unknown router identity version ${version}`)
    return { signingKey: r.bytes(32).slice(), staticKey: r.bytes(32).slice() }
  }
}

/** The 65-byte encoding of `id`. */
export function encodeRouterIdentity (id: RouterIdentity): Uint8Array {
  return encode(routerIdentityCodec, id)
}

/** Parses a 65-byte router identity; DecodeError otherwise. */
export function decodeRouterIdentity (bytes: Uint8Array): RouterIdentity {
  return decode(routerIdentityCodec, bytes)
}

/** The router's ID: SHA-256 of its encoded identity (32 bytes). */
export function routerHash (crypto: CryptoSuite, id: RouterIdentity): Uint8Array {
  return crypto.sha256(encodeRouterIdentity(id))
}

/**
 * Router keys from their secrets: a 32-byte Ed25519 seed and a 32-byte X25519 secret key.
 * Public keys are derived, so the result is always consistent.
 */
export function routerKeysFromSecrets (crypto: CryptoSuite, signingSeed: Uint8Array, staticSecret: Uint8Array): RouterKeys {
  if (signingSeed.length !== 32 || staticSecret.length !== 32) throw new ConfigError('router secrets must be 32 bytes each')
  const signing = crypto.ed25519Keypair(signingSeed)
  const stat: KeyPair = { secretKey: Uint8Array.from(staticSecret), publicKey: crypto.x25519Public(staticSecret) }
  return { identity: { signingKey: signing.publicKey, staticKey: stat.publicKey }, signing, static: stat }
}

/** Fresh router keys from the suite's randomness. */
export function generateRouterKeys (crypto: CryptoSuite): RouterKeys {
  return routerKeysFromSecrets(crypto, crypto.randomBytes(32), crypto.randomBytes(32))
}
