/**
 * A tunnel pool: the inbound and outbound tunnels of one owner (a destination, or the router
 * itself), kept at the configured quantity and length. Builds replacements before tunnels
 * expire and at once when one fails; tests each outbound tunnel through one of its inbound
 * tunnels (a loop: out through the one, back in through the other) and retires tunnels that fail
 * twice in a row; with loop cover on (`loopIntervalMs`) also sends loops at Poisson-distributed
 * times through random pairs, so that an observer sees traffic when the owner is idle and a
 * tunnel that drops traffic is found within seconds. Loops look like garlic existing-session
 * messages of the sizes the owner really sends (docs/cover.md). Forgets tunnels whose first
 * (outbound) or last (inbound) hop's link went down. Hops are drawn by peer profile, distinct within a
 * tunnel and never ourselves. The first inbound tunnel's request goes straight to its gateway
 * (there is no outbound tunnel yet); later ones go through an outbound tunnel, and outbound
 * tunnels are answered through an inbound one.
 */
import { setMaxListeners } from 'node:events'
import type { Clock } from '../util/clock.ts'
import type { Logger } from '../util/log.ts'
import { ConfigError, AbortError } from '../util/errors.ts'
import { DeliveryKind, encodeTunnelMessage } from './delivery.ts'
import type { TunnelManager } from './manager.ts'
import type { HopTarget } from './plan.ts'
import { pickHops } from './select.ts'
import { pickOne, shuffle } from '../util/random.ts'
import { toHex } from '../util/bytes.ts'
import { exponentialMs } from '../cover/poisson.ts'
import type { InboundTunnel, OutboundTunnel } from './tunnel.ts'
import { LossJudge, type Loop as LossLoop, type Verdict } from './loss.ts'

type OwnTunnel = InboundTunnel | OutboundTunnel
/** A loop: through which tunnels, sent when (monotonic ms). */
interface Loop extends LossLoop<OwnTunnel> { out: OutboundTunnel, inb: InboundTunnel }

/** How a pool is shaped. */
export interface PoolSettings {
  /** Hops per tunnel, 0..7. Default 3. */
  length: number
  /** Tunnels kept per direction, 1..16. Default 2. */
  quantity: number
  /** Up to this many hops added at random (0..7-length), so lengths vary. Default 0. */
  variance: number
  /** Test each tunnel this often (0 = never). Default 10 000 ms. */
  testIntervalMs: number
  /** A test must come back within this. Default 3000 ms. */
  testTimeoutMs: number
  /** Build a replacement this long before a tunnel expires. Default 90 000 ms. */
  rebuildBeforeMs: number
  /** Loop cover: mean ms between loops at Poisson-distributed times (0 = none, else >= 100). Default 0. */
  loopIntervalMs: number
}

/** Defaults of {@link PoolSettings}. */
export const POOL_DEFAULTS: PoolSettings = { length: 3, quantity: 2, variance: 0, testIntervalMs: 10_000, testTimeoutMs: 3000, rebuildBeforeMs: 90_000, loopIntervalMs: 0 }

/** Checks pool settings; ConfigError on bad values. */
export function poolSettings (s: Partial<PoolSettings> = {}): PoolSettings {
  const out = { ...POOL_DEFAULTS, ...s }
  const int = (name: keyof PoolSettings, lo: number, hi: number): void => {
    const v = out[name]
    if (!Number.isInteger(v) || v < lo || v > hi) throw new ConfigError(`tunnel ${name} must be an integer ${lo}..${hi}, got ${v}`)
  }
  int('length', 0, 7)
  int('quantity', 1, 16)
  int('variance', 0, 7 - out.length)
  int('testIntervalMs', 0, 3_600_000)
  int('testTimeoutMs', 1, 60_000)
  int('rebuildBeforeMs', 0, 300_000)
  int('loopIntervalMs', 0, 3_600_000)
  if (out.loopIntervalMs > 0 && out.loopIntervalMs < MIN_LOOP_MS) throw new ConfigError(`tunnel loopIntervalMs must be 0 (none) or >= ${MIN_LOOP_MS}, got ${out.loopIntervalMs}`)
  return out
}

