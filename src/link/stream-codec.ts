/**
 * Frames on reliable (byte-stream) transports. Pure: bytes in, bytes out.
 *
 *   frame = maskedLen u16 | AEAD(frame plaintext) (len bytes, tag included)
 *
 * `len` is XORed with a per-frame mask (keys.ts `MaskStream`), so the stream shows no plaintext
 * structure. The AEAD nonce is an implicit per-direction counter: a replayed, dropped,
 * reordered or modified frame fails authentication, which is fatal to the link (FrameError).
 * Keys rotate every `rekeyEvery` frames on both sides (deterministic), and at once after a frame
 * that carries a REKEY block (time-based rotation; the session calls `rotate`).
 */
import type { CryptoSuite } from '../crypto/types.ts'
import { FrameError, LimitError } from '../util/errors.ts'
import { DirectionKeys, MaskStream } from './keys.ts'

/** Largest ciphertext a 16-bit length can announce. */
export const MAX_STREAM_CIPHERTEXT = 65535

/** Seals frame plaintexts for one direction. */
export class StreamSealer {
  private counter = 0
  private index = 0
  private readonly masks: MaskStream

  constructor (c: CryptoSuite, readonly keys: DirectionKeys, private readonly rekeyEvery: number) {
    this.masks = new MaskStream(c, keys.maskKey)
  }

  /**
   * Seals `pt` as the next frame and appends its parts (masked length, ciphertext, tag: fresh
   * arrays the caller owns) to `parts`; returns the bytes appended (pt.length + 18). The
   * ciphertext is OpenSSL's own output, never copied into a caller's buffer.
   */
  sealParts (pt: Uint8Array, parts: Uint8Array[]): number {
    const ctLen = pt.length + 16
    if (ctLen > MAX_STREAM_CIPHERTEXT) throw new LimitError(`frame of ${pt.length} bytes is too large`)
    const m = this.masks.mask16(this.index++) ^ ctLen
    const [body, tag] = this.keys.cipher.sealParts(this.counter++, pt)
    parts.push(Uint8Array.of(m >>> 8, m & 0xff), body, tag)
    if (this.counter >= this.rekeyEvery) this.rotate()
    return ctLen + 2
  }

  /** Switches to the next key epoch now. */
  rotate (): void { this.keys.rotate(); this.counter = 0 }
}

const INITIAL_BUFFER = 2048

/** Reassembles and opens frames from stream chunks for one direction. */
export class StreamOpener {
  private counter = 0
  private index = 0
  private readonly masks: MaskStream
  private need = -1
  private readonly hdr = new Uint8Array(2)
  private hdrFill = 0
  /** Reassembly buffer: small at first, grown (up to maxCiphertext) by the largest frame seen, so idle links cost little memory. */
  private asm = new Uint8Array(INITIAL_BUFFER)
  private asmFill = 0

  /**
   * @param maxCiphertext largest frame accepted (per-peer frame-size limit)
   * @param onFrame receives each frame plaintext (a fresh array it owns and may keep)
   */
  constructor (c: CryptoSuite, readonly keys: DirectionKeys, private readonly rekeyEvery: number,
    private readonly maxCiphertext: number, private readonly onFrame: (pt: Uint8Array) => void) {
    this.masks = new MaskStream(c, keys.maskKey)
  }

  /** Bytes held for an incomplete frame. */
  get buffered (): number { return this.hdrFill + this.asmFill }

  /** Feeds received bytes; calls onFrame per complete frame. Throws FrameError on a bad frame. */
  push (chunk: Uint8Array): void {
    let off = 0
    const n = chunk.length
    while (off < n) {
      if (this.need < 0) {
        if (this.hdrFill === 0 && n - off >= 2) {
          this.setLength((chunk[off]! << 8) | chunk[off + 1]!)
          off += 2
        } else {
          this.hdr[this.hdrFill++] = chunk[off++]!
          if (this.hdrFill < 2) continue
          this.hdrFill = 0
          this.setLength((this.hdr[0]! << 8) | this.hdr[1]!)
        }
      }
      const need = this.need
      if (this.asmFill === 0 && n - off >= need) {
        this.openFrame(chunk.subarray(off, off + need))
        off += need
        continue
      }
      const take = Math.min(need - this.asmFill, n - off)
      this.asm.set(chunk.subarray(off, off + take), this.asmFill)
      this.asmFill += take
      off += take
      if (this.asmFill === need) {
        this.asmFill = 0
        this.openFrame(this.asm.subarray(0, need))
      }
    }
  }

  /** Switches to the next key epoch now (after a frame carrying REKEY). */
  rotate (): void { this.keys.rotate(); this.counter = 0 }

  private setLength (masked: number): void {
    const len = masked ^ this.masks.mask16(this.index)
    if (len < 16) throw new FrameError('frame shorter than its tag')
    if (len > this.maxCiphertext) throw new FrameError(`frame of ${len} bytes exceeds the ${this.maxCiphertext}-byte limit`)
    if (len > this.asm.length) this.asm = new Uint8Array(Math.min(this.maxCiphertext, Math.max(len, 2 * this.asm.length)))
    this.need = len
  }

  private openFrame (ct: Uint8Array): void {
    const pt = this.keys.cipher.openFresh(this.counter, ct)
    if (pt === undefined) throw new FrameError('frame failed authentication (forged, replayed, reordered or truncated)')
    this.index++
    this.counter++
    this.need = -1
    if (this.counter >= this.rekeyEvery) this.rotate()
    this.onFrame(pt)
  }
}
