/**
 * Checks of single fields of a decoded MessagePack record (apps' peer protocols): each returns
 * the value with its type narrowed or throws DecodeError naming the field.
 */
import { DecodeError } from '../util/errors.ts'

/** `v` as bytes of `min..max` length. */
export function bytesField (v: unknown, what: string, min: number, max: number): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new DecodeError(`${what} is not bytes`)
  if (v.length < min || v.length > max) throw new DecodeError(`${what} of ${v.length} bytes (${min}..${max})`)
  return v
}

/** `v` as an integer `0..max`. */
export function uintField (v: unknown, what: string, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw new DecodeError(`${what} must be an integer 0..${max}`)
  return v
}
