/**
 * A tunnel pool: the inbound and outbound tunnels of one owner (a destination, or the router
 * itself), kept at the configured quantity and length. Builds replacements before tunnels
 * expire and at once when one fails; tests each outbound tunnel through one of its inbound
 * tunnels and retires tunnels that fail twice in a row; forgets tunnels whose first (outbound)
 * or last (inbound) hop's link went down. Hops are drawn by peer profile, distinct within a
 * tunnel and never ourselves. The first inbound tunnel's request goes straight to its gateway
 * (there is no outbound tunnel yet); later ones go through an outbound tunnel, and outbound
 * tunnels are answered through an inbound one.
 */
import type { Clock } from '../util/clock.ts'
import type { Logger } from '../util/log.ts'
import { ConfigError, AbortError } from '../util/errors.ts'
import { DeliveryKind, encodeTunnelMessage } from './delivery.ts'
import type { TunnelManager } from './manager.ts'
import type { HopTarget } from './plan.ts'
import { pickHops } from './select.ts'
import { pickOne, shuffle } from '../util/random.ts'
import { toHex } from '../util/bytes.ts'
import type { InboundTunnel, OutboundTunnel } from './tunnel.ts'

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
}

/** Defaults of {@link PoolSettings}. */
export const POOL_DEFAULTS: PoolSettings = { length: 3, quantity: 2, variance: 0, testIntervalMs: 10_000, testTimeoutMs: 3000, rebuildBeforeMs: 90_000 }

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
export interface PoolStats { built: number, failedBuilds: number, testsPassed: number, testsFailed: number, retired: number }

const TEST_TAG = 0x00
/** How long routers of a failed build or tunnel are avoided. */
const SUSPECT_MS = 30_000

/** One owner's tunnels (see module doc). */
export class TunnelPool {
  readonly inbound: InboundTunnel[] = []
  readonly outbound: OutboundTunnel[] = []
  readonly stats: PoolStats = { built: 0, failedBuilds: 0, testsPassed: 0, testsFailed: 0, retired: 0 }
  /** A message (a DELIVER_LOCAL body) came out of one of our inbound tunnels. */
  onMessage: (data: Uint8Array, via: InboundTunnel) => void = () => {}
  /** The set of inbound tunnels changed (time to republish a LeaseSet). */
  onInboundChange: () => void = () => {}

  private buildingIn = 0
  private buildingOut = 0
  private timer: NodeJS.Timeout | undefined
  private lastTest = 0
  private readonly tests = new Map<string, { out: OutboundTunnel, inb: InboundTunnel, timer: NodeJS.Timeout }>()
  private readonly waiters = new Set<() => void>()
  /** Routers in a build that timed out or a tunnel that failed, avoided until the time given (ms). */
  private readonly suspects = new Map<string, number>()
  private readonly abort = new AbortController()
  private stopped = false

  constructor (private readonly deps: PoolDeps, readonly settings: PoolSettings, readonly name: string) {}

  /** Starts building and keeps the pool full until {@link stop}. */
  start (): void {
    this.timer = setInterval(() => { this.maintain() }, 500)
    this.timer.unref()
    this.maintain()
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
    if (data[0] === TEST_TAG && data.length === 17) { this.testReturned(data); return }
    this.onMessage(data, via)
  }

  /** Sends a test through each outbound tunnel to one of our inbound tunnels. */
  private runTests (): void {
    const ins = this.live(this.inbound)
    if (ins.length === 0) return
    this.live(this.outbound).forEach((out, i) => {
      if (out.length === 0) return
      const inb = ins[i % ins.length]!
      const token = this.deps.randomBytes(16)
      const key = toHex(token)
      const gw = inb.gateway(this.deps.ownId)
      const data = new Uint8Array(17)
      data[0] = TEST_TAG
      data.set(token, 1)
      const timer = setTimeout(() => {
        this.tests.delete(key)
        this.stats.testsFailed++
        for (const t of [out, inb]) if (++t.strikes >= 2) this.fail(t, 'failed two tests')
      }, this.settings.testTimeoutMs)
      timer.unref()
      this.tests.set(key, { out, inb, timer })
      this.deps.manager.sendOut(out, [{ kind: DeliveryKind.TUNNEL, router: gw.id, tunnelId: gw.tunnelId, data: encodeTunnelMessage({ kind: DeliveryKind.LOCAL, data }) }])
    })
  }

  private testReturned (data: Uint8Array): void {
    const key = toHex(data.subarray(1))
    const t = this.tests.get(key)
    if (t === undefined) return
    clearTimeout(t.timer)
    this.tests.delete(key)
    this.stats.testsPassed++
    this.deps.manager.confirmed(t.out)
    t.out.strikes = 0
    t.inb.strikes = 0
  }

  /** Stops building and testing and retires every tunnel. */
  stop (): void {
    if (this.stopped) return
    this.stopped = true
    this.abort.abort()
    if (this.timer !== undefined) clearInterval(this.timer)
    for (const t of this.tests.values()) clearTimeout(t.timer)
    this.tests.clear()
    for (const t of [...this.inbound, ...this.outbound]) this.deps.manager.retire(t)
    this.inbound.length = 0
    this.outbound.length = 0
  }
}
