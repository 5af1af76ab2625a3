/**
 * The tunnel driver of one router: dispatches the tunnel link messages (TUNNEL_DATA,
 * TUNNEL_BUILD, TUNNEL_GATEWAY), carries other routers' tunnels (transit: one layer per cell,
 * replayed cells dropped, an inbound gateway's fragmenting, an outbound endpoint's delivering),
 * builds our own tunnels and sends and receives through them. Build-request admission is in
 * `admit.ts` (validity) and the accountant (`accounting/`: builds and relayed cells when
 * resources are scarce); hops of our tunnels that carried traffic earn credit. The pure parts
 * are `build.ts`, `plan.ts`, `layer.ts`, `fragment.ts`.
 * It sends through `deps.send` and never dials or waits itself.
 */
import type { CryptoSuite } from '../crypto/types.ts'
import type { Clock } from '../util/clock.ts'
import type { Logger } from '../util/log.ts'
import { compareBytes, toHex } from '../util/bytes.ts'
import { AbortError, TimeoutError, UmbraError } from '../util/errors.ts'
import { answerRecord, BuildStatus, HopFlag, MAX_LIFETIME_SEC, openRecord, readReplies } from './build.ts'
import { DeliveryKind, decodeTunnelMessage, encodeTunnelMessage, type TunnelMessage } from './delivery.ts'
import { MAX_FRAGMENT_DATA, packMessages, Reassembler, ReassemblyBudget } from './fragment.ts'
import { CELL_BYTES, HopLayer } from './layer.ts'
import { decodeBuild, decodeGateway, encodeBuild, encodeGateway, forEachCell, TunnelType } from './messages.ts'
import { CellOutbox } from './outbox.ts'
import { planInbound, planOutbound, randomId, type BuildTerms, type HopTarget, type PlannedBuild } from './plan.ts'
import { PeerProfiles } from './profiles.ts'
import { ReplayFilter } from './replay.ts'
import { TransitTable, type TransitHop, type TransitRole } from './transit.ts'
import { forEachGroup } from './cell-batch.ts'
import { cellMacValid, InboundTunnel, OutboundTunnel, ownHop, sealClearCells } from './tunnel.ts'
import { admit } from './admit.ts'
import { RecentKeys } from '../util/recent-keys.ts'
import { Accountant, CELL_WIRE_BYTES, Price } from '../accounting/accountant.ts'

/** What the tunnel manager needs from the router. */
export interface TunnelDeps {
  crypto: CryptoSuite
  clock: Clock
  log: Logger
  /** Our router ID. */
  ownId: Uint8Array
  /** Our X25519 static key pair (the one in our RouterInfo). */
  staticKey: { publicKey: Uint8Array, secretKey: Uint8Array }
  /** Sends a link message to a router (dialling if need be); drops it if that cannot be done. */
  send: (peer: Uint8Array, msg: Uint8Array) => void
  /** The largest link message to `peer` now (a default when no link is open). */
  maxMessage: (peer: Uint8Array) => number
  /** Admission and credit (default: an accountant with no limits, keeping nothing). */
  accounting?: Accountant
}

/** Options of the {@link TunnelManager}. */
export interface TunnelOptions {
  /** Most tunnels carried for others. Default 5000. */
  maxTransit: number
  /** A build must come back within this. Default 5000 ms. */
  buildTimeoutMs: number
  /** Lifetime of the tunnels we build. Default 600 000 ms (10 min). */
  lifetimeMs: number
  /** Request times further than this from ours are refused. Default 120 s. */
  maxSkewSec: number
  /**
   * Bytes of incomplete messages the outbound endpoints of tunnels carried for others may hold
   * together (each also at most 256 KiB). Default 32 MiB. Our own inbound tunnels keep their
   * own bounds, so others' tunnels cannot spend their room.
   */
  maxReassemblyBytes: number
}

const DEFAULTS: TunnelOptions = { maxTransit: 5000, buildTimeoutMs: 5000, lifetimeMs: 600_000, maxSkewSec: 120, maxReassemblyBytes: 32 * 1024 * 1024 }
/** Transit entries outlive the requested lifetime by this (cells in flight). */
const GRACE_MS = 30_000

