/**
 * The hop's replay filter (docs/tunnels.md, "Cells"): a decaying Bloom filter of cell nonces
 * seen, so a hop drops a cell it has already relayed. Pure: the caller passes `now`; no timers.
 *
 * Two generations, current and previous, are each a blocked Bloom filter of the "split block"
 * kind: a nonce picks one 64-byte block (sixteen 32-bit words) and sets one bit in each word.
 * A lookup checks both generations; an insert goes to the current one. The current generation
 * becomes the previous one (and the old previous one is cleared) when `rotateMs` has passed or
 * when it holds `capacity` nonces, so memory is fixed at construction and every nonce is
 * remembered for at least `rotateMs` or `capacity` later inserts, whichever ends first (and
 * forgotten after at most two rotations).
 *
 * The nonce's own bits choose the block and the bits, unhashed, so they must be unpredictable
 * to whoever sends the cells, or a sender could aim its cells at a few blocks and make honest
 * cells there look replayed. A hop therefore checks the nonce its own layer wrote (the received
 * nonce through AES under the hop's ivKey, twice), not the nonce it received: a keyed
 * permutation, so the same cell replayed gives the same value, and anything else looks random.
 *
 * Sizing: each generation gets the fewest blocks that keep its false-positive rate when full at
 * `falsePositive / 2` (the exact expectation over the Poisson-distributed block loads), so a
 * fresh nonce is wrongly reported with probability at most about `falsePositive`. The defaults
 * (2^20 nonces, 1e-6) take ~42.5 bits per nonce: 2 × 5.3 MiB.
 */
import { getU32 } from '../util/bytes.ts'
import { ConfigError, DecodeError } from '../util/errors.ts'

/** Bytes of a nonce as read (the cell's first 16 bytes). */
const NONCE_BYTES = 16
/** 32-bit words per block, and so bits set per nonce. */
const WORDS = 16

/** Options of {@link ReplayFilter}. */
export interface ReplayFilterOptions {
  /** Nonces per generation before it rotates; default 2^20. */
  capacity?: number
  /** Target false-positive rate of a fresh nonce with both generations full; default 1e-6. */
  falsePositive?: number
  /** Milliseconds between time-driven rotations; default 300 000. */
  rotateMs?: number
}

/** Expected false-positive rate of one generation whose blocks hold on average `lambda` nonces. */
function generationFalsePositive (lambda: number): number {
  const miss = 1 - 1 / 32 // a given bit of a word stays clear after one insert
  let p = Math.exp(-lambda)
  let sum = 0
  const top = Math.ceil(lambda + 12 * Math.sqrt(lambda) + 30)
  for (let load = 0; load <= top; load++) {
    if (load > 0) p *= lambda / load
    sum += p * Math.pow(1 - Math.pow(miss, load), WORDS)
  }
  return sum
}

/** The fewest blocks for which a generation of `capacity` nonces stays at or under `fp`. */
function blocksFor (capacity: number, fp: number): number {
  let bitsPerNonce = 8
  while (bitsPerNonce < 512 && generationFalsePositive(WORDS * 32 / bitsPerNonce) > fp) bitsPerNonce += 0.25
  return Math.max(1, Math.ceil(capacity * bitsPerNonce / (WORDS * 32)))
}

/** A decaying Bloom filter of cell nonces. See the module comment. */
export class ReplayFilter {
  /** Bytes held: both generations; fixed at construction. */
  readonly byteLength: number
  /** Nonces per generation before a rotation. */
  readonly capacity: number
  /** Milliseconds between time-driven rotations. */
  readonly rotateMs: number
  private readonly blocks: number
  private readonly mask = new Uint32Array(WORDS)
  private current: Uint32Array
  private previous: Uint32Array
  private currentCount = 0
  private previousCount = 0
  private lastRotate = Number.NaN

