/**
 * The netDb message family: the codec for what routers send each other to store and find
 * RouterInfos and LeaseSets. Pure and bounded; layouts in `docs/netdb.md`. Records inside
 * messages are opaque bytes here: the netDb parses and verifies them itself.
 *
 * Every router message starts with a type byte; this family owns 0x20..0x24.
 */
import { Reader } from '../wire/reader.ts'
import { Writer } from '../wire/writer.ts'
import { DecodeError, LimitError } from '../util/errors.ts'
import { MAX_ROUTER_INFO_BYTES } from '../identity/router-info.ts'
import { MAX_LEASE_SET_BYTES } from '../identity/lease-set.ts'

/** Message type bytes of the netDb family. */
export const NetDbType = { STORE: 0x20, STORE_ACK: 0x21, LOOKUP: 0x22, FOUND: 0x23, CLOSER: 0x24 } as const
/** Whether `t` is a netDb message type. */
export function isNetDbType (t: number | undefined): boolean { return t !== undefined && t >= 0x20 && t <= 0x24 }

/** What a record is. */
export const RecordKind = { ROUTER_INFO: 1, LEASE_SET: 2 } as const
export type RecordKind = typeof RecordKind[keyof typeof RecordKind]
/** What a lookup asks for: a record kind, or EXPLORE (only closer routers, to learn peers). */
export const LookupKind = { ...RecordKind, EXPLORE: 3 } as const
export type LookupKind = typeof LookupKind[keyof typeof LookupKind]

/** At most this many RouterInfos in one CLOSER reply. */
export const MAX_CLOSER = 16
const MAX_RECORD = Math.max(MAX_ROUTER_INFO_BYTES, MAX_LEASE_SET_BYTES)

/**
 * Store `record` (a RouterInfo or LeaseSet); `token` 0 = no acknowledgement wanted. `priority`
 * (0..65535, default 0) is what the sender offers when the receiver is busy (`docs/accounting.md`).
 */
export interface StoreMsg { type: typeof NetDbType.STORE, token: number, kind: RecordKind, record: Uint8Array, priority?: number }
/** Answer to a STORE with a token: whether the record was accepted. */
export interface StoreAckMsg { type: typeof NetDbType.STORE_ACK, token: number, accepted: boolean }
/** Find the record of `kind` under `key` (32 bytes), or (EXPLORE) just the routers closest to it. */
export interface LookupMsg { type: typeof NetDbType.LOOKUP, queryId: number, kind: LookupKind, key: Uint8Array, priority?: number }
/** The record a LOOKUP asked for. */
export interface FoundMsg { type: typeof NetDbType.FOUND, queryId: number, kind: RecordKind, record: Uint8Array }
/** Not here: RouterInfos of routers closer to the key. */
export interface CloserMsg { type: typeof NetDbType.CLOSER, queryId: number, infos: Uint8Array[] }

export type NetDbMsg = StoreMsg | StoreAckMsg | LookupMsg | FoundMsg | CloserMsg

function recordKind (v: number): RecordKind {
  if (v !== RecordKind.ROUTER_INFO && v !== RecordKind.LEASE_SET) throw new DecodeError(`unknown record kind ${v}`)
  return v
}

/** Encodes one message. Throws LimitError for out-of-bounds fields. */
export function encodeNetDb (m: NetDbMsg): Uint8Array {
  const w = new Writer({ initialSize: 256, limit: 1 + 4 + 1 + MAX_CLOSER * (2 + MAX_ROUTER_INFO_BYTES) })
  w.u8(m.type)
  switch (m.type) {
    case NetDbType.STORE: w.u32(m.token).u8(m.kind).u16(m.priority ?? 0).varBytes(m.record, MAX_RECORD); break
    case NetDbType.STORE_ACK: w.u32(m.token).u8(m.accepted ? 0 : 1); break
    case NetDbType.LOOKUP:
      if (m.key.length !== 32) throw new LimitError('lookup key must be 32 bytes')
      w.u32(m.queryId).u8(m.kind).bytes(m.key).u16(m.priority ?? 0); break
    case NetDbType.FOUND: w.u32(m.queryId).u8(m.kind).varBytes(m.record, MAX_RECORD); break
    case NetDbType.CLOSER:
      if (m.infos.length > MAX_CLOSER) throw new LimitError(`more than ${MAX_CLOSER} RouterInfos in a reply`)
      w.u32(m.queryId).u8(m.infos.length)
      for (const i of m.infos) w.varBytes(i, MAX_ROUTER_INFO_BYTES)
      break
  }
  return w.finish()
}

/** Bytes {@link encodeNetDb} adds around a CLOSER reply's RouterInfos: type, query ID, count, and 2 per record. */
export function closerOverhead (n: number): number { return 1 + 4 + 1 + 2 * n }

/**
 * Decodes one message (layouts in docs/netdb.md). Bounded: records over the RouterInfo or
 * LeaseSet maximum, more than {@link MAX_CLOSER} infos, unknown kinds or trailing bytes throw
 * DecodeError. Copies nothing; record fields alias `bytes`.
 */
export function decodeNetDb (bytes: Uint8Array): NetDbMsg {
  const r = new Reader(bytes)
  const type = r.u8()
  let m: NetDbMsg
  switch (type) {
    case NetDbType.STORE: m = { type, token: r.u32(), kind: recordKind(r.u8()), priority: r.u16(), record: r.varBytes(MAX_RECORD) }; break
    case NetDbType.STORE_ACK: {
      const token = r.u32()
      const status = r.u8()
      if (status > 1) throw new DecodeError(`unknown store status ${status}`)
      m = { type, token, accepted: status === 0 }
      break
    }
    case NetDbType.LOOKUP: {
      const queryId = r.u32()
      const kind = r.u8()
      if (kind < 1 || kind > 3) throw new DecodeError(`unknown lookup kind ${kind}`)
      m = { type, queryId, kind: kind as LookupKind, key: r.bytes(32), priority: r.u16() }
      break
    }
    case NetDbType.FOUND: m = { type, queryId: r.u32(), kind: recordKind(r.u8()), record: r.varBytes(MAX_RECORD) }; break
    case NetDbType.CLOSER: {
      const queryId = r.u32()
      const n = r.u8()
      if (n > MAX_CLOSER) throw new DecodeError(`CLOSER with ${n} RouterInfos, over ${MAX_CLOSER}`)
      const infos: Uint8Array[] = []
      for (let i = 0; i < n; i++) infos.push(r.varBytes(MAX_ROUTER_INFO_BYTES))
      m = { type, queryId, infos }
      break
    }
    default: throw new DecodeError(`not a netDb message type: ${type}`)
  }
  r.end()
  return m
}
