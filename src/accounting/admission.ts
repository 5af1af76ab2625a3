/**
 * The admission rule of the excess-based economy, pure: given how loaded a resource is, the
 * priority a request offers and the requesting peer's credit, whether to serve it and what to
 * charge. While the resource is in excess (load < 1) everyone is served free; when it is scarce
 * the effective priority is the offer bounded by the peer's credit, a request is served only if
 * its effective priority carries it far enough into the scarce band (higher priorities go
 * further, so the lowest are dropped first), and the effective priority is charged; at
 * {@link HARD_LOAD} nothing is served. See `docs/accounting.md`.
 */
import { HARD_LOAD } from './load.ts'

/** Why a request was not served. */
export type DropReason = 'priority' | 'exhausted'

/** The outcome of {@link decide}. */
export interface Decision {
  /** Whether to serve the request. */
  readonly ok: boolean
  /** Served free (the resource is in excess). */
  readonly free: boolean
  /** The effective priority (offer bounded by credit); what to charge when served and not free. */
  readonly effective: number
  /** Why it was dropped (only when not ok). */
  readonly reason?: DropReason
}

const FREE: Decision = { ok: true, free: true, effective: 0 }
const EXHAUSTED: Decision = { ok: false, free: false, effective: 0, reason: 'exhausted' }

/**
 * The load up to which a request of effective priority `effective` is served, when the going
 * priority (the average offered to us) is `price`: 1 for priority 0 (only excess capacity),
 * rising towards {@link HARD_LOAD} as the priority grows past the price.
 */
export function ceiling (effective: number, price: number): number {
  if (effective <= 0) return 1
  return 1 + (HARD_LOAD - 1) * effective / (effective + Math.max(1, price))
}

/** Share of a priority's scarce band (load 1 to its ceiling) over which paid requests are dropped early at random. */
export const EARLY_BAND = 0.5

/**
 * Random early drop of a paid request of effective priority `effective` at `load`: the
 * probability to drop it although {@link decide} serves it. 0 below the top {@link EARLY_BAND}
 * of the band the priority is served in, rising linearly to 1 at its ceiling. A stream over its
 * share then loses single cells spread over its window, which its sender repairs from later
 * acknowledgements, rather than every cell of a burst at the ceiling, which only a
 * retransmission timeout repairs.
 */
export function earlyDropChance (load: number, effective: number, price: number): number {
  const top = ceiling(effective, price)
  const from = top - EARLY_BAND * (top - 1)
  return load > from ? Math.min(1, (load - from) / (top - from)) : 0
}

/**
 * Whether to serve a request (see module doc). `load` of the resource (the larger when several
 * are spent), `offered` priority, the peer's `credit`, and the going `price`.
 */
export function decide (load: number, offered: number, credit: number, price: number): Decision {
  if (load < 1) return FREE
  if (load >= HARD_LOAD) return EXHAUSTED
  const effective = Math.max(0, Math.min(offered, credit))
  if (load < ceiling(effective, price) && effective > 0) return { ok: true, free: false, effective }
  return { ok: false, free: false, effective, reason: 'priority' }
}
