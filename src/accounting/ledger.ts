/**
 * The credit ledger: this router's private opinion of each peer it talks to, as in GNUnet's
 * excess-based economy (there "trust", later "respect"). A peer earns credit by doing work we
 * asked for (answering our lookups, carrying our tunnels) and spends it when it asks for work
 * while our resources are scarce. Credit is a local, non-negative integer (a u32, saturating at
 * both ends); nobody else sees it, and unknown peers have none. Pure: no I/O, no timers.
 *
 * It also keeps the running average of the priorities peers offer us, which bounds the
 * priorities we offer ({@link Ledger.offer}): an outgoing priority far above what the network
 * sees would single out its originator, so ours stay within `2 * (1 + average)`.
 *
 * Persistence is the driver's job: {@link Ledger.takeDirty} hands out what changed since the last
 * flush (credit 0 meaning "delete the record"), {@link Ledger.load} takes the stored records back,
 * and {@link encodeCredit} / {@link decodeCredit} are the record's value bytes.
 *
 * Memory is bounded: only peers with credit are kept, at most `maxPeers` of them. A peer that
 * would be the one too many either displaces the lowest-credit peer kept (which is forgotten and
 * reported dirty with 0) or, if its credit would not exceed that lowest credit, is refused and
 * stays at 0. Finding the lowest is a scan of the kept peers, paid only when a newcomer arrives
 * while the ledger is full.
 */
import { checkU32, getU32, putU32 } from '../util/bytes.ts'
import { ConfigError, DecodeError, LimitError } from '../util/errors.ts'

/** The most credit a peer can have (u32 max); earning more saturates. */
export const MAX_CREDIT = 0xffff_ffff
/** The highest priority taken into the running average; higher ones count as this. */
export const MAX_PRIORITY = 65_535

/** The running average of received priorities weighs the old value 15/16 (GNUnet's RUNAVG_DELAY_N = 16). */
const AVG_N = 16
const PEER_RE = /^[0-9a-f]{64}$/

/** Options of {@link Ledger}. */
export interface LedgerOptions {
  /** Most peers with credit kept in memory; default 10 000. */
  maxPeers?: number
}

/** Throws LimitError unless `peer` is a router ID as 64 lowercase hex characters. */
function checkPeer (peer: string): void {
  if (!PEER_RE.test(peer)) throw new LimitError('peer must be a router ID in 64 lowercase hex characters')
}

/** Throws LimitError unless `amount` is a non-negative integer. */
function checkAmount (amount: number): void {
  if (!Number.isInteger(amount) || amount < 0) throw new LimitError(`credit amount ${amount} is not a non-negative integer`)
}

/** The per-peer credit ledger. See the module comment. */
export class Ledger {
  /** Most peers kept. */
  readonly maxPeers: number
  private readonly credits = new Map<string, number>()
  private readonly dirty = new Set<string>()
  private avg = 0

  /** Throws ConfigError unless `maxPeers` is a positive integer. */
  constructor (opts: LedgerOptions = {}) {
    const maxPeers = opts.maxPeers ?? 10_000
    if (!Number.isInteger(maxPeers) || maxPeers < 1) throw new ConfigError('ledger maxPeers must be a positive integer')
    this.maxPeers = maxPeers
  }

  /** Credit of a peer (hex router ID), 0 when unknown (or not a router ID). */
  credit (peer: string): number {
    return this.credits.get(peer) ?? 0
  }

  /**
   * Adds `amount` to the peer's credit, saturating at {@link MAX_CREDIT}; returns the new credit.
   * Marks the peer dirty if its credit changed. A newcomer to a full ledger may be refused (see
   * the module comment); it then stays at 0 and 0 is returned. Throws LimitError for a bad
   * peer ID or an amount that is not a non-negative integer.
   */
  earn (peer: string, amount: number): number {
    checkPeer(peer)
    checkAmount(amount)
    const old = this.credits.get(peer)
    const next = Math.min(MAX_CREDIT, (old ?? 0) + amount)
    if (old === undefined) return this.admit(peer, next) ? next : 0
    if (next !== old) {
      this.credits.set(peer, next)
      this.dirty.add(peer)
    }
    return next
  }

