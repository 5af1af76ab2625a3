/**
 * The clove: what a destination puts inside a garlic message — the protocol (streaming 6,
 * repliable datagram 17, raw 18, as SAM numbers them), the source and destination ports, and
 * the data. Layout in `docs/sessions.md`. Pure and bounded.
 */
import { DecodeError, LimitError } from '../util/errors.ts'

/** Bytes before the data. */
export const CLOVE_HEADER = 5
/** Largest clove data. */
export const MAX_CLOVE_DATA = 65536

/** A decoded clove. */
export interface Clove { protocol: number, fromPort: number, toPort: number, data: Uint8Array }

/** Encodes a clove; LimitError for out-of-range fields. */
export function encodeClove (protocol: number, fromPort: number, toPort: number, data: Uint8Array): Uint8Array {
  if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255) throw new LimitError('protocol must be 0..255')
  if (!Number.isInteger(fromPort) || fromPort < 0 || fromPort > 65535) throw new LimitError('fromPort must be 0..65535')
  if (!Number.isInteger(toPort) || toPort < 0 || toPort > 65535) throw new LimitError('toPort must be 0..65535')
  if (data.length > MAX_CLOVE_DATA) throw new LimitError(`clove data over ${MAX_CLOVE_DATA} bytes`)
  const out = new Uint8Array(CLOVE_HEADER + data.length)
  out[0] = protocol
  out[1] = fromPort >>> 8; out[2] = fromPort & 0xff
  out[3] = toPort >>> 8; out[4] = toPort & 0xff
  out.set(data, CLOVE_HEADER)
  return out
}

/** Decodes a clove (the data is a view). DecodeError when short or oversized. */
export function decodeClove (b: Uint8Array): Clove {
  if (b.length < CLOVE_HEADER) throw new DecodeError('clove shorter than its header')
  if (b.length - CLOVE_HEADER > MAX_CLOVE_DATA) throw new DecodeError('clove data oversized')
  return { protocol: b[0]!, fromPort: (b[1]! << 8) | b[2]!, toPort: (b[3]! << 8) | b[4]!, data: b.subarray(CLOVE_HEADER) }
}
