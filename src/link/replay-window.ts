/**
 * A sliding replay window over 64-bit packet numbers (as in IPsec/WireGuard): remembers which of
 * the last `size` numbers were seen. Memory is fixed. Pure.
 */

/** Tracks seen packet numbers; rejects duplicates and numbers older than the window. */
export class ReplayWindow {
  private highest = -1
  private readonly bits: Uint32Array

  constructor (readonly size = 4096) {
    this.bits = new Uint32Array(Math.ceil(size / 32))
  }

  /** Whether `pn` is new and within the window (does not mark it). */
  check (pn: number): boolean {
    if (pn < 0 || !Number.isSafeInteger(pn)) return false
    if (pn > this.highest) return true
    if (this.highest - pn >= this.size) return false
    const i = pn % this.size
    return (this.bits[i >>> 5]! & (1 << (i & 31))) === 0
  }

  /** Marks `pn` seen (call only after the packet authenticated). */
  mark (pn: number): void {
    if (pn > this.highest) {
      // Clear the slots of numbers that slide into the window.
      const gap = pn - this.highest
      if (gap >= this.size) this.bits.fill(0)
      else for (let k = this.highest + 1; k <= pn; k++) { const i = k % this.size; this.bits[i >>> 5]! &= ~(1 << (i & 31)) }
      this.highest = pn
    }
    const i = pn % this.size
    this.bits[i >>> 5]! |= 1 << (i & 31)
  }
}
