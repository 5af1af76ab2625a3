/**
 * Receive-side bookkeeping of the link ARQ, both in fixed memory:
 * - {@link ReceivedPns}: which packet numbers arrived, as at most {@link MAX_TRACKED_RANGES}
 *   ranges (the lowest is forgotten first), which is what an ACK block reports;
 * - {@link MsgIdWindow}: which message ids were delivered, as a sliding bitmap of
 *   {@link MSG_ID_WINDOW} ids, so that a message re-sent in a new packet is delivered once.
 * Pure; it neither sends ACKs nor decides when (see arq.ts).
 */
import { MAX_ACK_RANGES, type AckRange } from './arq-ack.ts'

/** Ranges of received packet numbers remembered (and so reported) at most. */
export const MAX_TRACKED_RANGES = MAX_ACK_RANGES

/**
 * Span of message ids in use at once. A sender never sends id `lowestUnacked + MSG_ID_WINDOW`
 * or above, so a receiver never sees an honest id at or past `base + MSG_ID_WINDOW`.
 */
export const MSG_ID_WINDOW = 1 << 15

/** Message ids travel as u32 and wrap; the window makes them unambiguous. */
export const MSG_ID_MODULUS = 2 ** 32

/** Received packet numbers as descending, disjoint, non-adjacent ranges. */
export class ReceivedPns {
  /** Highest range first. */
  readonly ranges: AckRange[] = []
  /** When the largest packet number was received (for the ack delay). */
  largestAt = 0

  /** Records `pn`; returns false if it was already recorded. */
  add (pn: number, now: number): boolean {
    const r = this.ranges
    let i = 0
    for (; i < r.length; i++) {
      const cur = r[i]!
      if (pn > cur.hi + 1) break
      if (pn === cur.hi + 1) {
        cur.hi = pn
        const above = r[i - 1]
        if (above !== undefined && above.lo === pn + 1) { above.lo = cur.lo; r.splice(i, 1) }
        if (i === 0) this.largestAt = now
        return true
      }
      if (pn >= cur.lo) return false
      if (pn === cur.lo - 1) {
        cur.lo = pn
        const below = r[i + 1]
        if (below !== undefined && below.hi === pn - 1) { cur.lo = below.lo; r.splice(i + 1, 1) }
        return true
      }
    }
    if (i === 0) this.largestAt = now
    r.splice(i, 0, { lo: pn, hi: pn })
    if (r.length > MAX_TRACKED_RANGES) r.pop()
    return true
  }

  /** Forgets every range wholly at or below `pn` (the peer has seen an ACK up to it). */
  forgetThrough (pn: number): void {
    const r = this.ranges
    while (r.length > 0 && r[r.length - 1]!.hi <= pn) r.pop()
  }
}

/** What {@link MsgIdWindow.accept} decided about one message id. */
export type MsgVerdict = 'new' | 'dup' | 'outside'

/** Delivered message ids: everything below `base`, plus a bitmap of the window above it. */
export class MsgIdWindow {
  /** Lowest id not yet delivered (a full, unwrapped sequence number). */
  base = 0
  private readonly bits = new Uint32Array(MSG_ID_WINDOW / 32)

  /**
   * Takes a u32 wire id; returns 'new' (and marks it) the first time, 'dup' afterwards, and
   * 'outside' for ids at or past `base + MSG_ID_WINDOW` (or so far below base they wrapped).
   */
  accept (wireId: number): MsgVerdict {
    const off = (wireId - (this.base % MSG_ID_MODULUS) + MSG_ID_MODULUS) % MSG_ID_MODULUS
    if (off >= MSG_ID_MODULUS - MSG_ID_WINDOW) return 'dup' // just below base: delivered
    if (off >= MSG_ID_WINDOW) return 'outside'
    const slot = (this.base + off) % MSG_ID_WINDOW
    const mask = 1 << (slot & 31)
    if ((this.bits[slot >>> 5]! & mask) !== 0) return 'dup'
    this.bits[slot >>> 5]! |= mask
    for (;;) { // advance base over delivered ids, clearing their bits for reuse
      const s = this.base % MSG_ID_WINDOW
      const m = 1 << (s & 31)
      if ((this.bits[s >>> 5]! & m) === 0) break
      this.bits[s >>> 5]! &= ~m
      this.base++
    }
    return 'new'
  }
}