/** Counters of the {@link TunnelManager}. */
export interface TunnelStats {
  /** Cells processed as a transit hop. */
  transitCells: number
  /** Cells dropped: unknown tunnel ID. */
  unknownTunnel: number
  /** Cells dropped: nonce seen before. */
  replayed: number
  /** Transit cells refused by the accountant (resources scarce, priority too low). */
  refusedCells: number
  /** Cells dropped at an endpoint: MAC failed. */
  badMac: number
  /** Cells or messages that did not parse. */
  malformed: number
  /** Build requests accepted / refused / dropped (not ours to open, or did not open). */
  buildsAccepted: number
  buildsRefused: number
  buildsDropped: number
  /**
   * Of the dropped build requests, why: left unopened (the accountant: building or bandwidth
   * is scarce and the sender has no credit), did not open (no record for us, or ours does not
   * decrypt or parse: junk), or a replay (its record's ephemeral key was seen before). The
   * rest of `buildsDropped` are answers to no build of ours.
   */
  buildsUnopened: number
  buildsUnreadable: number
  buildsReplayed: number
  /** Our builds that succeeded / were refused / timed out. */
  built: number
  buildRefused: number
  buildTimeouts: number
  /** Messages an outbound endpoint delivered / refused to deliver. */
  delivered: number
  undeliverable: number
}

interface Pending {
  plan: PlannedBuild
  started: number
  resolve: (t: OutboundTunnel | InboundTunnel) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

/** Thrown when a hop refused our build. */
export class BuildRefusedError extends UmbraError {
  static override readonly name = 'BuildRefusedError'
  override readonly name = 'BuildRefusedError'
  constructor (readonly statuses: number[]) { super(`tunnel build refused (hop statuses ${statuses.join(',')})`) }
}

/** Runs every tunnel this router has a part in (see module doc). */
export class TunnelManager {
  readonly transit: TransitTable
  readonly profiles = new PeerProfiles()
  /** What the outbound endpoints of transit tunnels hold of incomplete messages, together. */
  readonly reassembly: ReassemblyBudget
  readonly stats: TunnelStats = {
    transitCells: 0, unknownTunnel: 0, replayed: 0, refusedCells: 0, badMac: 0, malformed: 0, buildsAccepted: 0, buildsRefused: 0, buildsDropped: 0,
    buildsUnopened: 0, buildsUnreadable: 0, buildsReplayed: 0,
    built: 0, buildRefused: 0, buildTimeouts: 0, delivered: 0, undeliverable: 0
  }

  /**
   * Called with every clear cell a transit hop handles, and with every message an outbound
   * endpoint delivers (tests assert on what transit routers see). Off by default.
   */
  onTransitCell: ((role: TransitRole, cell: Uint8Array) => void) | undefined

  private readonly opts: TunnelOptions
  private readonly inbound = new Map<number, InboundTunnel>()
  private readonly pending = new Map<number, Pending>()
  /** Cells seen by our hops: a window as long as a transit hop can live. */
  private readonly replay: ReplayFilter
  /** Build ephemeral keys seen, over the whole window a request's time is accepted in (± skew). */
  private readonly ephemerals: RecentKeys
  private readonly outbox: CellOutbox
  private readonly ownHex: string
  private readonly gwQueue = new Map<number, Uint8Array[]>()
  private readonly outQueue = new Map<OutboundTunnel, Uint8Array[]>()
  private flushScheduled = false
  /** The sender of the TUNNEL_DATA message being handled, and whether its cells' gate is open. */
  private gateFrom: Uint8Array = new Uint8Array(0)
  /** Peer IDs in hex by the ID bytes the link layer hands us (the same array for every message of a link). */
  private readonly hexIds = new WeakMap<Uint8Array, string>()
  private gateOpen = false
  private nextMessageId: number
  private readonly timer: NodeJS.Timeout
  private closed = false
  private readonly acct: Accountant

