/**
 * Tunnel messages: what a gateway puts into a tunnel and its endpoint takes out, one kind byte
 * then a body saying where the bytes go (`docs/tunnels.md`, "Tunnel messages and delivery").
 * Pure and bounded: a tunnel message is at most {@link MAX_TUNNEL_MESSAGE} bytes (what 64
 * fragments carry). Decoding copies nothing; byte fields are views into the input.
 */
import { DecodeError, LimitError } from '../util/errors.ts'
import { BUILD_BODY_BYTES } from './build.ts'
import { checkU32, getU32, putU32 as putU32BE } from '../util/bytes.ts'
import { MAX_MESSAGE_BYTES } from './fragment.ts'

/** Kind bytes of tunnel messages. */
export const DeliveryKind = { LOCAL: 1, ROUTER: 2, TUNNEL: 3, BUILD_REPLY: 4 } as const
export type DeliveryKind = typeof DeliveryKind[keyof typeof DeliveryKind]

/**
 * The largest encoded tunnel message (kind byte included): the most the fragments of one message
 * carry, 64 × 984 = 62976 bytes (the "64 KiB" of the docs, see fragment.ts).
 */
export const MAX_TUNNEL_MESSAGE = MAX_MESSAGE_BYTES
/** Bytes of a router ID. */
export const ROUTER_ID_BYTES = 32

/** For the endpoint itself (inbound: the creator): a garlic message or a router message. */
export interface LocalDelivery { kind: typeof DeliveryKind.LOCAL, data: Uint8Array }
/** Outbound endpoint: send `data` (a link message) to router `router` (32-byte ID). */
export interface RouterDelivery { kind: typeof DeliveryKind.ROUTER, router: Uint8Array, data: Uint8Array }
/** Outbound endpoint: send `data` (a tunnel message) to inbound gateway `router` as `TUNNEL_GATEWAY` under `tunnelId`. */
export interface TunnelDelivery { kind: typeof DeliveryKind.TUNNEL, router: Uint8Array, tunnelId: number, data: Uint8Array }
/** An answered build message on its way back to its creator: message ID and 1024 bytes of records. */
export interface BuildReply { kind: typeof DeliveryKind.BUILD_REPLY, msgId: number, body: Uint8Array }

/** A decoded tunnel message. */
export type TunnelMessage = LocalDelivery | RouterDelivery | TunnelDelivery | BuildReply

const OVERHEAD: Record<DeliveryKind, number> = {
  [DeliveryKind.LOCAL]: 1,
  [DeliveryKind.ROUTER]: 1 + ROUTER_ID_BYTES,
  [DeliveryKind.TUNNEL]: 1 + ROUTER_ID_BYTES + 4,
  [DeliveryKind.BUILD_REPLY]: 1 + 4
}

/**
 * Bytes a tunnel message of `kind` adds to its data: the kind byte and the fixed fields before
 * the data (LOCAL 1, ROUTER 33, TUNNEL 37, BUILD_REPLY 5, whose body is a fixed 1024 bytes).
 */
export function deliveryOverhead (kind: DeliveryKind): number {
  const n = OVERHEAD[kind]
  if (n === undefined) throw new LimitError(`unknown delivery kind ${kind as number}`)
  return n
}

function putU32 (b: Uint8Array, at: number, v: number): void {
  checkU32(v, 'value')
  putU32BE(b, at, v)
}

/**
 * Encodes a tunnel message into one allocation of exactly its size. LimitError for a router ID
 * that is not 32 bytes, a BUILD_REPLY body that is not 1024 bytes, an ID that is not a u32, an
 * unknown kind, or a result over {@link MAX_TUNNEL_MESSAGE}.
 */
export function encodeTunnelMessage (m: TunnelMessage): Uint8Array {
  const head = deliveryOverhead(m.kind)
  const tail = m.kind === DeliveryKind.BUILD_REPLY ? m.body : m.data
  if (m.kind === DeliveryKind.BUILD_REPLY && tail.length !== BUILD_BODY_BYTES) {
    throw new LimitError(`BUILD_REPLY body is ${tail.length} bytes, not ${BUILD_BODY_BYTES}`)
  }
  if ((m.kind === DeliveryKind.ROUTER || m.kind === DeliveryKind.TUNNEL) && m.router.length !== ROUTER_ID_BYTES) {
    throw new LimitError(`router ID is ${m.router.length} bytes, not ${ROUTER_ID_BYTES}`)
  }
  const size = head + tail.length
  if (size > MAX_TUNNEL_MESSAGE) throw new LimitError(`tunnel message of ${size} bytes exceeds ${MAX_TUNNEL_MESSAGE}`)
  const out = new Uint8Array(size)
  out[0] = m.kind
  switch (m.kind) {
    case DeliveryKind.LOCAL: break
    case DeliveryKind.ROUTER: out.set(m.router, 1); break
    case DeliveryKind.TUNNEL: out.set(m.router, 1); putU32(out, 1 + ROUTER_ID_BYTES, m.tunnelId); break
    case DeliveryKind.BUILD_REPLY: putU32(out, 1, m.msgId); break
  }
  out.set(tail, head)
  return out
}

/**
 * Decodes a tunnel message. DecodeError for an empty or oversized (over
 * {@link MAX_TUNNEL_MESSAGE}) input, an unknown kind, a truncated fixed field, or a BUILD_REPLY
 * whose body is not exactly 1024 bytes. Data may be empty for LOCAL, ROUTER and TUNNEL (what
 * the data must be is the next layer's to check). Byte fields are views into `msg`.
 */
export function decodeTunnelMessage (msg: Uint8Array): TunnelMessage {
  const len = msg.length
  if (len < 1) throw new DecodeError('truncated: empty tunnel message')
  if (len > MAX_TUNNEL_MESSAGE) throw new DecodeError(`tunnel message of ${len} bytes exceeds ${MAX_TUNNEL_MESSAGE}`)
  const kind = msg[0]!
  switch (kind) {
    case DeliveryKind.LOCAL:
      return { kind, data: msg.subarray(1) }
    case DeliveryKind.ROUTER:
      if (len < 1 + ROUTER_ID_BYTES) throw new DecodeError(`truncated: ROUTER delivery of ${len} bytes`)
      return { kind, router: msg.subarray(1, 1 + ROUTER_ID_BYTES), data: msg.subarray(1 + ROUTER_ID_BYTES) }
    case DeliveryKind.TUNNEL:
      if (len < 1 + ROUTER_ID_BYTES + 4) throw new DecodeError(`truncated: TUNNEL delivery of ${len} bytes`)
      return {
        kind,
        router: msg.subarray(1, 1 + ROUTER_ID_BYTES),
        tunnelId: getU32(msg, 1 + ROUTER_ID_BYTES),
        data: msg.subarray(1 + ROUTER_ID_BYTES + 4)
      }
    case DeliveryKind.BUILD_REPLY:
      if (len !== 1 + 4 + BUILD_BODY_BYTES) throw new DecodeError(`BUILD_REPLY is ${len} bytes, not ${1 + 4 + BUILD_BODY_BYTES}`)
      return { kind, msgId: getU32(msg, 1), body: msg.subarray(5) }
    default:
      throw new DecodeError(`unknown tunnel message kind ${kind}`)
  }
}
