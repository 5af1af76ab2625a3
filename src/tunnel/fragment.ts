/**
 * Fragments: how tunnel messages travel in the 992-byte payloads of cells (`docs/tunnels.md`,
 * "Fragments"). The gateway packs messages, in order, into fresh cells with
 * {@link packMessages}; the endpoint puts them back together with a {@link Reassembler}, one
 * per tunnel, whose memory is bounded by message count, bytes and age.
 *
 * A payload holds fragments one after another, each an 8-byte header (message ID u32 non-zero,
 * index 0..63, flags with bit 0 = last, data length u16 1..984) then its data; a header whose
 * length is 0, or fewer than 8 bytes left, ends the payload. Both directions run once per cell
 * at high rates: packing makes one allocation for all its cells, and a cell holding whole
 * messages is read without buffering (one copy per message delivered).
 */
import { ConfigError, DecodeError, LimitError } from '../util/errors.ts'
import { CELL_BYTES, PAYLOAD_OFFSET, checkCell } from './layer.ts'
import { getU32, putU32 } from '../util/bytes.ts'
/** Bytes of a cell's payload. */
export const PAYLOAD_BYTES = CELL_BYTES - PAYLOAD_OFFSET
/** Bytes of a fragment header: message ID 4, index 1, flags 1, length 2. */
export const FRAGMENT_HEADER = 8
/** The most data one fragment carries (a fragment alone in its payload): 984. */
export const MAX_FRAGMENT_DATA = PAYLOAD_BYTES - FRAGMENT_HEADER
/** Fragments per message at most (index 0..63). */
export const MAX_FRAGMENTS = 64
/**
 * The largest message: what 64 fragments of at most 984 bytes carry, 62976 bytes. The docs say
 * "at most 64 KiB"; 65536 bytes cannot be expressed in the fragment format, so this is the real
 * bound (and that of `MAX_TUNNEL_MESSAGE` in delivery.ts).
 */
export const MAX_MESSAGE_BYTES = MAX_FRAGMENTS * MAX_FRAGMENT_DATA
/** Fragment flag: this is the message's last fragment. */
export const FLAG_LAST = 0x01

/** Default `minStart` of {@link packMessages}. */
export const DEFAULT_MIN_START = 64

/** Options of {@link packMessages}. */
export interface PackOptions {
  /**
   * A message that needs more than one cell anyway starts in the current cell only if at least
   * this many bytes of its payload remain (default 64; at least 9, a header and one byte).
   */
  minStart?: number
}

/**
 * Lays `msgs` out into cells and returns how many cells that takes. With `out` null it only
 * validates and counts; otherwise it writes every fragment into `out` (zeroed, cells × 1024
 * bytes), asking `newId` for each message's ID. Both passes take the same decisions.
 *
 * Placement: a message goes whole into the current cell if it fits there (header included).
 * Otherwise a message that fits one cell (≤ 984 bytes) starts a new cell, so it is never split;
 * a larger message starts in the current cell if at least `minStart` bytes remain and its
 * fragments stay within 64, else in a new cell.
 */
function layout (msgs: Uint8Array[], minStart: number, out: Uint8Array | null, newId: (() => number) | null): number {
  let cell = -1
  let used = PAYLOAD_BYTES // bytes of the current cell's payload taken; full = no current cell
  for (let k = 0; k < msgs.length; k++) {
    const m = msgs[k]!
    const len = m.length
    if (len < 1 || len > MAX_MESSAGE_BYTES) throw new LimitError(`message ${k} is ${len} bytes, not 1..${MAX_MESSAGE_BYTES}`)
    const room = PAYLOAD_BYTES - used
    if (room < FRAGMENT_HEADER + len) {
      let here = false
      if (len > MAX_FRAGMENT_DATA && room >= minStart) {
        here = 1 + Math.ceil((len - (room - FRAGMENT_HEADER)) / MAX_FRAGMENT_DATA) <= MAX_FRAGMENTS
      }
      if (!here) { cell++; used = 0 }
    }
    let id = 0
    if (newId !== null) {
      id = newId()
      if (!Number.isInteger(id) || id < 1 || id > 0xffff_ffff) throw new RangeError(`message ID ${id} is not a non-zero u32`)
    }
    let done = 0
    let index = 0
    for (;;) {
      if (PAYLOAD_BYTES - used <= FRAGMENT_HEADER) { cell++; used = 0 }
      const space = PAYLOAD_BYTES - used - FRAGMENT_HEADER
      const n = len - done < space ? len - done : space
      const last = done + n === len
      if (out !== null) {
        const p = cell * CELL_BYTES + PAYLOAD_OFFSET + used
        putU32(out, p, id)
        out[p + 4] = index
        out[p + 5] = last ? FLAG_LAST : 0
        out[p + 6] = n >>> 8
        out[p + 7] = n
        out.set(n === len ? m : m.subarray(done, done + n), p + FRAGMENT_HEADER)
      }
      used += FRAGMENT_HEADER + n
      done += n
      index++
      if (last) break
    }
  }
  return cell + 1
}

