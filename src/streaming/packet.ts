/**
 * The stream packet codec: one packet of one stream, as carried under protocol 6 between two
 * destinations. Pure and bounded; layout (big-endian, docs/streaming.md):
 * ```
 * u32  sendStreamId   the recipient's stream ID (0 until the sender has learned it)
 * u32  recvStreamId   the sender's own stream ID (0 only in a RST answering a SYN)
 * u32  seq            packet sequence number (SYN is 0; ACK-only packets carry the next one)
 * u32  ack            next sequence number expected from the recipient (0 without ACK)
 * u16  flags          SYN 1, ACK 2, FIN 4, RST 8, ECHO 16, MSS 32; other bits must be 0
 * u32  window         bytes the sender can still receive beyond `ack`
 * u8   n              SACK blocks, 0..8 (0 without ACK)
 * n × (u16 gap, u16 len)   received runs above `ack`, ascending: start = previous end + gap
 * [u16 mss]           if MSS: largest payload the sender wants to receive (>= 64)
 * ...  payload        the rest
 * ```
 * `decodePacket` throws DecodeError on anything it would not encode identically.
 */
import { DecodeError, LimitError } from '../util/errors.ts'
import { Reader } from '../wire/reader.ts'

/** Flag bits (the MSS bit is implied by {@link StreamPacket.mss}). */
export const Flags = { SYN: 0x01, ACK: 0x02, FIN: 0x04, RST: 0x08, ECHO: 0x10, MSS: 0x20 } as const
/** Bytes before the SACK blocks. */
export const HEADER_BYTES = 23
/** Most SACK blocks in one packet. */
export const MAX_SACK_BLOCKS = 8
/** Bytes of the MSS option. */
export const MSS_OPTION_BYTES = 2
/** Largest payload of one packet (the MSS may not exceed it). */
export const MAX_PAYLOAD = 32768
/** Smallest MSS a peer may announce. */
export const MIN_MSS = 64
/** Largest encoded packet. */
export const MAX_PACKET_BYTES = HEADER_BYTES + 4 * MAX_SACK_BLOCKS + 2 + MAX_PAYLOAD
/** Largest sequence number (sequence numbers do not wrap). */
export const MAX_SEQ = 0xffff_ffff

const KNOWN_FLAGS = 0x3f
const U16 = 0xffff

/** A run of received packets: sequence numbers `start` (inclusive) to `end` (exclusive). */
export interface SackRange { start: number, end: number }

/** One decoded stream packet. */
export interface StreamPacket {
  sendStreamId: number
  recvStreamId: number
  seq: number
  /** Next sequence number expected from the recipient; undefined when the ACK flag is clear. */
  ack: number | undefined
  syn: boolean
  fin: boolean
  rst: boolean
  /** "Acknowledge at once": probes and keepalives set it. */
  echo: boolean
  window: number
  /** Received runs above `ack`, ascending; empty without ACK. */
  sack: readonly SackRange[]
  /** The sender's MSS option, or undefined. */
  mss: number | undefined
  payload: Uint8Array
}

/** Fills in the defaults: no ACK, no flags, window 0, no SACK, no MSS, no payload. */
export function packet (p: Partial<StreamPacket> & Pick<StreamPacket, 'sendStreamId' | 'recvStreamId'>): StreamPacket {
  return {
    seq: 0, ack: undefined, syn: false, fin: false, rst: false, echo: false, window: 0,
    sack: [], mss: undefined, payload: new Uint8Array(0), ...p
  }
}

const isU32 = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= MAX_SEQ

/** The structural rules shared by encoder and decoder; returns what is wrong, or undefined. */
function violation (p: StreamPacket): string | undefined {
  const hasAck = p.ack !== undefined
  if (p.recvStreamId === 0 && !p.rst) return 'recvStreamId 0 outside a RST'
  if (p.rst && p.sendStreamId === 0) return 'RST without a sendStreamId'
  if (p.rst && (p.syn || p.payload.length > 0)) return 'RST with SYN or payload'
  if (p.syn && p.seq !== 0) return 'SYN with a sequence number other than 0'
  if (hasAck && p.sendStreamId === 0) return 'ACK without a sendStreamId'
  if (p.syn && !hasAck && p.sendStreamId !== 0) return 'SYN addressed to a stream but without ACK'
  if (!hasAck && p.sack.length > 0) return 'SACK without ACK'
  if (p.sack.length > MAX_SACK_BLOCKS) return `${p.sack.length} SACK blocks (at most ${MAX_SACK_BLOCKS})`
  if (p.mss !== undefined && (p.mss < MIN_MSS || p.mss > U16)) return `MSS ${p.mss} out of range`
  if (p.payload.length > MAX_PAYLOAD) return `payload of ${p.payload.length} bytes (at most ${MAX_PAYLOAD})`
  return undefined
}

