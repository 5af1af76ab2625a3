/**
 * The accountant: the one admission path every request from another router passes (tunnel
 * builds, relayed cells, netDb lookups and stores), the credit ledger kept in the data
 * directory, and the load monitors of the resources a router spends on others. A thin driver
 * around the pure parts (`ledger.ts`, `load.ts`, `admission.ts`, `util/token-bucket.ts`): it reads the
 * clock, counts, and mirrors the ledger to its database bucket every `flushMs` and on close,
 * so a crash loses at most that much of the ledger. Layout and rules: `docs/accounting.md`.
 */
import type { KvBucket } from '../util/kv.ts'
import type { Clock } from '../util/clock.ts'
import { systemClock } from '../util/clock.ts'
import { fromHex, toHex } from '../util/bytes.ts'
import { ConfigError } from '../util/errors.ts'
import { decide, earlyDropChance, type DropReason } from './admission.ts'
import { TokenBucket } from '../util/token-bucket.ts'
import { decodeCredit, encodeCredit, Ledger } from './ledger.ts'
import { DecayingRate, DelayMonitor, GaugeMonitor, HARD_LOAD, RateMonitor, Resource } from './load.ts'

/** Limits of the resources a router shares. 0 = unlimited. */
export interface AccountingOptions {
  /** Upstream bandwidth, bytes/s. Default 0 (unlimited). */
  upBytesPerSec: number
  /** Downstream bandwidth (traffic we take on), bytes/s. Default 0 (unlimited). */
  downBytesPerSec: number
  /** Transit traffic one peer may make us relay, bytes/s. Default 0 (no per-peer cap). */
  perPeerBytesPerSec: number
  /** Tunnels carried for others. Default 5000. */
  maxTransit: number
  /** NetDb lookups and stores answered for others, per second. Default 500. */
  lookupsPerSec: number
  /** Build requests opened per second (each costs an X25519 before we know whether it is junk). Default 1000. */
  buildsPerSec: number
  /** Queue delay (ms) at which sending counts as scarce. Default 200. */
  queueTargetMs: number
  /** How often the ledger is written to the database. Default 1000 ms. */
  flushMs: number
  /** The priority we offer on our own requests (bounded by what we observe). Default 4. */
  priority: number
}

/** Defaults of {@link AccountingOptions}. */
export const ACCOUNTING_DEFAULTS: AccountingOptions = {
  upBytesPerSec: 0, downBytesPerSec: 0, perPeerBytesPerSec: 0, maxTransit: 5000, lookupsPerSec: 500, buildsPerSec: 1000, queueTargetMs: 200, flushMs: 1000, priority: 4
}

/** What each kind of service is worth in credit units (a relayed 1 KiB cell is 1). */
export const Price = {
  /** One cell carried through a tunnel. */
  CELL: 1,
  /** Taking part in a tunnel that carried traffic. */
  BUILD: 16,
  /** A lookup answered with a verified record. */
  LOOKUP: 4
} as const

/** Bytes a relayed cell costs on the wire (its tunnel ID and body). */
export const CELL_WIRE_BYTES = 1028

/** Counters of the accountant (status shows them). */
export interface AccountingStats {
  /** Requests served free (excess), served for credit, dropped — per resource kind. */
  free: Record<RequestKind, number>
  paid: Record<RequestKind, number>
  dropped: Record<RequestKind, Record<DropReason | 'peer-limit', number>>
  /** Credit units charged to peers and earned by peers. */
  charged: number
  earned: number
}

/** The kinds of request admission judges. */
export type RequestKind = 'build' | 'cell' | 'lookup'

/** A snapshot for status (plain JSON). */
export interface AccountingStatus {
  /** Load per resource (< 1 excess, 1..2 scarce, >= 2 exhausted). */
  load: Record<Resource, number>
  /** Configured limits (0 = unlimited). */
  limits: { upBytesPerSec: number, downBytesPerSec: number, perPeerBytesPerSec: number, maxTransit: number, lookupsPerSec: number, buildsPerSec: number }
  /** Peers we hold credit for, highest first (at most 20). */
  credit: Array<{ peer: string, credit: number }>
  /** Peers with credit. */
  creditPeers: number
  /** Average priority offered to us, and what we offer. */
  avgPriority: number
  offer: number
  stats: AccountingStats
}

const ZERO_REASONS = (): Record<DropReason | 'peer-limit', number> => ({ priority: 0, exhausted: 0, 'peer-limit': 0 })
/**
 * Contributors' demand is measured over this time constant: long enough that a stream backing
 * off for a moment (congestion control) does not hand its share to freeloaders.
 */