/**
 * Packs `msgs` (each 1..{@link MAX_MESSAGE_BYTES} bytes), in order, into fresh 1024-byte clear
 * cells. Fragments start at {@link PAYLOAD_OFFSET}; bytes 0..32 of each cell are left zero for
 * the gateway's nonce and MAC, and the rest of each payload after its last fragment is zero.
 * Small messages share cells; a message that fits one cell is never split over two; a larger
 * message starts in the current cell if at least `minStart` (default 64) bytes remain there,
 * else in a new cell. `newMessageId` is called once per message, in order, and must return a
 * non-zero u32 (RangeError otherwise) not used for another message within the endpoint's
 * reassembly timeout. LimitError (before any cell is made) for an empty or oversized message.
 *
 * The cells are views of one new buffer (one allocation for the whole batch), each with its own
 * `byteOffset`; none aliases the input.
 */
export function packMessages (msgs: Uint8Array[], newMessageId: () => number, opts: PackOptions = {}): Uint8Array[] {
  const ms = opts.minStart ?? DEFAULT_MIN_START
  if (typeof ms !== 'number' || Number.isNaN(ms)) throw new ConfigError(`minStart ${String(ms)} is not a number`)
  const minStart = Math.max(ms, FRAGMENT_HEADER + 1)
  const count = layout(msgs, minStart, null, null)
  const backing = new Uint8Array(count * CELL_BYTES)
  layout(msgs, minStart, backing, newMessageId)
  const cells = new Array<Uint8Array>(count)
  for (let i = 0; i < count; i++) cells[i] = backing.subarray(i * CELL_BYTES, (i + 1) * CELL_BYTES)
  return cells
}

/**
 * What holding one fragment costs beyond its data (the copy's ArrayBuffer, view and slot),
 * charged with its data against a reassembler's `maxBytes` and the shared budget: otherwise a
 * sender of 1-byte fragments would hold ~100 times what it is charged.
 */
export const FRAGMENT_COST = 256
/** What holding one incomplete message costs beyond its fragments (its record and fragment table), charged the same way. */
export const MESSAGE_COST = 640

/**
 * Bytes (as {@link Reassembler} charges them) that all the reassemblers sharing it may hold together: a
 * router's tunnel endpoints. Each tunnel's own bound alone would let the 5000 transit tunnels a
 * router carries hold 1.25 GiB of incomplete messages, as whoever builds them chooses.
 */
export class ReassemblyBudget {
  private used = 0
  /** Fragments refused because the budget was spent (and the tunnel had nothing of its own to give up). */
  refused = 0

  /** ConfigError unless `maxBytes` is a number >= 1. */
  constructor (readonly maxBytes: number) {
    positiveOption(maxBytes, 0, 'maxBytes', 1)
  }

  /** Bytes held now, by every sharer. */
  get bytes (): number { return this.used }

  /** Takes `n` bytes if they fit; false (nothing taken) if not. */
  take (n: number): boolean {
    if (this.used + n > this.maxBytes) return false
    this.used += n
    return true
  }

  /** Gives back `n` bytes taken before. */
  give (n: number): void { this.used -= n }
}

/** Options of {@link Reassembler}. */
export interface ReassemblerOptions {
  /** Incomplete messages held at most (default 64). */
  maxMessages?: number
  /** Bytes held at most, as charged: fragment data, {@link FRAGMENT_COST} per fragment, {@link MESSAGE_COST} per message (default 256 KiB). */
  maxBytes?: number
  /** A message is dropped this long after its first fragment arrived (default 10 000 ms). */
  timeoutMs?: number
  /** Shared with other tunnels' reassemblers: what they may hold together (default: no such bound). */
  budget?: ReassemblyBudget
}

