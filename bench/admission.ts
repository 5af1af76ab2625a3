/**
 * What admission and accounting cost per relayed cell (issue #6: "under 5% of the hop's
 * throughput"), in this process: a TunnelManager carries one participant tunnel, and
 * TUNNEL_DATA messages from a previous hop are fed to `handle` as a link would, in turns of
 * about 1024 cells (the outbox flushes between turns, as it does on the event loop); the cells it
 * sends on are counted and dropped. One hop per accountant:
 *
 * - `excess`: the real Accountant without limits (the default: everything free);
 * - `limited`: the real Accountant with the downstream limited to `--limit` KB/s, the load held
 *   at 0.5 (in excess: free), the sender without credit (served from the idle capacity);
 * - `scarce`: the same limit with the load held at 1.4 (scarce: each cell judged by the sender's
 *   credit and charged one unit; the sender has the credit to pay for all of them);
 * - `noop`: an accountant that admits everything and records nothing (the baseline).
 *
 * The hops take turns in slices of `--slice` cells, so what else the machine does falls on all
 * alike. Each runs on its own virtual clock, advanced per message by the time the limit takes to
 * refill what the message spends, so the loads stay put whatever the CPU does.
 *
 *   npm run bench -- admission [--json] [--runs 5] [--cells 200000] [--batch 64] [--limit 1000] [--slice 16384]
 *
 * Figures, for `--batch` cells per link message (64: TCP and HTTP links; 1: UDP links, one cell
 * per datagram; by default both): relayed cells per CPU-second (process.cpuUsage, the whole
 * process) of each hop, median of `--runs` rounds; the throughput each real accountant loses
 * against `noop`, in percent (median of the rounds' losses); and the accountant calls alone (the
 * calls a hop makes, in a tight loop), in ns per cell, with what they add to noop's as a share
 * of a noop hop's time per cell.
 */
import { Accountant, CELL_WIRE_BYTES } from '../src/accounting/accountant.ts'
import { createCrypto, cryptoReady, loadCrypto } from '../src/crypto/index.ts'
import type { CryptoSuite } from '../src/crypto/types.ts'
import { TunnelManager } from '../src/tunnel/manager.ts'
import { CELL_BYTES, HopLayer } from '../src/tunnel/layer.ts'
import { CELL_ENTRY, DATA_HEADER, MAX_DATA_MESSAGE, finishData } from '../src/tunnel/messages.ts'
import { toHex, putU32 } from '../src/util/bytes.ts'
import { silentLogger } from '../src/util/log.ts'
import { median, note, numArg, type report as Report } from './report.ts'

/** The accountants compared (see module doc). */
export type AdmissionMode = 'excess' | 'limited' | 'scarce' | 'noop'
export const MODES: readonly AdmissionMode[] = ['excess', 'limited', 'scarce', 'noop']
/** The modes of the real Accountant. */
export const REAL_MODES = ['excess', 'limited', 'scarce'] as const

/** The priority the measured tunnel was built with (what a router offers by default). */
const PRIORITY = 4
/** The share of the downstream bucket held used: load 0.5 (limited, in excess) and 1.4 (scarce). */
const LIMITED_USED = 0.25
const SCARCE_USED = 0.7
/** The previous hop's credit in the scarce mode: pays for this many cells. */
export const SCARCE_CREDIT = 100_000_000
/** Cells fed per event-loop turn (the outbox keeps at most 4096 per next router). */
const TURN_CELLS = 1024

/**
 * The baseline: admits every cell and records nothing. A subclass because the tunnel manager
 * takes the Accountant class; only the methods a transit hop calls per cell or per message are
 * replaced.
 */
export class NoopAccountant extends Accountant {
  override beginCells (_peer: string): void {}
  override admitCell (_priority: number, _cells = 1): boolean { return true }
  override received (_bytes: number): void {}
  override sent (_bytes: number): void {}
  override carrying (_n: number): void {}
}

/** A clock the bench moves. */
class StepClock {
  t = 1000
  now (): number { return this.t }
  wall (): number { return 1_800_000_000_000 + this.t }
}

/** Options of {@link measureCalls}. */
export interface CallsOptions {
  mode: AdmissionMode
  /** Cells to judge (rounded up to whole messages). */
  cells: number
  /** Cells per link message, 1..64. */
  batch: number
  /** The downstream limit of the limited and scarce modes, bytes/s (the clock steps by it in every mode). */
  limitBytesPerSec: number
}

