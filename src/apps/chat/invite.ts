/**
 * Room invites (pure): `umbra://chat/room/<secret>?name=<name>&via=<addr>&via=…`, where the
 * secret is the room's 32 bytes in lowercase unpadded base32 and each `via` a member's
 * `.b32.umbra` address to connect to first. Whoever holds an invite can read and post in the
 * room: share it like a password.
 */
import { base32Decode, base32Encode } from '../../wire/base32.ts'
import { parseB32Address } from '../../identity/destination.ts'
import { DecodeError } from '../../util/errors.ts'

/** Members named in an invite at most. */
export const MAX_VIA = 8
/** Longest room name, characters. */
export const MAX_ROOM_NAME = 64
const PREFIX = 'umbra://chat/room/'
const MAX_INVITE_CHARS = 2048

/** What an invite holds. */
export interface Invite {
  secret: Uint8Array
  name: string
  /** `.b32.umbra` addresses of members. */
  via: string[]
}

/** Checks a room name: 1..64 characters without control characters. Throws DecodeError. */
export function checkRoomName (name: string): string {
  const n = [...name].length
  if (n < 1 || n > MAX_ROOM_NAME || /[\p{Cc}\p{Cf}]/u.test(name) || /\p{Surrogate}/u.test(name)) {
    throw new DecodeError(`room name must be 1..${MAX_ROOM_NAME} characters without control characters`)
  }
  return name
}

/** The invite's text. */
export function formatInvite (inv: Invite): string {
  const q = new URLSearchParams({ name: checkRoomName(inv.name) })
  for (const v of inv.via.slice(0, MAX_VIA)) q.append('via', v)
  return `${PREFIX}${base32Encode(inv.secret)}?${q.toString()}`
}

/** Parses an invite. Throws DecodeError saying what is wrong. */
export function parseInvite (text: string): Invite {
  const s = text.trim()
  if (s.length > MAX_INVITE_CHARS) throw new DecodeError(`invite over ${MAX_INVITE_CHARS} characters`)
  if (!s.startsWith(PREFIX)) throw new DecodeError(`an invite starts with ${PREFIX}`)
  const rest = s.slice(PREFIX.length)
  const qAt = rest.indexOf('?')
  const secretText = qAt < 0 ? rest : rest.slice(0, qAt)
  let secret: Uint8Array
  try {
    secret = base32Decode(secretText)
  } catch (err) {
    throw new DecodeError('invite: the room secret is not base32', { cause: err })
  }
  if (secret.length !== 32) throw new DecodeError(`invite: room secret of ${secret.length} bytes (need 32)`)
  const q = new URLSearchParams(qAt < 0 ? '' : rest.slice(qAt + 1))
  const name = checkRoomName(q.get('name') ?? 'room')
  const via = q.getAll('via')
  if (via.length > MAX_VIA) throw new DecodeError(`invite names ${via.length} members (at most ${MAX_VIA})`)
  for (const v of via) {
    try { parseB32Address(v) } catch (err) { throw new DecodeError(`invite: ${v.slice(0, 60)} is not a .b32.umbra address`, { cause: err }) }
  }
  return { secret, name, via }
}