  /** Throws ConfigError for a capacity outside 1..2^26, a rate outside (0, 0.5) or a non-positive period. */
  constructor (opts: ReplayFilterOptions = {}) {
    const capacity = opts.capacity ?? 1 << 20
    const fp = opts.falsePositive ?? 1e-6
    const rotateMs = opts.rotateMs ?? 300_000
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 26) throw new ConfigError('replay filter capacity must be an integer in 1..2^26')
    if (!(fp >= 1e-15 && fp < 0.5)) throw new ConfigError('replay filter falsePositive must be in [1e-15, 0.5)')
    if (!(rotateMs > 0)) throw new ConfigError('replay filter rotateMs must be positive')
    this.capacity = capacity
    this.rotateMs = rotateMs
    this.blocks = blocksFor(capacity, fp / 2)
    this.current = new Uint32Array(this.blocks * WORDS)
    this.previous = new Uint32Array(this.blocks * WORDS)
    this.byteLength = 2 * this.current.byteLength + this.mask.byteLength
  }

  /** Nonces currently remembered (both generations). */
  get size (): number { return this.currentCount + this.previousCount }

  /**
   * Whether the 16-byte nonce at `nonce[off, off + 16)` was (probably) seen before; if not,
   * records it. `now` is in milliseconds, from any monotonic origin; the first call starts the
   * rotation clock. Throws DecodeError if fewer than 16 bytes are there.
   */
  seen (nonce: Uint8Array, off: number, now: number): boolean {
    if (!Number.isInteger(off) || off < 0 || off > nonce.length - NONCE_BYTES) {
      throw new DecodeError(`truncated: no ${NONCE_BYTES}-byte nonce at offset ${off} of ${nonce.length} bytes`)
    }
    this.tick(now)
    const base = this.hash(nonce, off)
    if (this.has(this.current, base)) return true
    if (this.previousCount > 0 && this.has(this.previous, base)) return true
    if (this.currentCount >= this.capacity) this.rotate(now)
    const gen = this.current
    const m = this.mask
    for (let i = 0; i < WORDS; i++) gen[base + i]! |= m[i]!
    this.currentCount++
    return false
  }

  /** Rotates on time: once after `rotateMs`, both generations after twice that. */
  private tick (now: number): void {
    if (Number.isNaN(this.lastRotate)) { this.lastRotate = now; return }
    const elapsed = now - this.lastRotate
    if (elapsed < this.rotateMs) return
    if (elapsed >= 2 * this.rotateMs) {
      if (this.currentCount > 0) this.current.fill(0)
      if (this.previousCount > 0) this.previous.fill(0)
      this.currentCount = 0
      this.previousCount = 0
      this.lastRotate = now
      return
    }
    this.rotate(now)
  }

  /** The current generation becomes the previous one; the old previous one, cleared, the current. */
  private rotate (now: number): void {
    const old = this.previous
    if (this.previousCount > 0) old.fill(0)
    this.previous = this.current
    this.previousCount = this.currentCount
    this.current = old
    this.currentCount = 0
    this.lastRotate = now
  }

  /**
   * Reads the nonce's bits: returns its block's first word and leaves the per-word bit masks in
   * `mask` (the first 4 bytes pick the block, the other 12 give 5 bits per word).
   */
  private hash (nonce: Uint8Array, off: number): number {
    const h0 = getU32(nonce, off)
    let h1 = getU32(nonce, off + 4)
    let h2 = getU32(nonce, off + 8)
    let h3 = getU32(nonce, off + 12)
    const m = this.mask
    for (let i = 0; i < 6; i++) { m[i] = 1 << (h1 & 31); h1 >>>= 5 }
    for (let i = 6; i < 12; i++) { m[i] = 1 << (h2 & 31); h2 >>>= 5 }
    for (let i = 12; i < WORDS; i++) { m[i] = 1 << (h3 & 31); h3 >>>= 5 }
    return Math.floor(h0 * this.blocks / 0x1_0000_0000) * WORDS
  }

  private has (gen: Uint32Array, base: number): boolean {
    const m = this.mask
    for (let i = 0; i < WORDS; i++) if ((gen[base + i]! & m[i]!) === 0) return false
    return true
  }
}
