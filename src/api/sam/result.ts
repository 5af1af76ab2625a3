/**
 * SAM RESULT codes and the error that carries one: a command handler throws SamRequestError
 * with the code to answer; other errors are mapped by {@link resultOf}.
 */
import { UmbraError } from '../../util/errors.ts'

/** RESULT values of SAM v3 (shared/reference/sam-v3.md §6). */
export type SamResult =
  | 'OK' | 'NOVERSION' | 'I2P_ERROR' | 'DUPLICATED_ID' | 'DUPLICATED_DEST' | 'INVALID_KEY' | 'INVALID_ID'
  | 'CANT_REACH_PEER' | 'PEER_NOT_FOUND' | 'TIMEOUT' | 'KEY_NOT_FOUND' | 'LEASESET_NOT_FOUND' | 'ALREADY_ACCEPTING'

/** A request that fails with a given RESULT (and a MESSAGE for humans). */
export class SamRequestError extends UmbraError {
  static override readonly name = 'SamRequestError'
  override readonly name = 'SamRequestError'
  constructor (readonly result: SamResult, message: string) { super(message) }
}

/**
 * The RESULT for an error thrown while serving a request that names a peer (`peer` true:
 * STREAM CONNECT, datagrams) or not: bad keys → INVALID_KEY; a destination with no LeaseSet →
 * CANT_REACH_PEER (the peer may exist; we cannot reach it); a refused or timed-out stream →
 * CANT_REACH_PEER / TIMEOUT; anything else → I2P_ERROR.
 */
export function resultOf (err: unknown): SamResult {
  if (err instanceof SamRequestError) return err.result
  const name = err instanceof Error ? err.name : ''
  switch (name) {
    case 'DecodeError': return 'INVALID_KEY'
    case 'NotFoundError': return 'CANT_REACH_PEER'
    case 'ConnectionRefusedError': return 'CANT_REACH_PEER'
    case 'ConnectionResetError': return 'CANT_REACH_PEER'
    case 'TimeoutError': return 'TIMEOUT'
    default: return 'I2P_ERROR'
  }
}

/** A short message for an error (never a stack, never key material). */
export function messageOf (err: unknown): string {
  return err instanceof Error ? err.message.slice(0, 200) : 'internal error'
}