  constructor (private readonly deps: TunnelDeps, opts: Partial<TunnelOptions> = {}) {
    this.opts = { ...DEFAULTS, ...opts }
    this.reassembly = new ReassemblyBudget(this.opts.maxReassemblyBytes)
    this.acct = deps.accounting ?? new Accountant({ maxTransit: this.opts.maxTransit }, deps.clock)
    this.transit = new TransitTable(this.opts.maxTransit)
    this.replay = new ReplayFilter({ rotateMs: MAX_LIFETIME_SEC * 1000 + GRACE_MS })
    this.ephemerals = new RecentKeys(2 * (this.opts.maxSkewSec + 1) * 1000, 100_000)
    this.outbox = new CellOutbox((peer, msg) => { this.acct.sent(msg.length); deps.send(peer, msg) }, deps.maxMessage)
    this.ownHex = toHex(deps.ownId)
    this.nextMessageId = (deps.crypto.randomBytes(2)[0]! << 8) + 1
    this.timer = setInterval(() => { this.tick() }, 1000).unref()
  }

  /** Counters of the cell outbox. */
  get outboxStats (): CellOutbox['stats'] { return this.outbox.stats }

  /** Handles a tunnel-family link message from `from`. */
  handle (from: Uint8Array, msg: Uint8Array): void {
    if (this.closed) return
    try {
      switch (msg[0]) {
        case TunnelType.DATA: this.onData(from, msg); break
        case TunnelType.BUILD: this.onBuild(from, msg); break
        case TunnelType.GATEWAY: this.onGateway(from, msg); break
        default: this.stats.malformed++
      }
    } catch (err) {
      if (!(err instanceof UmbraError)) throw err
      this.stats.malformed++
      this.deps.log.debug('tunnel message dropped', { from: toHex(from).slice(0, 16), err: err.message })
    }
  }

  // ---- cells ----

  /**
   * A TUNNEL_DATA message: each cell is checked (replay, admission, known tunnel) and queued for
   * its transit hop or inbound tunnel; each group's layers then run as one batch, and the cells
   * go on (next hop, endpoint, our own inbound tunnel) in the order they came.
   */
  private onData (from: Uint8Array, msg: Uint8Array): void {
    const now = this.deps.clock.now()
    this.gateFrom = from
    this.gateOpen = false
    const targets: Array<TransitHop | InboundTunnel> = []
    const offs: number[] = []
    forEachCell(msg, (tid, _buf, off) => {
      const t = this.admitCell(tid)
      if (t !== undefined) { targets.push(t); offs.push(off) }
    })
    forEachGroup(targets, offs, targets.length, (t, group) => {
      if (t instanceof InboundTunnel) t.peelAll(msg, group)
      else t.layer.applyAll(msg, group)
    })
    for (let i = 0; i < targets.length; i++) {
      try {
        this.forwardCell(targets[i]!, msg, offs[i]!, now)
      } catch (err) {
        // One bad cell (a payload that does not parse) never affects the others.
        if (!(err instanceof UmbraError)) throw err
        this.stats.malformed++
      }
    }
  }

  /** `toHex(id)`, computed once per ID array (this runs for every message relayed). */
  private hexOf (id: Uint8Array): string {
    let hex = this.hexIds.get(id)
    if (hex === undefined) this.hexIds.set(id, hex = toHex(id))
    return hex
  }

  /** Who transforms a cell of tunnel `tid`: a transit hop (admitted) or one of our inbound tunnels; undefined if dropped. */
  private admitCell (tid: number): TransitHop | InboundTunnel | undefined {
    const hop = this.transit.get(tid)
    if (hop !== undefined) {
      if (!this.gateOpen) { this.acct.beginCells(this.hexOf(this.gateFrom)); this.gateOpen = true }
      if (!this.acct.admitCell(hop.priority)) { this.stats.refusedCells++; return undefined }
      return hop
    }
    const inb = this.inbound.get(tid)
    if (inb === undefined || inb.length === 0) { this.stats.unknownTunnel++; return undefined }
    return inb
  }

