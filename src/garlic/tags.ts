/**
 * One-time session tags: derivation, the lookup table shared by all sessions, and the sending
 * side (counter, cipher, ES framing). The receiving window is in window.ts.
 *
 * Tag n of a direction = the first 8 bytes of BLAKE2b-128(key = tagKey, data = n as u64 LE).
 * Tags look random to anyone without the tag key, so an observer cannot link messages of one
 * session. Knows nothing of sessions.
 */
import type { AeadCipher, CryptoSuite } from '../crypto/types.ts'
import { ES_HEADER_BYTES, FLAG_LEASE_SET, MAC_BYTES, TAG_BYTES, TYPE_ES, encodeBody } from './layout.ts'
import type { DirectionKeys } from './symmetric.ts'
import type { TagWindow } from './window.ts'

/** Messages per key set; a session hitting it starts a new handshake (nonces never repeat). */
export const MAX_MESSAGES_PER_KEY = 2 ** 32

const counterBuf = new Uint8Array(8)
const counterView = new DataView(counterBuf.buffer)

/** Tag `n` under `tagKey` (a 16-byte array; the tag is its first {@link TAG_BYTES}). */
export function deriveTag (c: CryptoSuite, tagKey: Uint8Array, n: number): Uint8Array {
  counterView.setUint32(0, n >>> 0, true)
  counterView.setUint32(4, Math.floor(n / 0x1_0000_0000) >>> 0, true)
  return c.blake2b(counterBuf, 16, tagKey)
}

/** The table key of the 8-byte tag at `b[off..off+8]` (four 16-bit char codes; no hex encoding). */
export function tagId (b: Uint8Array, off: number): string {
  return String.fromCharCode(
    (b[off] as number) | ((b[off + 1] as number) << 8), (b[off + 2] as number) | ((b[off + 3] as number) << 8),
    (b[off + 4] as number) | ((b[off + 5] as number) << 8), (b[off + 6] as number) | ((b[off + 7] as number) << 8))
}

/** Where a tag leads: its window and its message number. */
export interface TagEntry<T> {
  readonly win: TagWindow<T>
  readonly n: number
}

/** The one map from tag to entry, shared by every window of a Garlic instance. */
export type TagTable<T> = Map<string, TagEntry<T>>

/** The sending side of one direction: a counter, the cipher, the tag key. */
export class SendTagSet {
  /** Number of the next message. */
  next = 0
  readonly cipher: AeadCipher
  private readonly tagKey: Uint8Array

  constructor (private readonly c: CryptoSuite, keys: DirectionKeys) {
    this.cipher = c.aeadCipher(keys.key)
    this.tagKey = Uint8Array.from(keys.tagKey)
  }

  /** Whether the counter is used up (the session must re-handshake). */
  get exhausted (): boolean { return this.next >= MAX_MESSAGES_PER_KEY }

  /** Takes the next message number and its tag. */
  take (): { n: number, tag: Uint8Array } {
    const n = this.next++
    return { n, tag: deriveTag(this.c, this.tagKey, n) }
  }

  /** An ES message: `type || tag || ChaCha20-Poly1305(key, nonce = n, ad = type || tag, body)`. */
  sealEs (payload: Uint8Array, leaseSet?: Uint8Array): Uint8Array {
    const { n, tag } = this.take()
    const body = encodeBody(payload, leaseSet)
    const out = new Uint8Array(ES_HEADER_BYTES + body.length + MAC_BYTES)
    out[0] = leaseSet === undefined ? TYPE_ES : TYPE_ES | FLAG_LEASE_SET
    out.set(tag.subarray(0, TAG_BYTES), 1)
    this.cipher.seal(n, body, out, ES_HEADER_BYTES, out.subarray(0, ES_HEADER_BYTES))
    return out
  }

  /** Wipes the keys. */
  dispose (): void {
    this.cipher.dispose()
    this.tagKey.fill(0)
  }
}