/** What a {@link BenchHop} saw. */
export interface HopRun {
  mode: AdmissionMode
  /** Cells fed to the hop. */
  fed: number
  /** Cells the hop relayed (its `transitCells`) and the cells that left it (sent to the next router). */
  relayed: number
  forwarded: number
  /** Cells refused by admission, dropped as replays. */
  refused: number
  replayed: number
  /** CPU time spent feeding it, ms. */
  cpuMs: number
  /** The accountant's counters: cells served free and for credit, credit charged. */
  free: number
  paid: number
  charged: number
  /** The downstream load at the end (scarce: stays in the scarce band). */
  load: number
  /** The previous hop's credit at the end. */
  credit: number
  /** The link messages that left, when recorded. */
  sent: Uint8Array[]
}

const PREV = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + (i & 15))
const NEXT = Uint8Array.from({ length: 32 }, (_, i) => 0xb0 + (i & 15))
const OWN = Uint8Array.from({ length: 32 }, (_, i) => 0xc0 + (i & 15))
const TUNNEL_ID = 0x1234_5678

/** The accountant of a mode, on `clock`. */
function accountant (mode: AdmissionMode, limit: number, clock: StepClock): Accountant {
  if (mode === 'noop') return new NoopAccountant({}, clock)
  const acct = new Accountant({}, clock)
  if (mode === 'limited') {
    // A limit set, the load in excess: cells are free, but a sender without credit (this one)
    // is served from the idle capacity, and every cell is counted against the limit.
    acct.setBandwidth(0, limit)
    acct.received(LIMITED_USED * limit)
  } else if (mode === 'scarce') {
    acct.setBandwidth(0, limit)
    // The previous hop earned enough to pay for every cell (and a credit that V8 keeps as a small
    // integer, as it does any credit below 2^30); the bucket is put at the scarce load.
    acct.earn(toHex(PREV), SCARCE_CREDIT)
    acct.received(SCARCE_USED * limit)
  }
  return acct
}

/** `n` TUNNEL_DATA messages of `batch` random cells for `TUNNEL_ID`. */
function messages (crypto: CryptoSuite, n: number, batch: number): Uint8Array[] {
  return Array.from({ length: n }, () => {
    const m = new Uint8Array(DATA_HEADER + batch * CELL_ENTRY)
    for (let i = 0; i < batch; i++) {
      putU32(m, DATA_HEADER + i * CELL_ENTRY, TUNNEL_ID)
      m.set(crypto.randomBytes(CELL_BYTES), DATA_HEADER + i * CELL_ENTRY + 4)
    }
    return finishData(m, batch)
  })
}

const turn = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

/**
 * One transit hop in this process with the accountant of a mode (see module doc). The messages
 * are reused: the hop transforms each cell in place, which gives it a fresh nonce for the next
 * pass, so the replay filter sees new cells throughout.
 */
export class BenchHop {
  readonly acct: Accountant
  readonly mgr: TunnelManager
  /** Cells fed, cells that left for the next router, CPU ms spent in {@link feed}. */
  fed = 0
  forwarded = 0
  cpuMs = 0
  /** The link messages that left (copies), when `record` is set. */
  readonly sent: Uint8Array[] = []
  private readonly clock = new StepClock()
  private readonly pool: Uint8Array[]
  private readonly step: number

  constructor (readonly mode: AdmissionMode, crypto: CryptoSuite, batch: number, limitBytesPerSec: number, record = false) {
    this.acct = accountant(mode, limitBytesPerSec, this.clock)
    this.mgr = new TunnelManager({
      crypto,
      clock: this.clock,
      log: silentLogger,
      ownId: OWN,
      staticKey: crypto.x25519Keypair(),
      send: record
        ? (_peer, msg) => { this.forwarded += msg[1]!; this.sent.push(msg.slice()) }
        : (_peer, msg) => { this.forwarded += msg[1]! },
      maxMessage: () => MAX_DATA_MESSAGE,
      accounting: this.acct
    })
    this.mgr.transit.add({
      receiveId: TUNNEL_ID,
      role: 'participant',
      layer: new HopLayer(crypto, crypto.randomBytes(32), crypto.randomBytes(32)),
      next: NEXT,
      nextHex: toHex(NEXT),
      nextTunnelId: 0x0abc_def0,
      macKey: crypto.randomBytes(32),
      priority: PRIORITY,
      expires: Infinity
    })
    const b = Math.max(1, Math.min(64, Math.floor(batch)))
    this.pool = messages(crypto, Math.max(1, Math.floor(TURN_CELLS / b)), b)
    this.step = b * CELL_WIRE_BYTES * 1000 / limitBytesPerSec
  }

