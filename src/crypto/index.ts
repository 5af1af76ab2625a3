/** The crypto layer: one suite interface and its libsodium implementation. */
export type { AeadCipher, CryptoSuite, KeyPair } from './types.ts'
export { KEY_BYTES, TAG_BYTES, SIGNATURE_BYTES } from './types.ts'
export { cryptoReady, createCrypto, loadCrypto } from './sodium.ts'
export type { CryptoOptions } from './sodium.ts'