/** Counters and levels of a {@link Reassembler}. */
export interface ReassemblerStats {
  /** Messages delivered. */
  readonly completed: number
  /**
   * Incomplete messages given up, other than by age: evicted (oldest first) to stay within the
   * bounds, larger alone than `maxBytes`, or contradicted by a later fragment (e.g. a second
   * "last" at another index).
   */
  readonly dropped: number
  /** Incomplete messages given up because their first fragment was `timeoutMs` old. */
  readonly expired: number
  /** Fragments ignored because that fragment of that message was already held. */
  readonly duplicates: number
  /** Incomplete messages held now. */
  readonly pendingMessages: number
  /** Bytes held now, as charged (fragment data, {@link FRAGMENT_COST} per fragment, {@link MESSAGE_COST} per message). */
  readonly pendingBytes: number
}

/** One incomplete message. */
interface Pending {
  /** `now` when its first fragment arrived. */
  readonly firstAt: number
  /** Copies of the fragments' data, by index. */
  readonly frags: (Uint8Array | undefined)[]
  /** Fragments held. */
  count: number
  /** Bytes charged for it (see {@link ReassemblerStats.pendingBytes}). */
  bytes: number
  /** Bytes of fragment data held. */
  data: number
  /** Index of the last fragment, or -1 while unknown. */
  last: number
  /** Highest index held. */
  maxIndex: number
}

type MutableStats = { -readonly [K in keyof ReassemblerStats]: ReassemblerStats[K] }

function positiveOption (v: number | undefined, dflt: number, what: string, min: number): number {
  const x = v ?? dflt
  if (typeof x !== 'number' || !(x >= min)) throw new ConfigError(`${what} ${String(x)} must be a number >= ${min}`)
  return x
}

/**
 * Reassembles the messages of one tunnel from the payloads of its clear cells, in any order,
 * ignoring duplicated fragments of a message still incomplete. Memory is bounded: at most
 * `maxMessages` incomplete messages and `maxBytes` bytes of their data; to take a fragment that
 * would exceed either, the oldest incomplete messages are dropped (counted). With a shared
 * {@link ReassemblyBudget} that is spent, this tunnel's own oldest incomplete messages make room;
 * if it has none to give up, the fragment's message is dropped (counted here and in the
 * budget's `refused`): one tunnel cannot take another's room. A message ID may be
 * used again once its message has completed (or been dropped); a fragment arriving after its
 * message completed therefore starts a new message, which times out if nothing completes it
 * (the hops' replay filters drop duplicated cells before they get here).
 */
export class Reassembler {
  private readonly maxMessages: number
  private readonly maxBytes: number
  private readonly timeoutMs: number
  private readonly budget: ReassemblyBudget | undefined
  private readonly pending = new Map<number, Pending>()
  private readonly s: MutableStats = { completed: 0, dropped: 0, expired: 0, duplicates: 0, pendingMessages: 0, pendingBytes: 0 }

  /** ConfigError for a bound below 1 (`maxMessages`, `maxBytes`) or a negative timeout. */
  constructor (opts: ReassemblerOptions = {}) {
    this.maxMessages = positiveOption(opts.maxMessages, 64, 'maxMessages', 1)
    this.maxBytes = positiveOption(opts.maxBytes, 256 * 1024, 'maxBytes', 1)
    this.timeoutMs = positiveOption(opts.timeoutMs, 10_000, 'timeoutMs', 0)
    this.budget = opts.budget
  }

  /** Counters and levels (a live view, not a snapshot). */
  get stats (): ReassemblerStats { return this.s }

  /**
   * Parses the payload of one clear cell, bytes `[off + 32, off + 1024)` of `buf`, and returns
   * the messages it completes, in the order their last missing fragment appears (copies, safe
   * after `buf` is reused). The whole payload is checked before anything is taken, so a
   * malformed one (message ID 0, index ≥ 64, unknown flags, data overrunning the payload, or
   * `buf` too short) throws DecodeError with no state changed by this cell. `now` is in ms.
   */
  receive (buf: Uint8Array, off: number, now: number): Uint8Array[] {
    checkCell(buf, off)
    const start = off + PAYLOAD_OFFSET
    const end = off + CELL_BYTES
    // Pass 1: validate every header, take nothing.
    let p = start
    while (end - p >= FRAGMENT_HEADER) {
      const n = (buf[p + 6]! << 8) | buf[p + 7]!
      if (n === 0) break
      if (getU32(buf, p) === 0) throw new DecodeError(`fragment at payload offset ${p - start} has message ID 0`)
      if (buf[p + 4]! >= MAX_FRAGMENTS) throw new DecodeError(`fragment index ${buf[p + 4]!} at payload offset ${p - start} is over ${MAX_FRAGMENTS - 1}`)
      if ((buf[p + 5]! & ~FLAG_LAST) !== 0) throw new DecodeError(`unknown fragment flags ${buf[p + 5]!} at payload offset ${p - start}`)
      if (n > end - p - FRAGMENT_HEADER) throw new DecodeError(`fragment of ${n} bytes at payload offset ${p - start} overruns the payload`)
      p += FRAGMENT_HEADER + n
    }
    // Pass 2: apply.
    const out: Uint8Array[] = []
    p = start
    while (end - p >= FRAGMENT_HEADER) {
      const n = (buf[p + 6]! << 8) | buf[p + 7]!
      if (n === 0) break
      this.fragment(getU32(buf, p), buf[p + 4]!, buf[p + 5]! === FLAG_LAST, buf, p + FRAGMENT_HEADER, n, now, out)
      p += FRAGMENT_HEADER + n
    }
    return out
  }

