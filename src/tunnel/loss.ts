/**
 * Which tunnel lost a loop: a pure state machine over loop outcomes (no timers, no I/O; the pool
 * feeds it and retires what it names). A loop goes out through one tunnel and back in through
 * another, so a lost loop is the fault of one of two. Whichever of them has since carried a loop
 * sent later that came back is cleared, and the other is blamed; when neither has, the loss waits
 * for the first of them to pass one. A tunnel blamed twice is retired.
 *
 * When every tunnel may be broken no one can be cleared, so a fallback retires a tunnel that lost
 * three loops in a row; but only on strong evidence that nothing works: no loop sent after the
 * lost one has come back, and no loop at all (late ones included) has come back for `quietMs`.
 * A loaded machine delays loops past their timeout without breaking anything, and a burst of
 * timeouts must not look like every tunnel failing. A loop that comes back late is a pass: both
 * of its tunnels work.
 */

/** A loop: out through `out`, back in through `inb`, sent at `sentAt` (monotonic ms). */
export interface Loop<T> { out: T, inb: T, sentAt: number }

/** A tunnel to retire and why. */
export interface Verdict<T> { tunnel: T, why: string }

/** Blames a tunnel this many times (since it last passed a loop) and it is retired. */
export const BLAMES_TO_RETIRE = 2
/** Losses in a row after which the fallback retires a tunnel while nothing passes. */
export const STRIKES_TO_RETIRE = 3
/** Most lost loops kept waiting to be attributed. */
export const MAX_UNRESOLVED = 64

/**
 * Attributes lost loops to tunnels (see module doc). `T` is a tunnel; its `strikes` field counts
 * its losses since it last passed a loop (other code may add strikes of its own).
 */
export class LossJudge<T extends { strikes: number }> {
  /** When the last loop through each tunnel that came back was sent (ms). */
  private readonly passedAt = new WeakMap<T, number>()
  /** Lost loops proven to be each tunnel's fault since it last passed one. */
  private readonly blamed = new WeakMap<T, number>()
  /** Lost loops not yet attributed: neither tunnel has passed a loop since (oldest first). */
  private unresolved: Array<Loop<T>> = []
  /** When the latest-sent loop that came back was sent (ms). */
  private lastPassSentAt = -Infinity
  /** When a loop last came back (ms). */
  private lastPassAt = -Infinity

  /** @param quietMs how long nothing must come back before the fallback may retire a tunnel */
  constructor (private readonly quietMs: number) {}

  /** Loops lost and not yet attributed. */
  get pending (): number { return this.unresolved.length }

  /** How many times `t` has been blamed since it last passed a loop. */
  blames (t: T): number { return this.blamed.get(t) ?? 0 }

  /** Loop `l` did not come back in time (now: ms). Returns the tunnels to retire. */
  lost (l: Loop<T>, now: number): Array<Verdict<T>> {
    const out: Array<Verdict<T>> = []
    const outOk = (this.passedAt.get(l.out) ?? -Infinity) > l.sentAt
    const inOk = (this.passedAt.get(l.inb) ?? -Infinity) > l.sentAt
    if (outOk && !inOk) this.blame(l.inb, out)
    else if (inOk && !outOk) this.blame(l.out, out)
    else if (!outOk && !inOk) {
      this.unresolved.push(l)
      if (this.unresolved.length > MAX_UNRESOLVED) this.unresolved.shift()
    }
    const nothingWorks = this.lastPassSentAt < l.sentAt && now - this.lastPassAt >= this.quietMs
    for (const t of [l.out, l.inb]) {
      if (++t.strikes >= STRIKES_TO_RETIRE && nothingWorks && !out.some(v => v.tunnel === t)) {
        out.push({ tunnel: t, why: `lost ${STRIKES_TO_RETIRE} loops in a row while none came back` })
      }
    }
    return out
  }

  /**
   * Loop `l` came back (now: ms), in time or late: both its tunnels work. Returns the tunnels to
   * retire: losses of loops sent earlier through one of these two were the other tunnel's doing.
   */
  passed (l: Loop<T>, now: number): Array<Verdict<T>> {
    this.lastPassSentAt = Math.max(this.lastPassSentAt, l.sentAt)
    this.lastPassAt = Math.max(this.lastPassAt, now)
    for (const t of [l.out, l.inb]) {
      t.strikes = 0
      this.blamed.delete(t)
      this.passedAt.set(t, Math.max(this.passedAt.get(t) ?? -Infinity, l.sentAt))
    }
    const out: Array<Verdict<T>> = []
    const pending = this.unresolved
    this.unresolved = []
    for (const u of pending) {
      if (u === l) continue
      const outOk = u.out === l.out && l.sentAt > u.sentAt
      const inOk = u.inb === l.inb && l.sentAt > u.sentAt
      if (outOk && inOk) continue
      if (outOk) this.blame(u.inb, out)
      else if (inOk) this.blame(u.out, out)
      else this.unresolved.push(u)
    }
    return out
  }

  /** Drops what is known of a tunnel that left the pool. */
  forget (t: T): void {
    this.blamed.delete(t)
    this.passedAt.delete(t)
    this.unresolved = this.unresolved.filter(u => u.out !== t && u.inb !== t)
  }

  /** Forgets everything. */
  clear (): void { this.unresolved = [] }

  private blame (t: T, out: Array<Verdict<T>>): void {
    const n = this.blames(t) + 1
    this.blamed.set(t, n)
    if (n >= BLAMES_TO_RETIRE && !out.some(v => v.tunnel === t)) out.push({ tunnel: t, why: 'dropped loops' })
  }
}
