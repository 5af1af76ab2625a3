/**
 * One hop's cell layer (docs/tunnels.md, "Cells"): the permutation `H` a hop applies to every
 * 1024-byte cell it relays, and its inverse, which creators use to pre-encrypt (outbound) or
 * peel (inbound) cells. A cell is a 16-byte nonce then a 1008-byte body; with `AES` AES-256 on
 * one block under ivKey and `KS(n)` the ChaCha20 (IETF) keystream under layerKey with the first
 * 12 bytes of `n` as nonce and block counter 0:
 *
 * ```
 * H:   n1 = AES-enc(nonce)    body ^= KS(n1)    nonce' = AES-enc(n1)
 * H⁻¹: n1 = AES-dec(nonce')   body ^= KS(n1)    nonce  = AES-dec(n1)
 * ```
 *
 * Works in place and allocates nothing of its own per cell (node:crypto's outputs aside). It
 * neither authenticates (the endpoint's MAC does) nor detects replays (`replay.ts` does).
 */
import type { BlockCipher, CryptoSuite } from '../crypto/types.ts'
import { CryptoError, DecodeError } from '../util/errors.ts'

/** Bytes of a cell. */
export const CELL_BYTES = 1024
/** Bytes of a cell's nonce (its first bytes). */
export const CELL_NONCE_BYTES = 16
/** Bytes of a cell's body (after the nonce). */
export const CELL_BODY_BYTES = CELL_BYTES - CELL_NONCE_BYTES
/** Bytes of the MAC in a clear cell (BLAKE2b-128 over the payload), right after the nonce. */
export const MAC_BYTES = 16
export const MAC_OFFSET = CELL_NONCE_BYTES
/** Offset of the payload in a clear cell: after the nonce and the MAC. */
export const PAYLOAD_OFFSET = MAC_OFFSET + MAC_BYTES

/** The layer of one hop, bound to that hop's layerKey and ivKey (both copied). */
export class HopLayer {
  private readonly crypto: CryptoSuite
  private readonly layerKey: Uint8Array
  private readonly aes: BlockCipher
  /** `n1`, the once-encrypted nonce. */
  private readonly n1 = new Uint8Array(CELL_NONCE_BYTES)
  /** Its first 12 bytes: the keystream nonce. */
  private readonly streamNonce = this.n1.subarray(0, 12)

  /** Throws CryptoError unless both keys are 32 bytes. */
  constructor (crypto: CryptoSuite, layerKey: Uint8Array, ivKey: Uint8Array) {
    if (layerKey.length !== 32 || ivKey.length !== 32) throw new CryptoError('layer and IV keys must be 32 bytes')
    this.crypto = crypto
    this.layerKey = Uint8Array.from(layerKey)
    this.aes = crypto.blockCipher(ivKey)
  }

  /** Applies `H` to the cell at `cell[off, off + 1024)`, in place (what a hop does). */
  apply (cell: Uint8Array, off = 0): void {
    checkCell(cell, off)
    const n1 = this.n1
    this.aes.encrypt(cell, off, n1, 0)
    this.crypto.chacha20Xor(this.layerKey, this.streamNonce, cell, cell, off + CELL_NONCE_BYTES, CELL_BODY_BYTES, off + CELL_NONCE_BYTES)
    this.aes.encrypt(n1, 0, cell, off)
  }

  /** Applies `H⁻¹` to the cell at `cell[off, off + 1024)`, in place (what a creator does). */
  invert (cell: Uint8Array, off = 0): void {
    checkCell(cell, off)
    const n1 = this.n1
    this.aes.decrypt(cell, off, n1, 0)
    this.crypto.chacha20Xor(this.layerKey, this.streamNonce, cell, cell, off + CELL_NONCE_BYTES, CELL_BODY_BYTES, off + CELL_NONCE_BYTES)
    this.aes.decrypt(n1, 0, cell, off)
  }

  /** Wipes the keys and scratch; the layer must not be used afterwards. */
  dispose (): void {
    this.layerKey.fill(0)
    this.n1.fill(0)
    this.aes.dispose()
  }
}

/** DecodeError unless `cell` holds a whole cell at `off`. */
export function checkCell (cell: Uint8Array, off: number): void {
  if (!Number.isInteger(off) || off < 0 || off > cell.length - CELL_BYTES) {
    throw new DecodeError(`truncated: no ${CELL_BYTES}-byte cell at offset ${off} of ${cell.length} bytes`)
  }
}