const DEMAND_TAU_MS = 5000
/** Contributors' measured demand is taken with this margin when working out idle capacity. */
const IDLE_MARGIN = 1.1
/** Idle per-peer buckets are forgotten after this. */
const PEER_IDLE_MS = 60_000

/** See module doc. */
export class Accountant {
  readonly opts: AccountingOptions
  readonly ledger = new Ledger()
  readonly up: RateMonitor
  readonly down: RateMonitor
  readonly lookups: RateMonitor
  /** Build requests opened (CPU). */
  readonly buildWork: RateMonitor
  readonly transit: GaugeMonitor
  readonly queue: DelayMonitor
  readonly stats: AccountingStats = {
    free: { build: 0, cell: 0, lookup: 0 },
    paid: { build: 0, cell: 0, lookup: 0 },
    dropped: { build: ZERO_REASONS(), cell: ZERO_REASONS(), lookup: ZERO_REASONS() },
    charged: 0,
    earned: 0
  }

  private readonly peers = new Map<string, { bucket: TokenBucket, used: number }>()
  private timer: NodeJS.Timeout | undefined
  private flushing: Promise<void> = Promise.resolve()
  // The cell gate: one link message's cells are judged against state computed once (its time too).
  private gateNow = 0
  private gatePeer = ''
  /** The load of everything but the downstream bandwidth, which each admitted cell raises. */
  private gateOther = 0
  private gateLoad = 0
  private gateCredit = 0
  private gateCredited = false
  private gateBucket: TokenBucket | undefined
  /**
   * Idle capacity: transit traffic from peers with credit is measured, and peers without
   * credit get free service only from what that leaves of the bandwidth limit (`idle`
   * refills at the limit minus the contributors' recent demand). So a freeloader gets only
   * capacity contributors do not want, even while the buckets look half full.
   */
  private readonly creditedDemand = new DecayingRate(DEMAND_TAU_MS)
  private readonly idle: TokenBucket

  /** `random` (uniform in [0, 1)) decides random early drops (see {@link Accountant.admitCell}). */
  constructor (opts: Partial<AccountingOptions> = {}, private readonly clock: Clock = systemClock, private readonly bucket?: KvBucket,
    private readonly random: () => number = Math.random) {
    this.opts = accountingOptions(opts)
    const now = clock.now()
    this.up = new RateMonitor(this.opts.upBytesPerSec, now)
    this.down = new RateMonitor(this.opts.downBytesPerSec, now)
    this.lookups = new RateMonitor(this.opts.lookupsPerSec, now)
    this.buildWork = new RateMonitor(this.opts.buildsPerSec, now)
    this.transit = new GaugeMonitor(this.opts.maxTransit)
    this.queue = new DelayMonitor(this.opts.queueTargetMs)
    this.idle = new TokenBucket(0, 1, now)
    if (bucket !== undefined) {
      const entries: Array<[string, number]> = []
      for (const [k, v] of bucket.entries()) {
        try { entries.push([toHex(k), decodeCredit(v)]) } catch { /* a damaged record is skipped */ }
      }
      this.ledger.load(entries)
    }
  }

  /** Starts the periodic ledger flush. */
  start (): void {
    if (this.timer !== undefined || this.bucket === undefined) return
    this.timer = setInterval(() => { void this.flush() }, this.opts.flushMs)
    this.timer.unref()
  }

  /** Writes changed ledger entries to the database; resolves when durable. */
  async flush (): Promise<void> {
    const b = this.bucket
    if (b === undefined) return
    const dirty = this.ledger.takeDirty()
    if (dirty.length === 0) { await this.flushing; return }
    const writes = dirty.map(async ([peer, credit]) => {
      const key = fromHex(peer)
      await (credit === 0 ? b.delete(key) : b.put(key, encodeCredit(credit)))
    })
    this.flushing = Promise.all([this.flushing, ...writes]).then(() => {})
    await this.flushing
  }

  /** Changes the bandwidth limits (bytes/s, 0 = unlimited) while running. */
  setBandwidth (upBytesPerSec: number, downBytesPerSec: number): void {
    const o = accountingOptions({ ...this.opts, upBytesPerSec, downBytesPerSec })
    Object.assign(this.opts, { upBytesPerSec: o.upBytesPerSec, downBytesPerSec: o.downBytesPerSec })
    const now = this.clock.now()
    this.up.setRate(o.upBytesPerSec, now)
    this.down.setRate(o.downBytesPerSec, now)
  }