  /** Cells fed per turn of the event loop. */
  get turnCells (): number { return this.pool.length * this.pool[0]![1]! }

  /** Feeds `turns` turns' worth of messages (the outbox flushes after each); adds up the CPU time. */
  async feed (turns: number): Promise<void> {
    await turn()
    const c0 = process.cpuUsage()
    for (let k = 0; k < turns; k++) {
      for (const m of this.pool) {
        this.clock.t += this.step
        this.mgr.handle(PREV, m)
      }
      await turn()
    }
    const c = process.cpuUsage(c0)
    this.cpuMs += (c.user + c.system) / 1000
    this.fed += turns * this.turnCells
  }

  /** What it saw so far. */
  result (): HopRun {
    const s = this.acct.stats
    const t = this.mgr.stats
    return {
      mode: this.mode,
      fed: this.fed,
      relayed: t.transitCells,
      forwarded: this.forwarded,
      refused: t.refusedCells,
      replayed: t.replayed,
      cpuMs: this.cpuMs,
      free: s.free.cell,
      paid: s.paid.cell,
      charged: s.charged,
      load: this.acct.down.load(this.clock.now()),
      credit: this.acct.ledger.credit(toHex(PREV)),
      sent: this.sent
    }
  }

  close (): void { this.mgr.close() }
}

/** Options of {@link measureHops}. */
export interface HopsOptions {
  /** Cells to feed each hop (rounded up to whole turns of about 1024 cells). */
  cells: number
  /** Cells per TUNNEL_DATA message, 1..64. */
  batch: number
  /** The downstream limit of the limited and scarce modes, bytes/s (the clock steps by it in every mode). */
  limitBytesPerSec: number
  /** Cells per slice: the modes take turns slice by slice. Default 16 384. */
  slice?: number
  modes?: readonly AdmissionMode[]
  crypto?: CryptoSuite
  /**
   * Gives every hop its own crypto suite seeded with this (tests only): the same keys and the
   * same cells in every mode, so what they send can be compared byte for byte.
   */
  seed?: string
  /** Keeps the link messages each hop sends (tests only). */
  record?: boolean
}

/**
 * Feeds `cells` cells through one hop of each mode and times each (see module doc). The modes
 * take turns in slices (the order rotating), so what else the machine does falls on all alike.
 */
export async function measureHops (o: HopsOptions): Promise<Record<AdmissionMode, HopRun>> {
  await cryptoReady()
  const shared = o.crypto ?? createCrypto()
  const hops = (o.modes ?? MODES).map(m => new BenchHop(m, o.seed !== undefined ? createCrypto({ seed: o.seed }) : shared, o.batch, o.limitBytesPerSec, o.record))
  try {
    const per = hops[0]!.turnCells
    const total = Math.max(1, Math.ceil(o.cells / per))
    const slice = Math.max(1, Math.round((o.slice ?? 16_384) / per))
    for (let done = 0, i = 0; done < total; done += slice, i++) {
      const n = Math.min(slice, total - done)
      for (let j = 0; j < hops.length; j++) await hops[(i + j) % hops.length]!.feed(n)
    }
    return Object.fromEntries(hops.map(h => [h.mode, h.result()])) as Record<AdmissionMode, HopRun>
  } finally {
    for (const h of hops) h.close()
  }
}

/** What {@link measureCalls} saw. */
export interface CallsRun {
  mode: AdmissionMode
  cells: number
  admitted: number
  nsPerCell: number
}

/**
 * The accountant calls alone, in the pattern a transit hop makes them: per link message in,
 * `beginCells` with the sender's ID in hex (one string per link, as the hop keeps it); per cell,
 * `admitCell`; per link message out, `sent`. (`received` is not on the transit path: it counts
 * cells arriving at our own inbound tunnels.) Synchronous; wall time. The noop mode's figure is
 * the loop and the calls themselves.
 */
export function measureCalls (o: CallsOptions): CallsRun {
  const clock = new StepClock()
  const acct = accountant(o.mode, o.limitBytesPerSec, clock)
  const batch = Math.max(1, Math.min(64, Math.floor(o.batch)))
  const msgs = Math.ceil(o.cells / batch)
  const step = batch * CELL_WIRE_BYTES * 1000 / o.limitBytesPerSec
  const out = DATA_HEADER + batch * CELL_ENTRY
  let admitted = 0
  const prevHex = toHex(PREV)
  const t0 = process.hrtime.bigint()
  for (let k = 0; k < msgs; k++) {
    clock.t += step
    acct.beginCells(prevHex)
    for (let i = 0; i < batch; i++) if (acct.admitCell(PRIORITY)) admitted++
    acct.sent(out)
  }
  const ns = Number(process.hrtime.bigint() - t0)
  return { mode: o.mode, cells: msgs * batch, admitted, nsPerCell: ns / (msgs * batch) }
}