  /** A cell after its layers: on to the next hop, out at our endpoint (a transit cell not a replay), or into our inbound tunnel. */
  private forwardCell (t: TransitHop | InboundTunnel, buf: Uint8Array, off: number, now: number): void {
    if (t instanceof InboundTunnel) {
      // An earlier cell of this message may have retired the tunnel (its pool gave up on it).
      if (this.inbound.get(t.receiveId) !== t) { this.stats.unknownTunnel++; return }
      if (!t.macValid(this.deps.crypto, buf, off)) { this.stats.badMac++; return }
      t.cells++
      this.acct.received(CELL_WIRE_BYTES)
      for (const m of t.reassembler.receive(buf, off, now)) this.deliverLocal(t, m)
      return
    }
    // A replay is judged on the nonce our layer wrote: the same cell gives the same one, and a
    // sender cannot choose where it falls in the filter (replay.ts).
    if (this.replay.seen(buf, off, now)) { this.stats.replayed++; return }
    this.stats.transitCells++
    if (t.role !== 'endpoint') {
      this.onTransitCell?.(t.role, buf.subarray(off, off + CELL_BYTES))
      this.outbox.push(t.next, t.nextHex, t.nextTunnelId, buf, off)
      return
    }
    if (!cellMacValid(this.deps.crypto, t.macKey, buf, off)) { this.stats.badMac++; return }
    this.onTransitCell?.('endpoint', buf.subarray(off, off + CELL_BYTES))
    for (const m of t.reassembler!.receive(buf, off, now)) this.deliverAtEndpoint(m)
  }

  /** An outbound endpoint delivers a message a creator sent through its tunnel. */
  private deliverAtEndpoint (bytes: Uint8Array): void {
    let m: TunnelMessage
    try { m = decodeTunnelMessage(bytes) } catch { this.stats.malformed++; return }
    if (m.kind === DeliveryKind.TUNNEL) {
      let gw: Uint8Array
      try { gw = encodeGateway(m.tunnelId, m.data) } catch { this.stats.undeliverable++; return }
      this.stats.delivered++
      this.sendOrLocal(m.router, gw)
    } else if (m.kind === DeliveryKind.ROUTER && m.data[0] === TunnelType.BUILD) {
      this.stats.delivered++
      this.sendOrLocal(m.router, m.data)
    } else {
      this.stats.undeliverable++
    }
  }

  /** A message came out of one of our inbound tunnels. */
  private deliverLocal (inb: InboundTunnel, bytes: Uint8Array): void {
    let m: TunnelMessage
    try { m = decodeTunnelMessage(bytes) } catch { this.stats.malformed++; return }
    if (m.kind === DeliveryKind.LOCAL) inb.onMessage(m.data)
    else if (m.kind === DeliveryKind.BUILD_REPLY) this.onReply(m.msgId, m.body, 'out')
    else this.stats.undeliverable++
  }

  private onGateway (from: Uint8Array, msg: Uint8Array): void {
    const { tunnelId, message } = decodeGateway(msg)
    const hop = this.transit.get(tunnelId)
    if (hop !== undefined && hop.role === 'gateway') {
      // The cells this message becomes pass admission as one (our own endpoint's need not).
      if (compareBytes(from, this.deps.ownId) !== 0) {
        this.acct.beginCells(this.hexOf(from))
        if (!this.acct.admitCell(hop.priority, Math.max(1, Math.ceil(message.length / MAX_FRAGMENT_DATA)))) { this.stats.refusedCells++; return }
      }
      let q = this.gwQueue.get(tunnelId)
      if (q === undefined) this.gwQueue.set(tunnelId, q = [])
      q.push(message)
      this.scheduleFlush()
      return
    }
    const inb = this.inbound.get(tunnelId)
    if (inb !== undefined && inb.length === 0) { this.deliverLocal(inb, message); return }
    this.stats.unknownTunnel++
  }

  private scheduleFlush (): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(() => { this.flush() })
  }