/** What a pool needs besides the manager. */
export interface PoolDeps {
  manager: TunnelManager
  clock: Clock
  log: Logger
  ownId: Uint8Array
  /** Routers that may be hops now. */
  candidates: () => HopTarget[]
  /** Uniform in [0, 1). */
  random: () => number
  /** Random bytes. */
  randomBytes: (n: number) => Uint8Array
}

/** Counters of a pool. */
export interface PoolStats {
  built: number
  failedBuilds: number
  /** Loops (tests and cover) that came back in time. */
  testsPassed: number
  /** Loops that did not come back in time (through tunnels both still in the pool). */
  testsFailed: number
  /** Lost loops that came back later after all (within a few timeouts). */
  loopsLate: number
  retired: number
  /** Cover loops sent (Poisson-scheduled, besides the periodic tests). */
  loopsSent: number
  /** Bytes of the cover loops sent (messages, before fragmenting into cells). */
  loopBytes: number
}

/** Shortest mean interval of loop cover accepted, ms. */
const MIN_LOOP_MS = 100
/**
 * First byte of a loop: that of a garlic existing-session message (`garlic/layout.ts` TYPE_ES),
 * so a loop looks like one to the endpoint of the outbound tunnel, which sees messages in clear.
 */
const LOOP_TYPE = 0x01
/** Random token after the type byte; what identifies a loop coming back. */
const TOKEN_BYTES = 16
const LOOP_MIN_BYTES = 1 + TOKEN_BYTES
/** Loops are drawn from the sizes of the last this many messages the owner sent. */
const SIZE_MEMORY = 32
/** Size range of loops before the owner has sent anything: one cell's worth of garlic. */
const DEFAULT_LOOP_BYTES: readonly [number, number] = [LOOP_MIN_BYTES + 8, 960]
/** Largest loop sent (bigger messages the owner sends are sampled down to this). */
const MAX_LOOP_BYTES = 8000
/** Most loops in flight at once (about 3 s of Poisson sending at 1000/s); more are not sent. */
const MAX_PENDING_LOOPS = 4096
/** A loop that timed out still counts as a pass when it comes back within this many timeouts. */
const LATE_TIMEOUTS = 4
/** The fallback retires tunnels only after nothing came back for this many timeouts. */
const QUIET_TIMEOUTS = 2
/** How long routers of a failed build or tunnel are avoided. */
const SUSPECT_MS = 30_000

/** One owner's tunnels (see module doc). */
export class TunnelPool {
  readonly inbound: InboundTunnel[] = []
  readonly outbound: OutboundTunnel[] = []
  readonly stats: PoolStats = { built: 0, failedBuilds: 0, testsPassed: 0, testsFailed: 0, loopsLate: 0, retired: 0, loopsSent: 0, loopBytes: 0 }
  /** A message (a DELIVER_LOCAL body) came out of one of our inbound tunnels. */
  onMessage: (data: Uint8Array, via: InboundTunnel) => void = () => {}
  /** The set of inbound tunnels changed (time to republish a LeaseSet). */
  onInboundChange: () => void = () => {}

  private buildingIn = 0
  private buildingOut = 0
  private timer: NodeJS.Timeout | undefined
  private lastTest = 0
  private loopTimer: NodeJS.Timeout | undefined
  /** Loops in flight by token (hex). */
  private readonly tests = new Map<string, Loop & { timer: NodeJS.Timeout }>()
  /** Loops that timed out, by token, kept a while in case they come back late (oldest first). */
  private readonly late = new Map<string, { loop: Loop, lostAt: number }>()
  /** Attributes lost loops to tunnels. */
  private readonly judge: LossJudge<OwnTunnel>
  private testRound = 0
  /** Sizes of the last messages the owner sent (a ring), which loops imitate. */
  private readonly sizes: number[] = []
  private sizeAt = 0
  private readonly waiters = new Set<() => void>()
  /** Routers in a build that timed out or a tunnel that failed, avoided until the time given (ms). */
  private readonly suspects = new Map<string, number>()
  private readonly abort = new AbortController()
  private stopped = false

