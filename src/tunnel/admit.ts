/**
 * Admission of a build request at a hop, pure: whether this router takes part in a tunnel.
 * Refuses requests whose time is off by more than the allowed skew, that name us as the next
 * hop, that reuse a tunnel ID we carry, or that would exceed the transit limit. (Admission by
 * credit, when resources are scarce, plugs in here in the accounting layer.) Also the cache of
 * build ephemeral keys seen, so a replayed build request is dropped.
 */
import { compareBytes, toHex } from '../util/bytes.ts'
import { BuildStatus, type BuildRequest } from './build.ts'
import type { TransitTable } from './transit.ts'

/** What {@link admit} looks at besides the request. */
export interface AdmitContext {
  nowSec: number
  maxSkewSec: number
  ownId: Uint8Array
  transit: TransitTable
}

/** The status to answer a build request with. */
export function admit (r: BuildRequest, ctx: AdmitContext): number {
  if (Math.abs(r.requestTime - ctx.nowSec) > ctx.maxSkewSec) return BuildStatus.REFUSED_BAD
  if (compareBytes(r.nextRouter, ctx.ownId) === 0) return BuildStatus.REFUSED_BAD
  if (ctx.transit.has(r.receiveTunnelId)) return BuildStatus.REFUSED_BAD
  if (ctx.transit.full) return BuildStatus.REFUSED_LOAD
  return BuildStatus.ACCEPTED
}

/**
 * Ephemeral keys of build records seen recently, in two generations of `windowMs` each (a
 * request older than the skew window is refused anyway), at most `max` per generation.
 */
export class EphemeralCache {
  private now = new Set<string>()
  private old = new Set<string>()
  private rotated = 0

  constructor (private readonly windowMs = 300_000, private readonly max = 100_000) {}

  /** Records `key`; false if it was seen already (or the cache is full: refuse rather than forget). */
  add (key: Uint8Array, now: number): boolean {
    this.expire(now)
    const k = toHex(key)
    if (this.now.has(k) || this.old.has(k)) return false
    if (this.now.size >= this.max) return false
    this.now.add(k)
    return true
  }

  /** Rotates generations when due. */
  expire (now: number): void {
    if (now - this.rotated < this.windowMs) return
    this.old = this.now
    this.now = new Set()
    this.rotated = now
  }
}