  /** Packs queued gateway and outbound messages into cells and hands them to the outbox. */
  private flush (): void {
    this.flushScheduled = false
    const crypto = this.deps.crypto
    for (const [tid, msgs] of this.gwQueue) {
      const hop = this.transit.get(tid)
      if (hop === undefined) continue
      const { cells, nonces } = this.packCells(msgs)
      sealClearCells(crypto, hop.macKey, cells, nonces)
      hop.layer.applyAll(cells)
      for (const cell of cells) {
        this.onTransitCell?.('gateway', cell)
        this.outbox.push(hop.next, hop.nextHex, hop.nextTunnelId, cell, 0)
      }
    }
    this.gwQueue.clear()
    for (const [tunnel, msgs] of this.outQueue) {
      const first = tunnel.first
      if (first === undefined) continue
      const { cells, nonces } = this.packCells(msgs)
      tunnel.wrapAll(crypto, cells, nonces)
      tunnel.cells += cells.length
      for (const cell of cells) this.outbox.push(first.id, first.idHex, first.receiveId, cell, 0)
    }
    this.outQueue.clear()
  }

  /** Packs `msgs` into clear cells, with a random nonce for each (cell i's at `nonces[16i]`). */
  private packCells (msgs: Uint8Array[]): { cells: Uint8Array[], nonces: Uint8Array } {
    const cells = packMessages(msgs, () => this.messageId())
    return { cells, nonces: this.deps.crypto.randomBytes(16 * cells.length) }
  }

  private messageId (): number {
    this.nextMessageId = (this.nextMessageId + 1) >>> 0
    if (this.nextMessageId === 0) this.nextMessageId = 1
    return this.nextMessageId
  }

  /**
   * Sends tunnel messages through our outbound tunnel. A zero-hop tunnel delivers them at once,
   * as its endpoint would.
   */
  sendOut (tunnel: OutboundTunnel, messages: TunnelMessage[]): void {
    if (this.closed) return
    if (tunnel.length === 0) {
      for (const m of messages) this.deliverAtEndpoint(encodeTunnelMessage(m))
      return
    }
    let q = this.outQueue.get(tunnel)
    if (q === undefined) this.outQueue.set(tunnel, q = [])
    for (const m of messages) q.push(encodeTunnelMessage(m))
    this.scheduleFlush()
  }

  /** Sends `msg` to `peer`, or handles it here when `peer` is us. */
  private sendOrLocal (peer: Uint8Array, msg: Uint8Array): void {
    if (compareBytes(peer, this.deps.ownId) === 0) queueMicrotask(() => { this.handle(peer, msg) })
    else this.deps.send(peer, msg)
  }

  // ---- builds: as a hop ----

