/**
 * The tunnel message family: the codec for the link messages that carry tunnels between
 * routers (layouts in `docs/tunnels.md`, sections "Cells", "Build message" and "Gateway
 * message"). Pure and bounded; decoders return views into their input, never copies.
 *
 * - `TUNNEL_DATA` (0x30): 1..64 cells of 1024 bytes, each under the receiver's tunnel ID.
 *   This runs once per cell at high rates, so it is read with {@link forEachCell} (no object per
 *   cell, no copy) and written with {@link encodeData} (one allocation).
 * - `TUNNEL_BUILD` (0x31): a message ID and 8 build records of 128 bytes.
 * - `TUNNEL_GATEWAY` (0x32): a tunnel message (kind LOCAL or BUILD_REPLY) for an inbound gateway.
 */
import { DecodeError, LimitError } from '../util/errors.ts'
import { CELL_BYTES } from './layer.ts'
import { BUILD_BODY_BYTES, BUILD_RECORDS } from './build.ts'
import { checkU32, getU32, putU32 } from '../util/bytes.ts'
import { DeliveryKind } from './delivery.ts'

/** Message type bytes of the tunnel family. */
export const TunnelType = { DATA: 0x30, BUILD: 0x31, GATEWAY: 0x32 } as const
export type TunnelType = typeof TunnelType[keyof typeof TunnelType]

/** Whether `t` is a tunnel message type. */
export function isTunnelType (t: number | undefined): boolean { return t !== undefined && t >= 0x30 && t <= 0x32 }

/** Bytes of one cell entry in a DATA message: receiver's tunnel ID, then the cell. */
export const CELL_ENTRY = 4 + CELL_BYTES
/** Bytes before the first cell entry of a DATA message: type, count. */
export const DATA_HEADER = 2

/** At most this many cells in one `TUNNEL_DATA` message. */
export const MAX_CELLS_PER_MESSAGE = 64
/** The largest DATA message: 2 + 64 × 1028 bytes. */
export const MAX_DATA_MESSAGE = DATA_HEADER + MAX_CELLS_PER_MESSAGE * CELL_ENTRY

/** Bytes of a whole `TUNNEL_BUILD` message: type, message ID, record count, records. */
export const BUILD_MESSAGE_BYTES = 1 + 4 + 1 + BUILD_BODY_BYTES

/**
 * The largest tunnel message a `TUNNEL_GATEWAY` message carries: 16 320 bytes, so that the
 * message fits a datagram link's 16 KiB (docs/link.md). Two 0-hop destinations stream in
 * packets this large (router/session.ts, `zeroHopMss`); it was 8192 before 2026-11.
 */
export const MAX_GATEWAY_MESSAGE = 16 * 1024 - 64
/** Bytes a `TUNNEL_GATEWAY` message adds around its tunnel message: type, tunnel ID, length. */
export const GATEWAY_OVERHEAD = 1 + 4 + 2



function checkType (msg: Uint8Array, type: number, name: string): void {
  if (msg.length < 1) throw new DecodeError('truncated: empty message')
  if (msg[0] !== type) throw new DecodeError(`not a ${name} message: type ${msg[0]}`)
}

/**
 * Encodes `cells.length` cells into one `TUNNEL_DATA` message, `cells[i]` (exactly 1024 bytes,
 * may be a view) under the receiver's tunnel ID `tunnelIds[i]`. One allocation, of exactly the
 * message's size. LimitError for 0 or more than {@link MAX_CELLS_PER_MESSAGE} cells, a cell that
 * is not 1024 bytes, mismatched array lengths or a tunnel ID that is not a u32.
 */
export function encodeData (tunnelIds: number[], cells: Uint8Array[]): Uint8Array {
  const c = cells.length
  if (c < 1 || c > MAX_CELLS_PER_MESSAGE) throw new LimitError(`DATA message with ${c} cells, not 1..${MAX_CELLS_PER_MESSAGE}`)
  if (tunnelIds.length !== c) throw new LimitError(`${tunnelIds.length} tunnel IDs for ${c} cells`)
  const out = new Uint8Array(DATA_HEADER + c * CELL_ENTRY)
  let at = DATA_HEADER
  for (let i = 0; i < c; i++) {
    const cell = cells[i]!
    const id = tunnelIds[i]!
    if (cell.length !== CELL_BYTES) throw new LimitError(`cell ${i} is ${cell.length} bytes, not ${CELL_BYTES}`)
    checkU32(id, 'tunnel ID')
    putU32(out, at, id)
    out.set(cell, at + 4)
    at += CELL_ENTRY
  }
  return finishData(out, c)
}

/**
 * Completes a DATA message built in place (`count` cell entries written after the header): sets
 * its type and count and returns the message's exact bytes (a view when `buf` has room left).
 */
export function finishData (buf: Uint8Array, count: number): Uint8Array {
  buf[0] = TunnelType.DATA
  buf[1] = count
  const len = DATA_HEADER + count * CELL_ENTRY
  return len === buf.length ? buf : buf.subarray(0, len)
}

/**
 * Reads a `TUNNEL_DATA` message: checks its type, count (1..64) and exact length first, so a
 * malformed message throws DecodeError before `fn` is called at all; then calls
 * `fn(tunnelId, msg, off)` for each cell in order, where the cell is `msg[off .. off + 1024)`
 * (the message itself, not a copy: `fn` may decrypt it in place). Returns the cell count.
 */