  constructor (private readonly deps: PoolDeps, readonly settings: PoolSettings, readonly name: string) {
    // Every build in flight listens on it (up to 4 × quantity at once).
    setMaxListeners(8 * settings.quantity + 8, this.abort.signal)
    this.judge = new LossJudge(QUIET_TIMEOUTS * settings.testTimeoutMs)
  }

  /** Starts building and keeps the pool full until {@link stop}. */
  start (): void {
    this.timer = setInterval(() => { this.maintain() }, 500)
    this.timer.unref()
    this.maintain()
    this.scheduleLoop()
  }

  /** Resolves once there is at least one tunnel each way. */
  async ready (signal?: AbortSignal): Promise<void> {
    if (this.isReady()) return
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { this.waiters.delete(check); reject(new AbortError('waiting for tunnels aborted')) }
      const check = (): void => {
        if (!this.isReady()) return
        this.waiters.delete(check)
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      this.waiters.add(check)
      if (signal?.aborted === true) onAbort()
      else signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  private isReady (): boolean { return this.live(this.inbound).length > 0 && this.live(this.outbound).length > 0 }

  private live<T extends InboundTunnel | OutboundTunnel> (list: T[]): T[] {
    const now = this.deps.clock.now()
    return list.filter(t => t.expires > now)
  }

  /** An outbound tunnel to send through (random among live ones), if any. */
  pickOutbound (): OutboundTunnel | undefined { return pickOne(this.live(this.outbound), this.deps.random) }

  /** An inbound tunnel (random among live ones), if any. */
  pickInbound (): InboundTunnel | undefined { return pickOne(this.live(this.inbound), this.deps.random) }

  /** The link to router `idHex` went down: tunnels that start (outbound) or end (inbound) there are gone. */
  peerGone (idHex: string): void {
    for (const t of [...this.outbound]) if (t.first?.idHex === idHex) this.fail(t, 'first hop unreachable')
    for (const t of [...this.inbound]) if (t.lastHex === idHex) this.fail(t, 'last hop unreachable')
  }

  /** Retires a tunnel that does not work; a replacement is built at once. */
  fail (t: InboundTunnel | OutboundTunnel, why: string): void {
    if (!this.remove(t)) return
    this.suspect(t.hops.map(h => h.idHex))
    for (const h of t.hops) this.deps.manager.profiles.failed(h.idHex)
    this.deps.log.info('tunnel failed', { pool: this.name, tunnel: t.name, why })
    this.maintain()
  }

  private remove (t: InboundTunnel | OutboundTunnel): boolean {
    const list: Array<InboundTunnel | OutboundTunnel> = 'receiveId' in t ? this.inbound : this.outbound
    const i = list.indexOf(t)
    if (i < 0) return false
    list.splice(i, 1)
    this.judge.forget(t)
    this.deps.manager.retire(t)
    this.stats.retired++
    if ('receiveId' in t) this.onInboundChange()
    return true
  }

  /** Builds what is missing, drops what expired, runs tests. */
  maintain (): void {
    if (this.stopped) return
    const now = this.deps.clock.now()
    for (const t of [...this.inbound, ...this.outbound]) if (t.expires <= now) this.remove(t)
    const fresh = (list: Array<InboundTunnel | OutboundTunnel>): number => list.filter(t => t.expires - this.settings.rebuildBeforeMs > now).length
    const q = this.settings.quantity
    // With no live tunnel in a direction, build twice what is missing at once: one dead router
    // among the candidates then costs no extra build timeout.
    const need = (list: Array<InboundTunnel | OutboundTunnel>, building: number): number =>
      (this.live(list).length === 0 ? 2 * q : q - fresh(list)) - building
    const inNeed = need(this.inbound, this.buildingIn)
    for (let i = 0; i < inNeed && this.buildingIn < 2 * q; i++) this.buildIn()
    const outNeed = need(this.outbound, this.buildingOut)
    if (this.live(this.inbound).length > 0) for (let i = 0; i < outNeed && this.buildingOut < 2 * q; i++) this.buildOut()
    if (this.settings.testIntervalMs > 0 && now - this.lastTest >= this.settings.testIntervalMs) {
      this.lastTest = now
      this.runTests()
    }
  }

  /** Avoids these routers for a while (one of them is probably down). */
  private suspect (ids: string[]): void {
    const until = this.deps.clock.now() + SUSPECT_MS
    for (const id of ids) this.suspects.set(id, until)
  }

  /**
   * Draws the hops of a new tunnel: suspects are left out while enough other routers remain
   * (a small network may have to try them again).
   */
  private hops (): HopTarget[] | undefined {
    const s = this.settings
    const n = s.length + (s.variance > 0 ? Math.floor(this.deps.random() * (s.variance + 1)) : 0)
    if (n === 0) return []
    const m = this.deps.manager
    const now = this.deps.clock.now()
    for (const [id, until] of this.suspects) if (until <= now) this.suspects.delete(id)
    const candidates = this.deps.candidates()
    const weight = (id: string): number => m.profiles.weight(id)
    const exclude = new Set([m.idHex, ...this.suspects.keys()])
    const chosen = pickHops(candidates, n, weight, this.deps.random, exclude)
    if (chosen.length < n) {
      for (const c of chosen) exclude.add(c.idHex)
      for (const id of this.suspects.keys()) exclude.delete(id)
      chosen.push(...pickHops(candidates, n - chosen.length, weight, this.deps.random, exclude))
    }
    if (chosen.length < n) return undefined
    // Hop order is random, so suspects taken to fill up do not always sit in one position.
    return shuffle(chosen, this.deps.random)
  }

  private buildIn (): void {
    const hops = this.hops()
    if (hops === undefined) return
    this.buildingIn++
    const via = this.pickOutbound()
    this.deps.manager.buildInbound(hops, via, this.abort.signal).then(t => {
      if (this.stopped) { this.deps.manager.retire(t); return }
      t.onMessage = (data) => { this.onInbound(data, t) }
      this.inbound.push(t)
      this.stats.built++
      this.onInboundChange()
      this.notify()
    }, (err: unknown) => {
      this.stats.failedBuilds++
      this.suspect(hops.map(h => h.idHex))
      if (via !== undefined && (err as Error).name === 'TimeoutError' && ++via.strikes >= 2) this.fail(via, 'inbound builds sent through it time out')
      this.deps.log.debug('inbound build failed', { pool: this.name, err: String(err) })
    }).finally(() => { this.buildingIn-- })
  }

  private buildOut (): void {
    const hops = this.hops()
    const reply = this.pickInbound()
    if (hops === undefined || reply === undefined) return
    this.buildingOut++
    this.deps.manager.buildOutbound(hops, reply, this.abort.signal).then(t => {
      if (this.stopped) { this.deps.manager.retire(t); return }
      this.outbound.push(t)
      this.stats.built++
      this.notify()
    }, (err: unknown) => {
      this.stats.failedBuilds++
      this.suspect(hops.map(h => h.idHex))
      // The answer comes back through `reply`: if that tunnel is what broke, nothing else tests
      // it while no outbound tunnel exists, so timeouts count against it too.
      if ((err as Error).name === 'TimeoutError' && ++reply.strikes >= 2) this.fail(reply, 'outbound builds answered through it time out')
      this.deps.log.debug('outbound build failed', { pool: this.name, err: String(err) })
    }).finally(() => { this.buildingOut-- })
  }

  private notify (): void { for (const w of [...this.waiters]) w() }

  private onInbound (data: Uint8Array, via: InboundTunnel): void {
    if ((this.tests.size > 0 || this.late.size > 0) && data.length >= LOOP_MIN_BYTES && data[0] === LOOP_TYPE && this.loopReturned(data)) return
    this.onMessage(data, via)
  }

  /** The owner sent a message of `bytes` through this pool (loops imitate the sizes). */
  noteSent (bytes: number): void {
    this.sizes[this.sizeAt] = bytes
    this.sizeAt = (this.sizeAt + 1) % SIZE_MEMORY
  }

  /** A loop's size: one the owner sent lately, or one cell's worth of garlic before it sent any. */
  private loopSize (): number {
    const r = this.deps.random
    const n = this.sizes.length > 0
      ? this.sizes[Math.floor(r() * this.sizes.length)]!
      : DEFAULT_LOOP_BYTES[0] + Math.floor(r() * (DEFAULT_LOOP_BYTES[1] - DEFAULT_LOOP_BYTES[0] + 1))
    return Math.max(LOOP_MIN_BYTES, Math.min(MAX_LOOP_BYTES, n))
  }

  /** Sends a test through each outbound tunnel to one of our inbound tunnels. */
  private runTests (): void {
    const ins = this.live(this.inbound)
    if (ins.length === 0) return
    // The pairs rotate from round to round, so a loss can be pinned on one side by the other's passes.
    const round = this.testRound++
    this.live(this.outbound).forEach((out, i) => { this.sendLoop(out, ins[(i + round) % ins.length]!) })
  }

  private scheduleLoop (): void {
    const every = this.settings.loopIntervalMs
    if (this.stopped || every <= 0) return
    this.loopTimer = setTimeout(() => {
      this.loopTimer = undefined
      this.coverLoop()
      this.scheduleLoop()
    }, Math.min(exponentialMs(1000 / every, this.deps.random), 2 ** 31 - 1))
    this.loopTimer.unref()
  }

  /**
   * Sends one loop of cover through a random live outbound tunnel and a random live inbound one;
   * false when there is no such pair (or too many loops are in flight). While a tunnel has lost
   * a loop and not passed one since, loops go through it with a partner that has not: so the
   * loss is pinned on the right tunnel within a loop or two.
   */
  coverLoop (): boolean {
    const outs = this.live(this.outbound).filter(o => o.length > 0)
    const suspect = pickOne([...outs, ...this.live(this.inbound)].filter(x => x.strikes > 0), this.deps.random)
    const pair = suspect !== undefined ? this.pairFor(suspect) : [pickOne(outs, this.deps.random), this.pickInbound()] as const
    if (pair[0] === undefined || pair[1] === undefined) return false
    const bytes = this.sendLoop(pair[0], pair[1])
    if (bytes === 0) return false
    this.stats.loopsSent++
    this.stats.loopBytes += bytes
    return true
  }

  /** `t` with a live partner in the other direction, one that has lost nothing if there is such. */
  private pairFor (t: OwnTunnel): readonly [OutboundTunnel | undefined, InboundTunnel | undefined] {
    const r = this.deps.random
    if ('receiveId' in t) {
      const outs = this.live(this.outbound).filter(o => o.length > 0)
      return [pickOne(outs.filter(o => o.strikes === 0), r) ?? pickOne(outs, r), t]
    }
    const ins = this.live(this.inbound)
    return [t, pickOne(ins.filter(i => i.strikes === 0), r) ?? pickOne(ins, r)]
  }

  /** Sends a loop out through `out` and back in through `inb`; its size, or 0 if not sent. */
  private sendLoop (out: OutboundTunnel, inb: InboundTunnel): number {
    if (out.length === 0 || this.stopped || this.tests.size >= MAX_PENDING_LOOPS) return 0
    const data = this.deps.randomBytes(this.loopSize())
    data[0] = LOOP_TYPE
    const key = toHex(data.subarray(1, LOOP_MIN_BYTES))
    const sentAt = this.deps.clock.now()
    const timer = setTimeout(() => {
      this.tests.delete(key)
      this.loopLost(key, { out, inb, sentAt })
    }, this.settings.testTimeoutMs)
    timer.unref()
    this.tests.set(key, { out, inb, sentAt, timer })
    const gw = inb.gateway(this.deps.ownId)
    this.deps.manager.sendOut(out, [{ kind: DeliveryKind.TUNNEL, router: gw.id, tunnelId: gw.tunnelId, data: encodeTunnelMessage({ kind: DeliveryKind.LOCAL, data }) }])
    return data.length
  }

  /**
   * A loop did not come back in time: the judge (`loss.ts`) attributes the loss, and each of its
   * two tunnels is probed with a partner that has lost nothing, so the loss is pinned now rather
   * than at the next round of tests.
   */
  private loopLost (key: string, l: Loop): void {
    // A tunnel that left the pool meanwhile (expired, retired) explains the loss by itself.
    if (!this.outbound.includes(l.out) || !this.inbound.includes(l.inb)) return
    this.stats.testsFailed++
    const now = this.deps.clock.now()
    for (const [k, x] of this.late) {
      if (x.lostAt > now - LATE_TIMEOUTS * this.settings.testTimeoutMs && this.late.size < MAX_PENDING_LOOPS) break
      this.late.delete(k)
    }
    // The same object the judge holds: a late return must settle this very loss.
    this.late.set(key, { loop: l, lostAt: now })
    this.retire(this.judge.lost(l, now))
    for (const t of [l.out, l.inb]) this.probe(t)
  }

  private retire (verdicts: Array<Verdict<OwnTunnel>>): void {
    for (const v of verdicts) this.fail(v.tunnel, v.why)
  }

  /**
   * Sends a loop through `t` (still in the pool, with a loss not yet followed by a pass) and a
   * partner that has lost nothing, unless a loop through `t` is already in flight.
   */
  private probe (t: OwnTunnel): void {
    if (this.stopped || t.strikes === 0) return
    if (!('receiveId' in t ? this.inbound.includes(t) : this.outbound.includes(t))) return
    for (const l of this.tests.values()) if (l.out === t || l.inb === t) return
    const [out, inb] = this.pairFor(t)
    if (out !== undefined && inb !== undefined) this.sendLoop(out, inb)
  }

  /**
   * Whether `data` is one of our loops coming back (and if so, counts it). One that comes back
   * after its timeout is not counted as passed (it was counted lost), but it still proves both
   * its tunnels work.
   */
  private loopReturned (data: Uint8Array): boolean {
    const key = toHex(data.subarray(1, LOOP_MIN_BYTES))
    const t = this.tests.get(key)
    if (t !== undefined) {
      clearTimeout(t.timer)
      this.tests.delete(key)
      this.stats.testsPassed++
      this.deps.manager.confirmed(t.out)
      this.retire(this.judge.passed(t, this.deps.clock.now()))
      return true
    }
    const x = this.late.get(key)
    if (x === undefined) return false
    this.late.delete(key)
    const now = this.deps.clock.now()
    if (now - x.lostAt > LATE_TIMEOUTS * this.settings.testTimeoutMs) return true // too late to count
    const l = x.loop
    this.stats.loopsLate++
    if (this.outbound.includes(l.out) && this.inbound.includes(l.inb)) this.retire(this.judge.passed(l, now))
    return true
  }

  /** Stops building and testing and retires every tunnel. */
  stop (): void {
    if (this.stopped) return
    this.stopped = true
    this.abort.abort()
    if (this.timer !== undefined) clearInterval(this.timer)
    if (this.loopTimer !== undefined) clearTimeout(this.loopTimer)
    for (const t of this.tests.values()) clearTimeout(t.timer)
    this.tests.clear()
    this.late.clear()
    this.judge.clear()
    for (const t of [...this.inbound, ...this.outbound]) this.deps.manager.retire(t)
    this.inbound.length = 0
    this.outbound.length = 0
  }
}