  private onBuild (from: Uint8Array, msg: Uint8Array): void {
    const { msgId, body } = decodeBuild(msg)
    if (this.pending.get(msgId)?.plan.direction === 'in') { this.onReply(msgId, body, 'in'); return }
    const fromHex = toHex(from)
    if (!this.acct.admitBuildMessage(fromHex)) { this.stats.buildsDropped++; this.stats.buildsUnopened++; return }
    const d = this.deps
    let opened
    try {
      opened = openRecord(d.crypto, { id: d.ownId, staticSecret: d.staticKey.secretKey, staticPublic: d.staticKey.publicKey }, body)
    } catch {
      opened = undefined
    }
    if (opened === undefined) { this.stats.buildsDropped++; this.stats.buildsUnreadable++; return }
    const now = d.clock.now()
    if (!this.ephemerals.add(opened.ephemeral, now)) { this.stats.buildsDropped++; this.stats.buildsReplayed++; return }
    const r = opened.request
    let status = admit(r, { nowSec: this.nowSec(), maxSkewSec: this.opts.maxSkewSec, ownId: d.ownId, transit: this.transit })
    if (status === BuildStatus.ACCEPTED) {
      const a = this.acct.admitBuild(fromHex, r.priority)
      if (a !== 'ok') status = a === 'transit' ? BuildStatus.REFUSED_LOAD : BuildStatus.REFUSED_BANDWIDTH
    }
    if (status === BuildStatus.ACCEPTED) {
      const role: TransitRole = (r.flags & HopFlag.GATEWAY) !== 0 ? 'gateway' : (r.flags & HopFlag.ENDPOINT) !== 0 ? 'endpoint' : 'participant'
      this.transit.add({
        receiveId: r.receiveTunnelId,
        role,
        layer: new HopLayer(d.crypto, opened.keys.layerKey, opened.keys.ivKey),
        next: r.nextRouter,
        nextHex: toHex(r.nextRouter),
        nextTunnelId: r.nextTunnelId,
        macKey: opened.keys.macKey,
        priority: r.priority,
        expires: now + r.lifetimeSec * 1000 + GRACE_MS,
        ...(role === 'endpoint' ? { reassembler: new Reassembler({ budget: this.reassembly }) } : {})
      })
      this.acct.carrying(this.transit.size)
    }
    if (status === BuildStatus.ACCEPTED) this.stats.buildsAccepted++
    else this.stats.buildsRefused++
    answerRecord(d.crypto, body, opened, status)
    if ((r.flags & HopFlag.ENDPOINT) !== 0) {
      this.sendOrLocal(r.nextRouter, encodeGateway(r.nextTunnelId, encodeTunnelMessage({ kind: DeliveryKind.BUILD_REPLY, msgId: r.nextMsgId, body })))
    } else {
      this.sendOrLocal(r.nextRouter, encodeBuild(r.nextMsgId, body))
    }
  }

  // ---- builds: as the creator ----

  /**
   * Builds an outbound tunnel through `hops` (none: a zero-hop tunnel, ready at once). The
   * answer comes back through `replyVia`, one of our inbound tunnels.
   */
  async buildOutbound (hops: readonly HopTarget[], replyVia: InboundTunnel, signal?: AbortSignal): Promise<OutboundTunnel> {
    const now = this.deps.clock.now()
    if (hops.length === 0) return new OutboundTunnel([], now + this.opts.lifetimeMs, this.messageId())
    const gw = replyVia.gateway(this.deps.ownId)
    const plan = planOutbound(this.deps.crypto, hops, { gateway: gw.id, tunnelId: gw.tunnelId }, this.terms())
    this.deps.send(hops[0]!.id, encodeBuild(plan.firstMsgId, plan.body))
    return await this.await(plan, signal) as OutboundTunnel
  }

  /**
   * Builds an inbound tunnel through `hops` (none: a zero-hop tunnel whose gateway is us). The
   * request reaches the gateway through `sendVia`, one of our outbound tunnels, or directly
   * when there is none yet.
   */
  async buildInbound (hops: readonly HopTarget[], sendVia: OutboundTunnel | undefined, signal?: AbortSignal): Promise<InboundTunnel> {
    const now = this.deps.clock.now()
    if (hops.length === 0) {
      let id = randomId(this.deps.crypto)
      while (this.inbound.has(id) || this.transit.has(id)) id = randomId(this.deps.crypto)
      const t = new InboundTunnel([], now + this.opts.lifetimeMs, id)
      this.inbound.set(id, t)
      return t
    }
    const plan = planInbound(this.deps.crypto, hops, this.deps.ownId, this.terms())
    const build = encodeBuild(plan.firstMsgId, plan.body)
    if (sendVia !== undefined) this.sendOut(sendVia, [{ kind: DeliveryKind.ROUTER, router: hops[0]!.id, data: build }])
    else this.deps.send(hops[0]!.id, build)
    return await this.await(plan, signal) as InboundTunnel
  }

  /** Forgets one of our tunnels (expired, failed or no longer wanted). */
  retire (t: InboundTunnel | OutboundTunnel): void {
    if (t instanceof InboundTunnel) this.inbound.delete(t.receiveId)
    this.outQueue.delete(t as OutboundTunnel)
    t.dispose()
  }