  /** Takes one validated fragment: data `buf[at .. at + n)`. */
  private fragment (id: number, index: number, last: boolean, buf: Uint8Array, at: number, n: number, now: number, out: Uint8Array[]): void {
    let e = this.pending.get(id)
    if (e !== undefined) {
      if (now - e.firstAt >= this.timeoutMs) {
        this.discard(id, e)
        this.s.expired++
        e = undefined
      } else if (e.frags[index] !== undefined) {
        this.s.duplicates++
        return
      } else if (last ? (e.last >= 0 || e.maxIndex > index) : (e.last >= 0 && index > e.last)) {
        // Contradicts what is held (two lasts, or a fragment past the last): an ID reused after
        // its message lost a fragment. Give the old one up; this fragment starts anew.
        this.discard(id, e)
        this.s.dropped++
        e = undefined
      }
    }
    if (e === undefined && last && index === 0) { // A whole message: the fast path, nothing buffered.
      out.push(buf.slice(at, at + n))
      this.s.completed++
      return
    }
    // What holding this fragment costs (and, for a new message, its record).
    const cost = n + FRAGMENT_COST + (e === undefined ? MESSAGE_COST : 0)
    if (e === undefined) {
      if (cost > this.maxBytes) { this.s.dropped++; return }
      while (this.pending.size >= this.maxMessages && this.evictOldest(undefined));
      while (this.s.pendingBytes + cost > this.maxBytes && this.evictOldest(undefined));
      e = { firstAt: now, frags: [], count: 0, bytes: 0, data: 0, last: -1, maxIndex: -1 }
      this.pending.set(id, e)
      this.s.pendingMessages++
    } else {
      while (this.s.pendingBytes + cost > this.maxBytes) {
        if (!this.evictOldest(e)) { // This message alone would exceed maxBytes.
          this.discard(id, e)
          this.s.dropped++
          return
        }
      }
    }
    const b = this.budget
    if (b !== undefined && !b.take(cost)) {
      let ok = false
      while (!ok && this.evictOldest(e)) ok = b.take(cost)
      if (!ok) { // Nothing of this tunnel's left to give up: this message cannot complete.
        b.refused++
        this.discard(id, e)
        this.s.dropped++
        return
      }
    }
    e.frags[index] = buf.slice(at, at + n)
    e.count++
    e.bytes += cost
    e.data += n
    this.s.pendingBytes += cost
    if (index > e.maxIndex) e.maxIndex = index
    if (last) e.last = index
    if (e.last >= 0 && e.count === e.last + 1) {
      const msg = new Uint8Array(e.data)
      let q = 0
      for (let i = 0; i <= e.last; i++) {
        const f = e.frags[i]!
        msg.set(f, q)
        q += f.length
      }
      this.discard(id, e)
      this.s.completed++
      out.push(msg)
    }
  }

  /** Forgets an incomplete message (the caller counts why). */
  private discard (id: number, e: Pending): void {
    this.pending.delete(id)
    this.s.pendingMessages--
    this.s.pendingBytes -= e.bytes
    this.budget?.give(e.bytes)
  }

  /** Drops the incomplete message that started first, other than `keep`; false if none. */
  private evictOldest (keep: Pending | undefined): boolean {
    for (const [id, e] of this.pending) {
      if (e === keep) continue
      this.discard(id, e)
      this.s.dropped++
      return true
    }
    return false
  }

  /** Drops every incomplete message (not counted: the tunnel is gone), giving its bytes back to the budget. */
  clear (): void {
    for (const [id, e] of this.pending) this.discard(id, e)
  }

  /** Drops the incomplete messages whose first fragment arrived `timeoutMs` or more before `now`; returns how many. */
  expire (now: number): number {
    let n = 0
    for (const [id, e] of this.pending) {
      if (now - e.firstAt >= this.timeoutMs) {
        this.discard(id, e)
        n++
      }
    }
    this.s.expired += n
    return n
  }
}