  /**
   * Deducts `min(amount, credit)` and returns what was deducted; marks the peer dirty if that is
   * more than 0. A peer charged down to 0 is forgotten (and reported dirty with 0). Throws
   * LimitError for a bad peer ID or an amount that is not a non-negative integer.
   */
  charge (peer: string, amount: number): number {
    checkAmount(amount)
    const old = this.credits.get(peer)
    // A peer in the ledger was checked when it entered: only unknown IDs are checked here (this
    // runs for every cell relayed for credit).
    if (old === undefined) { checkPeer(peer); return 0 }
    if (amount === 0) return 0
    const taken = Math.min(amount, old)
    if (taken === old) this.credits.delete(peer)
    else this.credits.set(peer, old - taken)
    this.dirty.add(peer)
    return taken
  }

  /**
   * Records a priority offered to us by a peer, clamped to {@link MAX_PRIORITY}, into the
   * running average `new = (old * 15 + x) / 16`. Throws LimitError if it is negative or NaN.
   */
  observe (priority: number): void {
    if (!(priority >= 0)) throw new LimitError(`priority ${priority} is not a non-negative number`)
    this.avg = (this.avg * (AVG_N - 1) + Math.min(priority, MAX_PRIORITY)) / AVG_N
  }

  /** The running average of priorities offered to us (0 before any). */
  get avgReceived (): number {
    return this.avg
  }

  /**
   * The priority we may offer when we want `wanted`: `min(wanted, floor(2 * (1 + avgReceived)))`,
   * rounded down to an integer and at least 0 (NaN counts as 0). Keeps our priorities within a
   * constant factor of what we observe, so they never single out the originator.
   */
  offer (wanted: number): number {
    const bound = Math.floor(2 * (1 + this.avg))
    const w = Number.isNaN(wanted) ? 0 : Math.floor(wanted)
    return Math.max(0, Math.min(w, bound))
  }

  /**
   * The entries changed since the last call, as `[peer, credit]` with credit 0 meaning "delete
   * the record"; clears the dirty set.
   */
  takeDirty (): Array<[string, number]> {
    const out: Array<[string, number]> = []
    for (const peer of this.dirty) out.push([peer, this.credits.get(peer) ?? 0])
    this.dirty.clear()
    return out
  }

  /**
   * Loads persisted entries, replacing any credit held for the same peers. Skips invalid ones
   * (a peer that is not 64 lowercase hex characters; a credit that is not an integer in
   * 1..MAX_CREDIT; 0 is valid but means nothing is kept). Loaded entries are not marked dirty;
   * entries the `maxPeers` bound refuses or evicts are, with 0, so the store follows memory.
   */
  load (entries: Iterable<[string, number]>): void {
    for (const [peer, credit] of entries) {
      if (typeof peer !== 'string' || !PEER_RE.test(peer)) continue
      if (!Number.isInteger(credit) || credit < 1 || credit > MAX_CREDIT) continue
      if (this.credits.has(peer)) this.credits.set(peer, credit)
      else if (!this.admit(peer, credit)) this.dirty.add(peer)
      else this.dirty.delete(peer)
    }
  }

  /** Peers with credit, highest first (ties by peer ID), at most `limit` of them. */
  top (limit: number): Array<{ peer: string, credit: number }> {
    const n = Math.max(0, Math.floor(limit))
    if (!(n > 0)) return []
    return [...this.credits]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, n)
      .map(([peer, credit]) => ({ peer, credit }))
  }

  /** Peers with non-zero credit (all those kept). */
  get size (): number {
    return this.credits.size
  }

  /**
   * Keeps a peer not in the ledger with `credit` (> 0), evicting the lowest-credit peer if the
   * ledger is full; returns false (keeping nothing) when `credit` does not exceed that lowest.
   * Marks the newcomer dirty and the evicted peer dirty (with 0).
   */
  private admit (peer: string, credit: number): boolean {
    if (credit === 0) return false
    if (this.credits.size >= this.maxPeers) {
      let lowPeer: string | undefined
      let low = Infinity
      for (const [p, c] of this.credits) if (c < low) { low = c; lowPeer = p }
      if (lowPeer === undefined || credit <= low) return false
      this.credits.delete(lowPeer)
      this.dirty.add(lowPeer)
    }
    this.credits.set(peer, credit)
    this.dirty.add(peer)
    return true
  }
}

/** The credit record's value bytes: the credit as a u32, big-endian. Throws LimitError unless a u32. */
export function encodeCredit (credit: number): Uint8Array {
  checkU32(credit, 'credit')
  const b = new Uint8Array(4)
  putU32(b, 0, credit)
  return b
}

/** Decodes a credit record's value (4 bytes, u32 big-endian); DecodeError unless exactly 4 bytes. */
export function decodeCredit (b: Uint8Array): number {
  if (b.length !== 4) throw new DecodeError(`credit record must be 4 bytes, got ${b.length}`)
  return getU32(b, 0)
}
