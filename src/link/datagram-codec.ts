/**
 * Packets on unreliable (datagram) transports: one encrypted packet per datagram. Pure.
 *
 *   packet = maskedPn u64 | AEAD(packet plaintext) (tag included)
 *
 * The packet number is the AEAD nonce and is sent masked with the first 8 bytes of
 * BLAKE2b-128(maskKey, first 16 ciphertext bytes) (like QUIC header protection), so packet
 * numbers are not visible on the wire. A sliding replay window drops duplicates and packets
 * older than the window before they reach the link. Key epochs follow from the packet number:
 * epoch = floor(pn / rekeyEvery); the opener keeps the previous epoch's key for late packets and
 * only moves to the next epoch once a packet authenticates under it, so a forged packet can
 * never make it rotate.
 */
import type { AeadCipher, CryptoSuite } from '../crypto/types.ts'
import type { DirectionKeys } from './keys.ts'
import { ReplayWindow } from './replay-window.ts'

/** Bytes a packet adds to its plaintext. */
export const DATAGRAM_OVERHEAD = 8 + 16

function mask8 (c: CryptoSuite, key: Uint8Array, ct: Uint8Array): Uint8Array {
  return c.blake2b(ct.subarray(0, 16), 16, key)
}

/** Seals packets for one direction. */
export class DatagramSealer {
  constructor (private readonly c: CryptoSuite, readonly keys: DirectionKeys, private readonly rekeyEvery: number) {}

  /** Seals `pt` as packet `pn` into `out` at `off`; returns the bytes written. `pn` must increase. */
  seal (pn: number, pt: Uint8Array, out: Uint8Array, off: number): number {
    this.enterEpoch(pn)
    const n = this.keys.cipher.seal(pn, pt, out, off + 8)
    this.writeMaskedPn(pn, out.subarray(off + 8, off + 24), out, off)
    return n + 8
  }

  /**
   * Seals `pt` as packet `pn` into three fresh arrays the caller owns — masked pn, ciphertext,
   * tag — whose concatenation is what `seal` writes; a Conn can send them without a copy.
   */
  sealParts (pn: number, pt: Uint8Array): Uint8Array[] {
    this.enterEpoch(pn)
    const [body, tag] = this.keys.cipher.sealParts(pn, pt)
    const head = body.length >= 16 ? body.subarray(0, 16) : Uint8Array.from([...body, ...tag]).subarray(0, 16)
    const hdr = new Uint8Array(8)
    this.writeMaskedPn(pn, head, hdr, 0)
    return [hdr, body, tag]
  }

  /** Rotates to the key epoch of `pn`. */
  private enterEpoch (pn: number): void {
    const epoch = Math.floor(pn / this.rekeyEvery)
    while (this.keys.epoch < epoch) this.keys.rotate()
  }

  /** Writes `pn` masked by the first 16 ciphertext bytes `head` into `out[off, off + 8)`. */
  private writeMaskedPn (pn: number, head: Uint8Array, out: Uint8Array, off: number): void {
    const m = mask8(this.c, this.keys.maskKey, head)
    const mv = new DataView(m.buffer, m.byteOffset, 8)
    const v = new DataView(out.buffer, out.byteOffset + off, 8)
    v.setUint32(0, ((Math.floor(pn / 0x1_0000_0000) >>> 0) ^ mv.getUint32(0)) >>> 0)
    v.setUint32(4, ((pn >>> 0) ^ mv.getUint32(4)) >>> 0)
  }
}

/** Opens packets for one direction, dropping forgeries, duplicates and stale packets. */
export class DatagramOpener {
  private readonly window: ReplayWindow
  private next: AeadCipher | undefined
  /** Packets dropped: failed authentication, replayed, or outside the window. */
  dropped = 0

  constructor (private readonly c: CryptoSuite, readonly keys: DirectionKeys, private readonly rekeyEvery: number, windowSize = 4096) {
    this.window = new ReplayWindow(windowSize)
  }

  /**
   * Opens `pkt`; returns its number and plaintext (a fresh array the caller owns), or undefined
   * when the packet is dropped (never throws on hostile input).
   */
  openFresh (pkt: Uint8Array): { pn: number, pt: Uint8Array } | undefined {
    if (pkt.length < DATAGRAM_OVERHEAD) { this.dropped++; return undefined }
    const m = mask8(this.c, this.keys.maskKey, pkt.subarray(8, 24))
    const v = new DataView(pkt.buffer, pkt.byteOffset, 8)
    const mv = new DataView(m.buffer, m.byteOffset, 8)
    const hi = (v.getUint32(0) ^ mv.getUint32(0)) >>> 0
    const lo = (v.getUint32(4) ^ mv.getUint32(4)) >>> 0
    if (hi >= 0x200000) { this.dropped++; return undefined }
    const pn = hi * 0x1_0000_0000 + lo
    if (!this.window.check(pn)) { this.dropped++; return undefined }
    const epoch = Math.floor(pn / this.rekeyEvery)
    const ct = pkt.subarray(8)
    let pt: Uint8Array | undefined
    if (epoch === this.keys.epoch) {
      pt = this.keys.cipher.openFresh(pn, ct)
    } else if (epoch === this.keys.epoch - 1 && this.keys.prev !== undefined) {
      pt = this.keys.prev.openFresh(pn, ct)
    } else if (epoch === this.keys.epoch + 1) {
      this.next ??= this.keys.peekNextCipher()
      pt = this.next.openFresh(pn, ct)
      if (pt !== undefined) { this.next.dispose(); this.next = undefined; this.keys.rotate() }
    }
    if (pt === undefined) { this.dropped++; return undefined }
    this.window.mark(pn)
    return { pn, pt }
  }
}
