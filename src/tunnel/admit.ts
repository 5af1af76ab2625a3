/**
 * Admission of a build request at a hop, pure: whether this router takes part in a tunnel.
 * Refuses requests whose time is off by more than the allowed skew, that name us as the next
 * hop (an outbound endpoint's next router is the creator's reply gateway, which may be us), that
 * reuse a tunnel ID we carry, or that would exceed the transit table's bound. Whether a valid
 * request is served when resources are scarce is the accountant's call (`accounting/`), which
 * the tunnel manager asks next.
 */
import { compareBytes } from '../util/bytes.ts'
import { BuildStatus, HopFlag, type BuildRequest } from './build.ts'
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
  if ((r.flags & HopFlag.ENDPOINT) === 0 && compareBytes(r.nextRouter, ctx.ownId) === 0) return BuildStatus.REFUSED_BAD
  if (ctx.transit.has(r.receiveTunnelId)) return BuildStatus.REFUSED_BAD
  if (ctx.transit.full) return BuildStatus.REFUSED_LOAD
  return BuildStatus.ACCEPTED
}