/** Throws unless the run relayed every cell it was fed, free or paid as its mode should. */
export function checkRun (r: HopRun): void {
  if (r.relayed !== r.fed || r.forwarded !== r.fed) throw new Error(`${r.mode}: ${r.relayed} relayed, ${r.forwarded} forwarded of ${r.fed} fed (refused ${r.refused}, replayed ${r.replayed})`)
  const want = r.mode === 'noop' ? [0, 0, 0] : r.mode === 'scarce' ? [0, r.fed, r.fed] : [r.fed, 0, 0]
  const ok = r.mode === 'scarce' ? r.load >= 1 && r.load < 2 : r.load < 1
  if (r.free !== want[0] || r.paid !== want[1] || r.charged !== want[2] || !ok) {
    throw new Error(`${r.mode}: ${r.free} free, ${r.paid} paid, ${r.charged} charged of ${r.fed}; load ${r.load.toFixed(2)}`)
  }
}

/** `--batch N` alone, else 64 and 1. */
function batches (args: string[]): number[] {
  const b = numArg(args, 'batch', 0)
  return b > 0 ? [b] : [64, 1]
}

const perMode = (): Record<AdmissionMode, number[]> => ({ excess: [], limited: [], scarce: [], noop: [] })

export async function run (args: string[], report: typeof Report): Promise<void> {
  const runs = Math.max(1, numArg(args, 'runs', 5))
  const cells = numArg(args, 'cells', 200_000)
  const limitBytesPerSec = numArg(args, 'limit', 1000) * 1000
  const crypto = await loadCrypto()
  for (const batch of batches(args)) {
    const base = { cells, batch, limitBytesPerSec, crypto, slice: numArg(args, 'slice', 16_384) }
    const kase = (mode: AdmissionMode): string => `${mode}, ${batch}/msg`
    note(`admission: ${runs} rounds of ${cells} cells per mode, ${batch} per message, through one transit hop each (warming up)…`)
    for (const r of Object.values(await measureHops({ ...base, cells: Math.min(cells, 50_000) }))) checkRun(r)
    const rates = perMode()
    const loss = perMode()
    for (let i = 0; i < runs; i++) {
      const got = await measureHops(base)
      const round = {} as Record<AdmissionMode, number>
      for (const mode of MODES) {
        checkRun(got[mode])
        round[mode] = got[mode].relayed / (got[mode].cpuMs / 1000)
        rates[mode].push(round[mode])
      }
      for (const mode of REAL_MODES) loss[mode].push(100 * (1 - round[mode] / round.noop))
      note(`  round ${i + 1}: ${MODES.map(m => `${m} ${round[m].toFixed(0)}`).join(', ')} cells/CPU-s`)
    }
    for (const mode of MODES) report('admission', kase(mode), 'cells per CPU-second', median(rates[mode]), 'cells/s', `median of ${runs}`)
    for (const mode of REAL_MODES) {
      report('admission', kase(mode), 'throughput lost vs noop', median(loss[mode]), '%', `target < 5 (median of ${runs} rounds)`)
    }
    // The calls alone: many more of them, they are cheap.
    const calls = perMode()
    for (let i = 0; i <= runs; i++) {
      for (const mode of MODES) {
        const r = measureCalls({ mode, cells: 5 * cells, batch, limitBytesPerSec })
        if (r.admitted !== r.cells) throw new Error(`${mode}: ${r.admitted} of ${r.cells} cells admitted in the tight loop`)
        if (i > 0) calls[mode].push(r.nsPerCell)
      }
    }
    const cellNs = 1e9 / median(rates.noop)
    const noopNs = median(calls.noop)
    for (const mode of MODES) {
      const ns = median(calls[mode])
      report('admission', kase(mode), 'accountant calls per cell', ns, 'ns', mode === 'noop'
        ? 'the loop and empty calls'
        : `${(ns - noopNs).toFixed(0)} ns over noop: ${(100 * (ns - noopNs) / cellNs).toFixed(2)} % of a noop hop's ${cellNs.toFixed(0)} ns per cell`)
    }
  }
}
