/**
 * The creator's side of a tunnel build, pure: picks fresh tunnel and message IDs, fills in each
 * hop's request (who comes next, which flags, where the answer goes) and encrypts the records
 * (`build.ts`). An outbound tunnel's endpoint sends the answered message back through one of
 * our inbound tunnels (`reply`); an inbound tunnel's last hop sends it straight to us under
 * `replyMsgId`. Also turns an answered build into the hops' keys.
 */
import type { CryptoSuite } from '../crypto/types.ts'
import { createBuild, HopFlag, type BuildState, type HopSpec } from './build.ts'
import { getU32 } from '../util/bytes.ts'

/** A router chosen as a hop. */
export interface HopTarget {
  readonly id: Uint8Array
  readonly idHex: string
  /** Its X25519 static key (from its RouterInfo). */
  readonly staticKey: Uint8Array
}

/** A build ready to send, and what the creator needs to read the answer. */
export interface PlannedBuild {
  readonly direction: 'in' | 'out'
  readonly hops: readonly HopTarget[]
  /** The 1024 bytes of records. */
  readonly body: Uint8Array
  readonly state: BuildState
  /** Message ID the first hop receives the build under. */
  readonly firstMsgId: number
  /** Message ID the answer comes back under. */
  readonly replyMsgId: number
  /** Tunnel ID each hop receives on. */
  readonly receiveIds: readonly number[]
  /** Inbound: the tunnel ID we receive on from the last hop. */
  readonly ownReceiveId: number
}

/** Random non-zero 32-bit IDs. */
export function randomId (crypto: CryptoSuite): number {
  const v = getU32(crypto.randomBytes(4), 0)
  return v === 0 ? 1 : v
}

/** What every hop of one build is asked besides its place in the tunnel. */
export interface BuildTerms {
  /** Seconds since the Unix epoch. */
  nowSec: number
  lifetimeSec: number
  /** Priority offered to each hop (`BuildRequest.priority`). */
  priority: number
}

function specs (crypto: CryptoSuite, hops: readonly HopTarget[], terms: BuildTerms,
  last: { next: Uint8Array, nextTunnelId: number, flags: number }, firstFlags: number): { specs: HopSpec[], receiveIds: number[], msgIds: number[] } {
  const receiveIds = hops.map(() => randomId(crypto))
  const msgIds = [randomId(crypto), ...hops.map(() => randomId(crypto))]
  const out: HopSpec[] = hops.map((h, i) => {
    const isLast = i === hops.length - 1
    let flags = isLast ? last.flags : 0
    if (i === 0) flags |= firstFlags
    return {
      routerId: h.id,
      staticKey: h.staticKey,
      request: {
        receiveTunnelId: receiveIds[i]!,
        nextTunnelId: isLast ? last.nextTunnelId : receiveIds[i + 1]!,
        nextRouter: isLast ? last.next : hops[i + 1]!.id,
        flags,
        requestTime: terms.nowSec,
        lifetimeSec: terms.lifetimeSec,
        nextMsgId: msgIds[i + 1]!,
        priority: terms.priority
      }
    }
  })
  return { specs: out, receiveIds, msgIds }
}

/**
 * An outbound tunnel through `hops` (1..8); the endpoint answers through the inbound tunnel
 * whose gateway is `reply.gateway` receiving on `reply.tunnelId`.
 */
export function planOutbound (crypto: CryptoSuite, hops: readonly HopTarget[], reply: { gateway: Uint8Array, tunnelId: number }, terms: BuildTerms): PlannedBuild {
  const s = specs(crypto, hops, terms, { next: reply.gateway, nextTunnelId: reply.tunnelId, flags: HopFlag.ENDPOINT }, 0)
  const { body, state } = createBuild(crypto, s.specs)
  return { direction: 'out', hops, body, state, firstMsgId: s.msgIds[0]!, replyMsgId: s.msgIds[hops.length]!, receiveIds: s.receiveIds, ownReceiveId: 0 }
}

/** An inbound tunnel through `hops` (1..8) ending at us (`ownId`). */
export function planInbound (crypto: CryptoSuite, hops: readonly HopTarget[], ownId: Uint8Array, terms: BuildTerms): PlannedBuild {
  const ownReceiveId = randomId(crypto)
  const s = specs(crypto, hops, terms, { next: ownId, nextTunnelId: ownReceiveId, flags: 0 }, HopFlag.GATEWAY)
  const { body, state } = createBuild(crypto, s.specs)
  return { direction: 'in', hops, body, state, firstMsgId: s.msgIds[0]!, replyMsgId: s.msgIds[hops.length]!, receiveIds: s.receiveIds, ownReceiveId }
}