export function forEachCell (msg: Uint8Array, fn: (tunnelId: number, buf: Uint8Array, off: number) => void): number {
  checkType(msg, TunnelType.DATA, 'TUNNEL_DATA')
  if (msg.length < DATA_HEADER) throw new DecodeError('truncated: TUNNEL_DATA without a cell count')
  const c = msg[1]!
  if (c < 1 || c > MAX_CELLS_PER_MESSAGE) throw new DecodeError(`TUNNEL_DATA cell count ${c}, not 1..${MAX_CELLS_PER_MESSAGE}`)
  const want = DATA_HEADER + c * CELL_ENTRY
  if (msg.length !== want) throw new DecodeError(`TUNNEL_DATA of ${c} cells is ${msg.length} bytes, not ${want}`)
  let at = DATA_HEADER
  for (let i = 0; i < c; i++) {
    fn(getU32(msg, at), msg, at + 4)
    at += CELL_ENTRY
  }
  return c
}

/**
 * How many cells fit one `TUNNEL_DATA` message of at most `maxMessage` bytes: between 0 and
 * {@link MAX_CELLS_PER_MESSAGE}, and at least 1 when `maxMessage >= 1030`.
 */
export function cellsPerMessage (maxMessage: number): number {
  if (!(maxMessage >= DATA_HEADER + CELL_ENTRY)) return 0
  return Math.min(MAX_CELLS_PER_MESSAGE, Math.floor((maxMessage - DATA_HEADER) / CELL_ENTRY))
}

/**
 * Encodes a `TUNNEL_BUILD` message (1030 bytes): message ID `msgId` (u32), record count 8, and
 * `body`, the 8 records of 128 bytes. LimitError if `body` is not 1024 bytes or `msgId` not a u32.
 */
export function encodeBuild (msgId: number, body: Uint8Array): Uint8Array {
  checkU32(msgId, 'message ID')
  if (body.length !== BUILD_BODY_BYTES) throw new LimitError(`build body is ${body.length} bytes, not ${BUILD_BODY_BYTES}`)
  const out = new Uint8Array(BUILD_MESSAGE_BYTES)
  out[0] = TunnelType.BUILD
  putU32(out, 1, msgId)
  out[5] = BUILD_RECORDS
  out.set(body, 6)
  return out
}

/**
 * Decodes a `TUNNEL_BUILD` message. DecodeError unless it is exactly 1030 bytes of type 0x31 with
 * record count 8. `body` (the 1024 bytes of records) is a view into `msg`.
 */
export function decodeBuild (msg: Uint8Array): { msgId: number, body: Uint8Array } {
  checkType(msg, TunnelType.BUILD, 'TUNNEL_BUILD')
  if (msg.length !== BUILD_MESSAGE_BYTES) throw new DecodeError(`TUNNEL_BUILD is ${msg.length} bytes, not ${BUILD_MESSAGE_BYTES}`)
  if (msg[5] !== BUILD_RECORDS) throw new DecodeError(`TUNNEL_BUILD record count ${msg[5]}, not ${BUILD_RECORDS}`)
  return { msgId: getU32(msg, 1), body: msg.subarray(6) }
}

function checkGatewayPayload (m: Uint8Array): string | undefined {
  if (m.length < 1 || m.length > MAX_GATEWAY_MESSAGE) return `gateway tunnel message of ${m.length} bytes, not 1..${MAX_GATEWAY_MESSAGE}`
  if (m[0] !== DeliveryKind.LOCAL && m[0] !== DeliveryKind.BUILD_REPLY) return `gateway tunnel message of kind ${m[0]}, not 1 or 4`
  return undefined
}

/**
 * Encodes a `TUNNEL_GATEWAY` message: the gateway's tunnel ID, then `tunnelMessage` (an encoded
 * tunnel message of kind DELIVER_LOCAL or BUILD_REPLY, 1..MAX_GATEWAY_MESSAGE bytes) with a u16 length.
 * LimitError otherwise.
 */
export function encodeGateway (tunnelId: number, tunnelMessage: Uint8Array): Uint8Array {
  checkU32(tunnelId, 'tunnel ID')
  const bad = checkGatewayPayload(tunnelMessage)
  if (bad !== undefined) throw new LimitError(bad)
  const n = tunnelMessage.length
  const out = new Uint8Array(GATEWAY_OVERHEAD + n)
  out[0] = TunnelType.GATEWAY
  putU32(out, 1, tunnelId)
  out[5] = n >>> 8
  out[6] = n
  out.set(tunnelMessage, GATEWAY_OVERHEAD)
  return out
}

/**
 * Decodes a `TUNNEL_GATEWAY` message. DecodeError on truncation, trailing bytes, a length over
 * {@link MAX_GATEWAY_MESSAGE}, or a tunnel message that is empty or not of kind 1 or 4.
 * `message` is a view into `msg`.
 */
export function decodeGateway (msg: Uint8Array): { tunnelId: number, message: Uint8Array } {
  checkType(msg, TunnelType.GATEWAY, 'TUNNEL_GATEWAY')
  if (msg.length < GATEWAY_OVERHEAD) throw new DecodeError(`truncated: TUNNEL_GATEWAY of ${msg.length} bytes`)
  const n = (msg[5]! << 8) | msg[6]!
  if (n > MAX_GATEWAY_MESSAGE) throw new DecodeError(`TUNNEL_GATEWAY length ${n} exceeds maximum ${MAX_GATEWAY_MESSAGE}`)
  if (msg.length !== GATEWAY_OVERHEAD + n) {
    throw new DecodeError(`TUNNEL_GATEWAY of length ${n} is ${msg.length} bytes, not ${GATEWAY_OVERHEAD + n}`)
  }
  const message = msg.subarray(GATEWAY_OVERHEAD)
  const bad = checkGatewayPayload(message)
  if (bad !== undefined) throw new DecodeError(bad)
  return { tunnelId: getU32(msg, 1), message }
}