/** The packet's bytes. Throws LimitError for values the decoder would refuse. */
export function encodePacket (p: StreamPacket): Uint8Array {
  for (const v of [p.sendStreamId, p.recvStreamId, p.seq, p.ack ?? 0, p.window]) {
    if (!isU32(v)) throw new LimitError(`stream packet: ${v} is not a u32`)
  }
  const bad = violation(p)
  if (bad !== undefined) throw new LimitError(`stream packet: ${bad}`)
  const n = p.sack.length
  const hasMss = p.mss !== undefined
  const out = new Uint8Array(HEADER_BYTES + 4 * n + (hasMss ? 2 : 0) + p.payload.length)
  const v = new DataView(out.buffer)
  const flags = (p.syn ? Flags.SYN : 0) | (p.ack !== undefined ? Flags.ACK : 0) | (p.fin ? Flags.FIN : 0) |
    (p.rst ? Flags.RST : 0) | (p.echo ? Flags.ECHO : 0) | (hasMss ? Flags.MSS : 0)
  v.setUint32(0, p.sendStreamId)
  v.setUint32(4, p.recvStreamId)
  v.setUint32(8, p.seq)
  v.setUint32(12, p.ack ?? 0)
  v.setUint16(16, flags)
  v.setUint32(18, p.window)
  v.setUint8(22, n)
  let at = HEADER_BYTES
  let prev = p.ack ?? 0
  for (const r of p.sack) {
    const gap = r.start - prev
    const len = r.end - r.start
    if (!Number.isInteger(gap) || gap < 1 || gap > U16 || !Number.isInteger(len) || len < 1 || len > U16 || r.end > MAX_SEQ + 1) {
      throw new LimitError(`stream packet: SACK range ${r.start}..${r.end} not encodable after ${prev}`)
    }
    v.setUint16(at, gap)
    v.setUint16(at + 2, len)
    at += 4
    prev = r.end
  }
  if (hasMss) { v.setUint16(at, p.mss!); at += 2 }
  out.set(p.payload, at)
  return out
}

/**
 * Decodes one packet; the payload is a view into `bytes` (no copy). Throws DecodeError on
 * truncation, oversize, unknown flags, SACK blocks out of range, and every rule of `violation`.
 */
export function decodePacket (bytes: Uint8Array): StreamPacket {
  if (bytes.length > MAX_PACKET_BYTES) throw new DecodeError(`stream packet of ${bytes.length} bytes (at most ${MAX_PACKET_BYTES})`)
  const r = new Reader(bytes)
  const sendStreamId = r.u32()
  const recvStreamId = r.u32()
  const seq = r.u32()
  const ackField = r.u32()
  const flags = r.u16()
  const window = r.u32()
  const n = r.u8()
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new DecodeError(`stream packet: unknown flags ${flags.toString(16)}`)
  const hasAck = (flags & Flags.ACK) !== 0
  if (!hasAck && ackField !== 0) throw new DecodeError('stream packet: ack field set without ACK')
  if (n > MAX_SACK_BLOCKS) throw new DecodeError(`stream packet: ${n} SACK blocks (at most ${MAX_SACK_BLOCKS})`)
  const sack: SackRange[] = []
  let prev = ackField
  for (let i = 0; i < n; i++) {
    const gap = r.u16()
    const len = r.u16()
    if (gap === 0 || len === 0) throw new DecodeError('stream packet: empty SACK gap or run')
    const start = prev + gap
    const end = start + len
    if (end > MAX_SEQ + 1) throw new DecodeError('stream packet: SACK beyond the sequence space')
    sack.push({ start, end })
    prev = end
  }
  const mss = (flags & Flags.MSS) !== 0 ? r.u16() : undefined
  const p: StreamPacket = {
    sendStreamId, recvStreamId, seq, ack: hasAck ? ackField : undefined,
    syn: (flags & Flags.SYN) !== 0, fin: (flags & Flags.FIN) !== 0, rst: (flags & Flags.RST) !== 0,
    echo: (flags & Flags.ECHO) !== 0, window, sack, mss, payload: r.bytes(r.remaining)
  }
  const bad = violation(p)
  if (bad !== undefined) throw new DecodeError(`stream packet: ${bad}`)
  return p
}

/** Whether the packet takes a sequence number (and so must be acknowledged): SYN, FIN or data. */
export function occupiesSeq (p: StreamPacket): boolean {
  return p.syn || p.fin || p.payload.length > 0
}