  /** Stops the timer and flushes. */
  async close (): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    await this.flush()
  }

  /** The priority to offer on a request we make (see `Ledger.offer`). */
  offer (): number { return this.ledger.offer(this.opts.priority) }

  /** A peer served us: credit it. */
  earn (peer: string, units: number): void {
    if (units <= 0) return
    this.ledger.earn(peer, units)
    this.stats.earned += units
  }

  /** Bytes we sent on links (all of them: ours, relayed, cover). */
  sent (bytes: number): void { this.up.spend(bytes, this.clock.now()) }

  /** How long something waited to be sent. */
  queued (delayMs: number): void { this.queue.record(delayMs, this.clock.now()) }

  /** The number of tunnels we carry now. */
  carrying (n: number): void { this.transit.set(n) }

  /**
   * A tunnel build request from `peer` offering `priority`: whether to take part. Spends the
   * transit, bandwidth and queue resources; 'transit' or 'bandwidth' says which one refused.
   */
  admitBuild (peer: string, priority: number): 'ok' | 'transit' | 'bandwidth' {
    const now = this.clock.now()
    const t = this.transit.load(now)
    const bw = this.bandwidthLoad(now)
    if (this.judge('build', peer, priority, Math.max(t, bw))) return 'ok'
    return t >= bw ? 'transit' : 'bandwidth'
  }

  /**
   * A build message arrived from `peer`, not yet opened: whether to spend the work of opening
   * it. While building or bandwidth is scarce, a peer without credit could not be served
   * anyway (its priority is bounded by its credit), so its message is dropped unopened; a
   * flood of junk then costs almost nothing.
   */
  admitBuildMessage (peer: string): boolean {
    const now = this.clock.now()
    const load = Math.max(this.buildWork.load(now), this.bandwidthLoad(now))
    if (load >= HARD_LOAD || (load >= 1 && this.ledger.credit(peer) === 0)) {
      this.stats.dropped.build[load >= HARD_LOAD ? 'exhausted' : 'priority']++
      return false
    }
    this.buildWork.spend(1, now)
    return true
  }

  /** A netDb lookup or store from `peer` offering `priority`: whether to answer it. */
  admitLookup (peer: string, priority: number): boolean {
    const now = this.clock.now()
    const ok = this.judge('lookup', peer, priority, this.lookups.load(now))
    if (ok) this.lookups.spend(1, now)
    return ok
  }

  /**
   * Starts judging the transit cells of one link message from `peer`: the loads, the peer's
   * credit and its per-peer bucket are read once; {@link admitCell} then judges each cell.
   */
  beginCells (peer: string): void {
    const now = this.gateNow = this.clock.now()
    this.gatePeer = peer
    this.gateOther = Math.max(this.up.load(now), this.queue.load(now))
    this.gateLoad = Math.max(this.gateOther, this.down.load(now))
    const limit = this.cellLimit()
    // Without a bandwidth limit the load cannot rise during the message, so while it is below 1
    // every cell is free and the credit is never consulted: it is not looked up (hashing the
    // 64-character ID is most of what a one-cell message costs here).
    this.gateCredit = limit > 0 || this.gateLoad >= 1 ? this.ledger.credit(peer) : 0
    this.gateCredited = this.gateCredit > 0
    this.gateBucket = this.peerBucket(peer, now)
    if (limit > 0 && !this.gateCredited) {
      const rate = Math.max(0, limit - IDLE_MARGIN * this.creditedDemand.rate(now))
      this.idle.set(rate, Math.max(CELL_WIRE_BYTES, limit / 4), now)
    }
  }

  /**
   * One transit cell of the message begun by {@link beginCells}, in a tunnel offered
   * `priority`; or `cells` cells' worth at once (a message an inbound gateway will cut into
   * cells), all or nothing.
   */
  admitCell (priority: number, cells = 1): boolean {
    const now = this.gateNow
    const bytes = cells * CELL_WIRE_BYTES
    const b = this.gateBucket
    if (b !== undefined && !b.take(bytes, now)) { this.stats.dropped.cell['peer-limit'] += cells; return false }
    const limited = this.cellLimit() > 0
    if (this.gateCredited && limited) this.creditedDemand.add(bytes, now)
    const d = decide(this.gateLoad, priority, this.gateCredit, this.ledger.avgReceived)
    if (!d.ok || (!d.free && this.gateCredit < cells * Price.CELL) || (!d.free && this.earlyDrop(d.effective)) ||
      (d.free && !this.gateCredited && limited && !this.idle.take(bytes, now))) {
      this.stats.dropped.cell[d.reason ?? 'priority'] += cells
      return false
    }
    if (d.free) {
      this.stats.free.cell += cells
    } else {
      const c = this.ledger.charge(this.gatePeer, cells * Price.CELL)
      this.gateCredit -= c
      this.stats.charged += c
      this.stats.paid.cell += cells
    }
    this.down.spend(bytes, now)
    if (!this.down.bucket.unlimited) this.gateLoad = Math.max(this.gateOther, this.down.load(now))
    return true
  }

  /** Cells of ours (not relayed) that arrived: they count against the downstream limit. */
  received (bytes: number): void { this.down.spend(bytes, this.clock.now()) }

  /** The tighter of the bandwidth limits relayed cells spend (bytes/s), 0 when neither is set. */
  private cellLimit (): number {
    const u = this.opts.upBytesPerSec
    const d = this.opts.downBytesPerSec
    return u === 0 ? d : d === 0 ? u : Math.min(u, d)
  }

  /** Sending and queueing: what relaying anything more would spend. */
  private bandwidthLoad (now: number): number {
    return Math.max(this.up.load(now), this.down.load(now), this.queue.load(now))
  }

  /** A build or lookup: served by the admission rule and charged its effective priority. */
  private judge (kind: RequestKind, peer: string, priority: number, load: number): boolean {
    this.ledger.observe(priority)
    const d = decide(load, priority, load < 1 ? 0 : this.ledger.credit(peer), this.ledger.avgReceived)
    if (!d.ok) { this.stats.dropped[kind][d.reason!]++; return false }
    if (d.free) { this.stats.free[kind]++; return true }
    this.stats.charged += this.ledger.charge(peer, d.effective)
    this.stats.paid[kind]++
    return true
  }

  /** Random early drop of a paid cell (`earlyDropChance` in admission.ts). */
  private earlyDrop (effective: number): boolean {
    const p = earlyDropChance(this.gateLoad, effective, this.ledger.avgReceived)
    return p > 0 && this.random() < p
  }

  private peerBucket (peer: string, now: number): TokenBucket | undefined {
    const rate = this.opts.perPeerBytesPerSec
    if (rate === 0) return undefined
    let p = this.peers.get(peer)
    if (p === undefined) {
      if (this.peers.size > 4096) this.sweep(now)
      this.peers.set(peer, p = { bucket: new TokenBucket(rate, rate, now), used: now })
    }
    p.used = now
    return p.bucket
  }

  private sweep (now: number): void {
    for (const [k, p] of this.peers) if (now - p.used > PEER_IDLE_MS) this.peers.delete(k)
  }

  /** A snapshot for status. */
  status (): AccountingStatus {
    const now = this.clock.now()
    const o = this.opts
    return {
      load: {
        [Resource.UP]: this.up.load(now),
        [Resource.DOWN]: this.down.load(now),
        [Resource.TRANSIT]: this.transit.load(now),
        [Resource.LOOKUP]: this.lookups.load(now),
        [Resource.QUEUE]: this.queue.load(now),
        [Resource.BUILD]: this.buildWork.load(now)
      } as Record<Resource, number>,
      limits: { upBytesPerSec: o.upBytesPerSec, downBytesPerSec: o.downBytesPerSec, perPeerBytesPerSec: o.perPeerBytesPerSec, maxTransit: o.maxTransit, lookupsPerSec: o.lookupsPerSec, buildsPerSec: o.buildsPerSec },
      credit: this.ledger.top(20),
      creditPeers: this.ledger.size,
      avgPriority: this.ledger.avgReceived,
      offer: this.offer(),
      stats: this.stats
    }
  }
}

/** Checks accounting options (merged over the defaults); ConfigError on bad values. */
export function accountingOptions (o: Partial<AccountingOptions> = {}): AccountingOptions {
  const out = { ...ACCOUNTING_DEFAULTS, ...o }
  for (const k of Object.keys(ACCOUNTING_DEFAULTS) as Array<keyof AccountingOptions>) {
    const v = out[k]
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ConfigError(`accounting ${k} must be a number >= 0, got ${String(v)}`)
  }
  if (out.queueTargetMs <= 0) throw new ConfigError('accounting queueTargetMs must be above 0')
  if (out.flushMs < 100) throw new ConfigError('accounting flushMs must be at least 100')
  if (out.priority > 65_535) throw new ConfigError('accounting priority must be at most 65535')
  return out
}
