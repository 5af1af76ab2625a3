/**
 * One hop's cell layer (docs/tunnels.md, "Cells"): the permutation `H` a hop applies to every
 * 1024-byte cell it relays, and its inverse, which creators use to pre-encrypt (outbound) or
 * peel (inbound) cells. A cell is a 16-byte nonce then a 1008-byte body; with `AES` AES-256 on
 * one block under ivKey and `KS(n)` the AES-256-CTR keystream under layerKey with IV the first
 * 12 bytes of `n` then a 32-bit zero counter:
 *
 * ```
 * H:   n1 = AES-enc(nonce)    body ^= KS(n1)    nonce' = AES-enc(n1)
 * H⁻¹: n1 = AES-dec(nonce')   body ^= KS(n1)    nonce  = AES-dec(n1)
 * ```
 *
 * Works in place; a batch of cells costs three AES calls in all, not three per cell
 * (`crypto/ctr.ts`). It
 * neither authenticates (the endpoint's MAC does) nor detects replays (`replay.ts` does).
 */
import type { BlockCipher, CryptoSuite } from '../crypto/types.ts'
import { CryptoError, DecodeError } from '../util/errors.ts'
import { ctrXorMany } from '../crypto/ctr.ts'

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

/** Where a batch of cells is: one array holding them all, or each cell's own array. */
export type CellBufs = Uint8Array | readonly Uint8Array[]

/**
 * Scratch of the batch transforms: the cells' nonces, then their `n1`s. Shared by every layer
 * (one transform runs at a time), grown as needed.
 */
let scratch = new Uint8Array(2 * CELL_NONCE_BYTES * 64)
/** Offsets of the batch's bodies (scratch, as above). */
const bodies: number[] = []
/** `n` zero offsets (cells each in their own array). */
let zeroOffs = new Uint32Array(64)
function zeros (n: number): Uint32Array {
  if (zeroOffs.length < n) zeroOffs = new Uint32Array(n)
  return zeroOffs
}

/** The layer of one hop, bound to that hop's layerKey and ivKey (both copied). */
export class HopLayer {
  private readonly aes: BlockCipher
  private readonly ctr: BlockCipher

  /** Throws CryptoError unless both keys are 32 bytes. */
  constructor (crypto: CryptoSuite, layerKey: Uint8Array, ivKey: Uint8Array) {
    if (layerKey.length !== 32 || ivKey.length !== 32) throw new CryptoError('layer and IV keys must be 32 bytes')
    this.aes = crypto.blockCipher(ivKey)
    this.ctr = crypto.blockCipher(layerKey)
  }

  /** Applies `H` to the cell at `cell[off, off + 1024)`, in place (what a hop does). */
  apply (cell: Uint8Array, off = 0): void { this.transform([cell], [off], 1, true) }

  /** Applies `H⁻¹` to the cell at `cell[off, off + 1024)`, in place (what a creator does). */
  invert (cell: Uint8Array, off = 0): void { this.transform([cell], [off], 1, false) }

  /**
   * Applies `H` to the `n` cells at `cells[i][offs[i], offs[i] + 1024)` (or, when `cells` is one
   * array, at `cells[offs[i], …)`; without `offs`, each cell is its own array at offset 0), in
   * place. The same as `apply` on each, but the AES steps of all of them take one call each
   * (per-call cost is most of what one block costs). Throws DecodeError (and changes nothing) if
   * a cell is truncated.
   */
  applyAll (cells: readonly Uint8Array[]): void
  applyAll (cells: CellBufs, offs: ArrayLike<number>, n?: number): void
  applyAll (cells: CellBufs, offs?: ArrayLike<number>, n?: number): void { this.transform(cells, offs, n, true) }

  /** Applies `H⁻¹` to `n` cells, as {@link applyAll} applies `H`. */
  invertAll (cells: readonly Uint8Array[]): void
  invertAll (cells: CellBufs, offs: ArrayLike<number>, n?: number): void
  invertAll (cells: CellBufs, offs?: ArrayLike<number>, n?: number): void { this.transform(cells, offs, n, false) }

  private transform (bufs: CellBufs, offs: ArrayLike<number> | undefined, count: number | undefined, forward: boolean): void {
    const one = bufs instanceof Uint8Array ? bufs : undefined
    const n = count ?? offs?.length ?? (bufs as readonly Uint8Array[]).length
    if (n <= 0) return
    const at = offs ?? zeros(n)
    for (let i = 0; i < n; i++) checkCell(one ?? (bufs as readonly Uint8Array[])[i]!, at[i]!)
    const half = n * CELL_NONCE_BYTES
    if (scratch.length < 2 * half) scratch = new Uint8Array(2 * half)
    const s = scratch
    for (let i = 0; i < n; i++) {
      const c = one ?? (bufs as readonly Uint8Array[])[i]!
      const o = at[i]!
      for (let k = 0; k < CELL_NONCE_BYTES; k++) s[i * CELL_NONCE_BYTES + k] = c[o + k]!
    }
    // n1 = AES(nonce) for every cell at once, then every body's keystream at once, then nonce' = AES(n1).
    if (forward) this.aes.encrypt(s, 0, s, half, n)
    else this.aes.decrypt(s, 0, s, half, n)
    bodies.length = n
    for (let i = 0; i < n; i++) bodies[i] = at[i]! + CELL_NONCE_BYTES
    ctrXorMany(this.ctr, s, half, bufs, bodies, n, CELL_BODY_BYTES)
    if (forward) this.aes.encrypt(s, half, s, 0, n)
    else this.aes.decrypt(s, half, s, 0, n)
    for (let i = 0; i < n; i++) {
      const c = one ?? (bufs as readonly Uint8Array[])[i]!
      const o = at[i]!
      for (let k = 0; k < CELL_NONCE_BYTES; k++) c[o + k] = s[i * CELL_NONCE_BYTES + k]!
    }
    s.fill(0, 0, 2 * half)
  }

  /** Wipes the keys; the layer must not be used afterwards. */
  dispose (): void {
    this.aes.dispose()
    this.ctr.dispose()
  }
}

/** DecodeError unless `cell` holds a whole cell at `off`. */
export function checkCell (cell: Uint8Array, off: number): void {
  if (!Number.isInteger(off) || off < 0 || off > cell.length - CELL_BYTES) {
    throw new DecodeError(`truncated: no ${CELL_BYTES}-byte cell at offset ${off} of ${cell.length} bytes`)
  }
}
