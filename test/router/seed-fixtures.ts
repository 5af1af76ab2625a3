/** Signed RouterInfos for seed-file and config tests (no router needed). */
import { loadCrypto } from '../../src/crypto/index.ts'
import { generateRouterKeys, signRouterInfo } from '../../src/identity/index.ts'

/** `n` freshly signed RouterInfos' bytes, each naming one TCP address. */
export async function makeInfos (n: number): Promise<Uint8Array[]> {
  const crypto = await loadCrypto()
  return Array.from({ length: n }, (_, i) => signRouterInfo(crypto, generateRouterKeys(crypto), {
    addresses: [{ url: `tcp://127.0.0.1:${7000 + i}`, cost: 20 }], caps: 'R', options: {}, published: Date.now()
  }).raw)
}

/** Standard base64. */
export const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64')
