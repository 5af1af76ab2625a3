/**
 * A file-sharing node as its peers know it: its destination (the bytes SAM gives, and their I2P
 * base64 to connect to) and its DHT ID, the SHA-256 of those bytes (the hash behind its
 * `.b32.umbra` address, so an ID cannot be claimed without the destination). Pure.
 */
import { createHash } from 'node:crypto'
import { base64I2pDecode, base64I2pEncode } from '../../wire/base64i2p.ts'
import { DecodeError } from '../../util/errors.ts'
import { destinationLength } from '../../api/client/address.ts'
import { MAX_DEST_BYTES } from './messages.ts'

/** A node: ID, destination bytes and base64. */
export interface Contact {
  /** SHA-256 of `dest`: the node's place in the DHT. */
  id: Uint8Array
  dest: Uint8Array
  b64: string
}

/** A contact from destination bytes; DecodeError if they are not one whole destination. */
export function contactFromBytes (dest: Uint8Array): Contact {
  if (dest.length > MAX_DEST_BYTES) throw new DecodeError(`destination of ${dest.length} bytes`)
  if (destinationLength(dest) !== dest.length) throw new DecodeError(`destination of ${dest.length} bytes is longer than its certificate says`)
  const copy = Uint8Array.from(dest)
  return { id: new Uint8Array(createHash('sha256').update(copy).digest()), dest: copy, b64: base64I2pEncode(copy) }
}

/** A contact from a base64 destination (as SAM reports a peer); DecodeError if malformed. */
export function contactFromBase64 (b64: string): Contact {
  return contactFromBytes(base64I2pDecode(b64, MAX_DEST_BYTES))
}