  private nowSec (): number { return Math.floor(this.deps.clock.wall() / 1000) }
  private terms (): BuildTerms {
    return { nowSec: this.nowSec(), lifetimeSec: Math.round(this.opts.lifetimeMs / 1000), priority: this.acct.offer() }
  }

  /**
   * One of our tunnels is known to carry traffic (an inbound one: cells arrived intact; an
   * outbound one: a test or loop through it came back): its hops earn credit for the cells it
   * carried since last time, and for taking part at all the first time.
   */
  confirmed (t: InboundTunnel | OutboundTunnel): void {
    const n = t.cells - t.credited
    if (n <= 0) return
    const units = n * Price.CELL + (t.credited === 0 ? Price.BUILD : 0)
    t.credited = t.cells
    for (const h of t.hops) this.acct.earn(h.idHex, units)
  }

  private async await (plan: PlannedBuild, signal?: AbortSignal): Promise<OutboundTunnel | InboundTunnel> {
    return await new Promise((resolve, reject) => {
      const done = (): void => { this.pending.delete(plan.replyMsgId); signal?.removeEventListener('abort', onAbort) }
      const onAbort = (): void => { clearTimeout(p.timer); done(); reject(new AbortError('tunnel build aborted')) }
      const p: Pending = {
        plan,
        started: this.deps.clock.now(),
        resolve: (t) => { done(); resolve(t) },
        reject: (e) => { done(); reject(e) },
        timer: setTimeout(() => {
          for (const h of plan.hops) this.profiles.timedOut(h.idHex)
          this.stats.buildTimeouts++
          p.reject(new TimeoutError(`tunnel build timed out after ${this.opts.buildTimeoutMs} ms`))
        }, this.opts.buildTimeoutMs)
      }
      p.timer.unref()
      this.pending.set(plan.replyMsgId, p)
      if (signal?.aborted === true) onAbort()
      else signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  private onReply (msgId: number, body: Uint8Array, direction: 'in' | 'out'): void {
    const p = this.pending.get(msgId)
    if (p === undefined || p.plan.direction !== direction) { this.stats.buildsDropped++; return }
    clearTimeout(p.timer)
    const crypto = this.deps.crypto
    const now = this.deps.clock.now()
    let statuses: number[]
    try {
      statuses = readReplies(crypto, p.plan.state, body)
    } catch (err) {
      this.stats.buildRefused++
      p.reject(err as Error)
      return
    }
    const ms = now - p.started
    p.plan.hops.forEach((h, i) => { this.profiles.built(h.idHex, statuses[i] === BuildStatus.ACCEPTED, ms) })
    if (statuses.some(s => s !== BuildStatus.ACCEPTED)) {
      this.stats.buildRefused++
      p.reject(new BuildRefusedError(statuses))
      return
    }
    this.stats.built++
    const hops = p.plan.hops.map((h, i) => ownHop(crypto, h.id, p.plan.receiveIds[i]!, p.plan.state.hops[i]!.keys))
    const expires = p.started + this.opts.lifetimeMs
    if (p.plan.direction === 'out') {
      p.resolve(new OutboundTunnel(hops, expires, this.messageId()))
    } else {
      const t = new InboundTunnel(hops, expires, p.plan.ownReceiveId)
      this.inbound.set(t.receiveId, t)
      p.resolve(t)
    }
  }

  // ---- housekeeping ----

  private tick (): void {
    const now = this.deps.clock.now()
    this.transit.expire(now)
    this.acct.carrying(this.transit.size)
    for (const t of this.inbound.values()) {
      this.confirmed(t)
      if (t.expires + GRACE_MS <= now) this.retire(t)
      else t.reassembler.expire(now)
    }
  }

  /** Stops: pending builds fail, every tunnel is forgotten. */
  close (): void {
    if (this.closed) return
    this.closed = true
    clearInterval(this.timer)
    for (const p of [...this.pending.values()]) { clearTimeout(p.timer); p.reject(new AbortError('router stopping')) }
    for (const t of [...this.inbound.values()]) this.retire(t)
    this.transit.clear()
  }

  /** Our own ID in hex. */
  get idHex (): string { return this.ownHex }
}
