/**
 * Per-direction key schedule of an established link: the AEAD cipher for the current key epoch,
 * the key that masks frame lengths / packet numbers, and rotation (rekeying). Pure.
 *
 * Epoch keys chain: k(e+1) = HKDF(k(e), salt = "", info = "umbra/link rekey", 32). The mask key
 * is HKDF(k(0), salt = handshake hash, info = "umbra/link mask", 32) and does not rotate.
 */
import type { AeadCipher, CryptoSuite } from '../crypto/types.ts'

const EMPTY = new Uint8Array(0)

/** One direction's key schedule. */
export class DirectionKeys {
  epoch = 0
  cipher: AeadCipher
  /** The previous epoch's cipher, kept so late datagrams still open (datagram links). */
  prev: AeadCipher | undefined
  readonly maskKey: Uint8Array
  private key: Uint8Array

  constructor (private readonly c: CryptoSuite, key: Uint8Array, handshakeHash: Uint8Array) {
    this.key = Uint8Array.from(key)
    this.cipher = c.aeadCipher(this.key)
    this.maskKey = c.hkdf(this.key, handshakeHash, 'umbra/link mask', 32)
  }

  /** Moves to the next epoch's key; keeps the current one as `prev`. */
  rotate (): void {
    const next = this.c.hkdf(this.key, EMPTY, 'umbra/link rekey', 32)
    this.key.fill(0)
    this.key = next
    this.prev?.dispose()
    this.prev = this.cipher
    this.cipher = this.c.aeadCipher(next)
    this.epoch++
  }

  /** The next epoch's cipher, without moving to it (to try a packet before committing). */
  peekNextCipher (): AeadCipher {
    const next = this.c.hkdf(this.key, EMPTY, 'umbra/link rekey', 32)
    const cipher = this.c.aeadCipher(next)
    next.fill(0)
    return cipher
  }

  /** Wipes every key. */
  dispose (): void {
    this.key.fill(0)
    this.cipher.dispose()
    this.prev?.dispose()
    this.maskKey.fill(0)
  }
}

/**
 * A stream of 2-byte masks: mask(i) = bytes [2(i mod 32), +2) of BLAKE2b-512(key, u64be(i / 32)).
 * One hash per 32 frames.
 */
export class MaskStream {
  private block = -1
  private bytes: Uint8Array = new Uint8Array(64)
  private readonly ctr = new Uint8Array(8)
  constructor (private readonly c: CryptoSuite, private readonly key: Uint8Array) {}

  /** The 16-bit mask of frame `i`. */
  mask16 (i: number): number {
    const b = Math.floor(i / 32)
    if (b !== this.block) {
      const v = new DataView(this.ctr.buffer)
      v.setUint32(0, Math.floor(b / 0x1_0000_0000))
      v.setUint32(4, b >>> 0)
      this.bytes = this.c.blake2b(this.ctr, 64, this.key)
      this.block = b
    }
    const o = (i % 32) * 2
    return (this.bytes[o]! << 8) | this.bytes[o + 1]!
  }
}
