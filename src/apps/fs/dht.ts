/**
 * The file-sharing DHT as seen from one participant (a node, or a client such as `umbra get`):
 * a Kademlia routing table of nodes (IDs are the SHA-256 of their destinations), one pipelined
 * stream per node opened through a `dial` function (a SAM STREAM CONNECT in practice, so every
 * request travels through tunnels), and the iterative operations the app needs: find the nodes
 * nearest a key, put a block at the `replication` nearest, get a block (asking nearest first,
 * verifying what comes back and avoiding a node that served a bad block) and collect the
 * keyword blocks under a query. The lookups are util/kad-lookup.ts's pure state machine; this
 * file only drives it.
 */
import type { Duplex } from 'node:stream'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { RoutingTable } from '../../util/kademlia.ts'
import { Lookup, type LookupOptions } from '../../util/kad-lookup.ts'
import { toHex } from '../../util/bytes.ts'
import { ClosedError, UmbraError } from '../../util/errors.ts'
import { throwIfAborted, withTimeout } from '../../util/abort.ts'
import type { Logger } from '../../util/log.ts'
import { silentLogger } from '../../util/log.ts'
import { contactFromBytes, type Contact } from './contacts.ts'
import { RpcClient } from './rpc.ts'
import type { BlockKind, PutOutcome, Request, Response } from './messages.ts'

/** Settings of a {@link Dht}. */
export interface DhtOptions {
  /** This node, if it is one (a client has none and says so in `hello`). */
  self?: Contact
  /** Opens a stream to a node's base64 destination. */
  dial: (b64: string, signal: AbortSignal) => Promise<Duplex>
  /**
   * A client's home node: the fs node of its own router. {@link Dht.get} asks it first, as
   * GNUnet looks in its local datastore first: its router hands the request over inside itself,
   * with no tunnel. One that fails or takes over 2 s is skipped for 2 minutes.
   */
  home?: Contact
  /** Peers per bucket and the lookup width (default 16). */
  k?: number
  /** Deadline of one request in ms (default 20 000). */
  requestTimeoutMs?: number
  /** Deadline of one dial in ms (default 20 000). */
  dialTimeoutMs?: number
  /** Open streams kept at most (default 64); the least recently used idle one is closed. */
  maxConns?: number
  log?: Logger
}

/** What {@link Dht.put} achieved. */
export interface PutReport {
  /** Nodes that hold the block now ('stored' or 'exists'). */
  stored: number
  /** Nodes that refused it for lack of room. */
  full: number
  /** Nodes asked. */
  asked: number
}

/** How long a node that could not be reached is skipped. */
const DOWN_MS = 120_000
/** How long a block request to the home node may take before the lookup goes on without it. */
const HOME_TIMEOUT_MS = 2000
/** How long a bootstrap waits for a first answer that names other nodes. */
const BOOTSTRAP_WAIT_MS = 30_000

interface Conn {
  client: Promise<RpcClient>
  used: number
}

/** One participant's view of the DHT. */
export class Dht {
  readonly table: RoutingTable<Contact>
  readonly k: number
  private readonly conns = new Map<string, Conn>()
  /** Nodes that served a block failing verification: never asked for blocks again. */
  private readonly bad = new Set<string>()
  /** Nodes that could not be reached, until when (ms): skipped by lookups meanwhile. */
  private readonly down = new Map<string, number>()
  private readonly requestTimeoutMs: number
  private readonly dialTimeoutMs: number
  private readonly maxConns: number
  private readonly log: Logger
  private closed = false
  /** Until when (ms) the home node is skipped after it failed or was slow. */
  private homeDownUntil = 0
  /** Counters for status and tests (`fromHome`: blocks the home node served). */
  readonly stats = { requests: 0, failures: 0, badBlocks: 0, dials: 0, fromHome: 0 }

  constructor (private readonly opts: DhtOptions) {
    this.k = opts.k ?? 16
    this.table = new RoutingTable<Contact>(opts.self?.id ?? new Uint8Array(randomBytes(32)), { k: this.k })
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 20_000
    this.dialTimeoutMs = opts.dialTimeoutMs ?? 20_000
    this.maxConns = opts.maxConns ?? 64
    this.log = opts.log ?? silentLogger
  }

  /** Adds a node (not ourselves). */
  add (c: Contact): void {
    if (this.opts.self !== undefined && toHex(c.id) === toHex(this.opts.self.id)) return
    this.table.add(c, Date.now())
  }

  /** Adds the nodes named in an answer, skipping malformed ones; returns the valid ones. */
  learn (nodes: readonly Uint8Array[] | undefined): Contact[] {
    const out: Contact[] = []
    for (const n of nodes ?? []) {
      try {
        const c = contactFromBytes(n)
        this.add(c)
        out.push(c)
      } catch { /* a malformed contact is skipped */ }
    }
    return out
  }

  /** The `n` known nodes nearest `target`. */
  nearest (target: Uint8Array, n = this.k): Contact[] {
    return this.table.closest(target, n)
  }

  /** Sends one request to `c`, dialling if needed. Failures count against `c` and reject. */
  async ask (c: Contact, req: Request, signal?: AbortSignal, timeoutMs = this.requestTimeoutMs): Promise<Response> {
    if (this.closed) throw new ClosedError('the DHT is closed')
    this.stats.requests++
    try {
      const client = await this.connection(c, signal)
      const r = await client.request(req, { timeoutMs, signal })
      this.table.add(c, Date.now())
      this.table.markSeen(c.id, Date.now())
      return r
    } catch (err) {
      this.stats.failures++
      if (!(signal?.aborted ?? false)) this.table.markFailed(c.id, Date.now())
      throw err
    }
  }

  /**
   * Asks `seeds` for the nodes near us and then looks them up; returns how many nodes we know.
   * Seeds are asked even if they were unreachable before: a node that came up before its seed
   * had tunnels must not stay alone for the whole time a failed dial is remembered.
   */
  async bootstrap (seeds: readonly Contact[], signal?: AbortSignal): Promise<number> {
    for (const s of seeds) {
      this.down.delete(toHex(s.id))
      this.add(s)
    }
    // Late answers count too: the first request to a node goes over tunnels just built and may
    // take longer than a lookup waits for it (30 s has been seen), and what it names fills the
    // table the next lookups start from. So this waits, while queries are still running, until
    // an answer has named other nodes, at most BOOTSTRAP_WAIT_MS; the lookup drains on in the
    // background.
    const start = this.table.size
    const until = Date.now() + BOOTSTRAP_WAIT_MS
    let settled = false
    const lookup = this.findNodes(this.table.selfId, signal, true).catch(() => []).finally(() => { settled = true })
    while (!settled && this.table.size <= start && !this.closed && Date.now() < until) {
      throwIfAborted(signal)
      await Promise.race([lookup, sleep(100)])
    }
    return this.table.size
  }

  /**
   * The nodes nearest `target` that answered an iterative FIND; with `drain`, waits for queries
   * still running when the lookup ends (their answers are learned, not queried further).
   */
  async findNodes (target: Uint8Array, signal?: AbortSignal, drain = false): Promise<Contact[]> {
    const lk = this.lookup(target, { alpha: 3, k: Math.min(this.k, 8) })
    await this.drive(lk, async (c) => {
      const r = await this.ask(c, { op: 'find', target }, signal)
      lk.onCloser(c.id, this.learn(r.nodes), Date.now())
    }, signal, undefined, drain)
    return lk.closest(this.k)
  }

  /**
   * Stores a block at the `replication` nearest nodes that answer: each put is also a lookup
   * step (the answer names nearer nodes, which are asked in turn).
   */
  async put (kind: BlockKind, query: Uint8Array, block: Uint8Array, o: { replication: number, expires: number, priority: number }, signal?: AbortSignal): Promise<PutReport> {
    const report: PutReport = { stored: 0, full: 0, asked: 0 }
    const lk = this.lookup(query, { alpha: o.replication, k: o.replication, maxQueries: 4 * o.replication + 8 })
    await this.drive(lk, async (c) => {
      report.asked++
      const r = await this.ask(c, { op: 'put', kind, query, block, expires: o.expires, priority: o.priority }, signal)
      const outcome: PutOutcome | undefined = r.result
      if (outcome === 'stored' || outcome === 'exists') report.stored++
      else if (outcome === 'full') report.full++
      lk.onCloser(c.id, this.learn(r.nodes), Date.now())
    }, signal, undefined, true)
    return report
  }

  /**
   * Fetches the block under `query` from the nearest node that has it. `accept` checks a block
   * (hash against query); a node whose block fails is marked bad and the search goes on.
   * Resolves undefined if no reachable node has it.
   */
  async get (query: Uint8Array, accept: (block: Uint8Array) => boolean, signal?: AbortSignal): Promise<{ block: Uint8Array, from: Contact } | undefined> {
    const home = await this.askHome(query, accept, signal)
    if (home !== undefined) return home
    let found: { block: Uint8Array, from: Contact } | undefined
    // One node at a time, nearest first; one slow to answer is hedged by the next after 2 s.
    const lk = this.lookup(query, { alpha: 1, k: this.k, queryTimeoutMs: Math.min(2000, this.requestTimeoutMs), deadlineMs: 3 * this.requestTimeoutMs })
    await this.drive(lk, async (c) => {
      const r = await this.ask(c, { op: 'get', query }, signal)
      if (r.block !== undefined) {
        if (accept(r.block)) {
          found ??= { block: r.block, from: c }
          lk.onFound(c.id, Date.now())
          return
        }
        this.markBad(c)
        lk.onFailure(c.id, Date.now())
        return
      }
      lk.onCloser(c.id, this.learn(r.nodes).filter(n => !this.bad.has(toHex(n.id))), Date.now())
    }, signal, c => this.usable(c) && !this.bad.has(toHex(c.id)))
    return found
  }

  /** The block under `query` from the home node, if there is one, it is usable and has it (see {@link DhtOptions.home}). */
  private async askHome (query: Uint8Array, accept: (block: Uint8Array) => boolean, signal?: AbortSignal): Promise<{ block: Uint8Array, from: Contact } | undefined> {
    const home = this.opts.home
    if (home === undefined || Date.now() < this.homeDownUntil || !this.usable(home) || this.bad.has(toHex(home.id))) return undefined
    let r: Response
    try {
      r = await this.ask(home, { op: 'get', query }, signal, Math.min(HOME_TIMEOUT_MS, this.requestTimeoutMs))
    } catch {
      throwIfAborted(signal)
      this.homeDownUntil = Date.now() + DOWN_MS
      this.log.debug('the home node did not answer in time; asking others for a while', { node: toHex(home.id).slice(0, 12) })
      return undefined
    }
    if (r.block === undefined) return undefined
    if (accept(r.block)) { this.stats.fromHome++; return { block: r.block, from: home } }
    this.markBad(home)
    return undefined
  }

  /** `c` served a block failing verification: it is never asked for blocks again. */
  private markBad (c: Contact): void {
    this.stats.badBlocks++
    this.bad.add(toHex(c.id))
    this.log.warn('a node served a corrupt block; avoiding it', { node: toHex(c.id).slice(0, 12) })
  }

  /**
   * Every distinct keyword block under `query` held by the nodes nearest it, and how many of
   * those nodes did not answer. With `again`, nodes near `query` that could not be reached before
   * are asked anyway (a retry after tunnels had time to heal).
   */
  async search (query: Uint8Array, signal?: AbortSignal, again = false): Promise<{ blocks: Uint8Array[], unanswered: number }> {
    if (again) for (const c of this.table.closest(query, 8)) this.down.delete(toHex(c.id))
    // Nodes near the query left out because they could not be reached lately have not said they
    // hold nothing: they count as unanswered, so the caller asks again (with `again`).
    const skipped = this.table.closest(query, 8).filter(c => !this.usable(c)).length
    const seen = new Map<string, Uint8Array>()
    const lk = this.lookup(query, { alpha: 3, k: 8 })
    this.log.debug('search: lookup starts', { seeds: this.table.closest(query, 4 * this.k).length, skipped, known: this.table.size, down: this.down.size })
    await this.drive(lk, async (c) => {
      const node = toHex(c.id).slice(0, 12)
      this.log.debug('search: asking', { node })
      let r
      try {
        r = await this.ask(c, { op: 'search', query }, signal)
      } catch (err) {
        this.log.debug('search: node did not answer', { node, err: String(err) })
        throw err
      }
      for (const b of r.kblocks ?? []) if (seen.size < 1024) seen.set(Buffer.from(b).toString('base64'), b)
      this.log.debug('search: node answered', { node, kblocks: r.kblocks?.length ?? 0, closer: r.nodes?.length ?? 0 })
      lk.onCloser(c.id, this.learn(r.nodes), Date.now())
    }, signal, undefined, true)
    this.log.debug('search: lookup ended', { state: lk.state, found: seen.size, failures: lk.stats.failures, timeouts: lk.stats.timeouts, known: this.table.size })
    // A lookup cut short by its deadline left queries unanswered (they are not counted as
    // timeouts): the caller must not take its silence as "nobody has it".
    return { blocks: [...seen.values()], unanswered: skipped + lk.stats.failures + lk.stats.timeouts + (lk.state === 'timed-out' ? 1 : 0) }
  }

  /** Closes every stream. */
  close (): void {
    this.closed = true
    for (const c of this.conns.values()) void c.client.then(cl => { cl.close() }, () => {})
    this.conns.clear()
  }

  /** Open streams. */
  get connections (): number { return this.conns.size }

  /** Whether `c` is worth asking now (not recently unreachable). */
  private usable (c: Contact): boolean {
    const key = toHex(c.id)
    const until = this.down.get(key)
    if (until === undefined) return true
    if (until > Date.now()) return false
    this.down.delete(key)
    return true
  }

  private lookup (target: Uint8Array, o: LookupOptions): Lookup<Contact> {
    const seeds = this.table.closest(target, 4 * this.k).filter(c => this.usable(c) && !this.bad.has(toHex(c.id)))
    // A query unanswered after 5 s counts as failed and frees its slot: one dead node must not
    // hold a lookup up.
    return new Lookup<Contact>(target, seeds, { queryTimeoutMs: Math.min(5000, this.requestTimeoutMs), deadlineMs: 2 * this.requestTimeoutMs, maxQueries: 48, ...o }, Date.now(), this.opts.self?.id)
  }

  /**
   * Runs `lk` to the end: queries what poll() says (each query calls lk.onX itself; a throw is
   * a failure), sleeping until an answer or the next deadline. With `drain`, it then waits for
   * queries still running (each bounded by the request deadline): a slow node's answer to a
   * put or a search still counts after the lookup has moved past it.
   */
  private async drive (lk: Lookup<Contact>, query: (c: Contact) => Promise<void>, signal?: AbortSignal, allow: (c: Contact) => boolean = c => this.usable(c), drain = false): Promise<void> {
    let wake: (() => void) | undefined
    const running = new Set<Promise<void>>()
    try {
      while (!lk.done) {
        throwIfAborted(signal)
        for (const c of lk.poll(Date.now())) {
          if (!allow(c)) { lk.onFailure(c.id, Date.now()); continue }
          const p: Promise<void> = query(c).catch(() => { lk.onFailure(c.id, Date.now()) })
            .finally(() => { running.delete(p); wake?.() })
          running.add(p)
        }
        if (lk.done) break
        const at = lk.nextDeadline()
        if (at === undefined) break
        // A plain timer, cleared on wake-up: aborting a timers/promises sleep instead would build
        // two error objects with stack traces per wait, i.e. per block fetched.
        let timer: ReturnType<typeof setTimeout> | undefined
        await new Promise<void>(resolve => { wake = resolve; timer = setTimeout(resolve, Math.max(1, at - Date.now())) })
        clearTimeout(timer)
      }
      if (drain) await Promise.allSettled([...running])
    } finally {
      wake = undefined
    }
    throwIfAborted(signal)
  }

  private async connection (c: Contact, signal?: AbortSignal): Promise<RpcClient> {
    const key = toHex(c.id)
    const have = this.conns.get(key)
    if (have !== undefined) {
      const client = await have.client.catch(() => undefined)
      if (client !== undefined && !client.closed) { have.used = Date.now(); return client }
      if (this.conns.get(key) === have) this.conns.delete(key)
    }
    this.trim()
    this.stats.dials++
    const dialSignal = withTimeout(this.dialTimeoutMs, signal)
    const client = this.opts.dial(c.b64, dialSignal).then((socket) => {
      const cl = new RpcClient(socket, this.opts.self !== undefined, { timeoutMs: this.requestTimeoutMs })
      cl.onClose = () => { if (this.conns.get(key)?.client === client) this.conns.delete(key) }
      return cl
    })
    const conn: Conn = { client, used: Date.now() }
    this.conns.set(key, conn)
    try {
      return await client
    } catch (err) {
      if (this.conns.get(key) === conn) this.conns.delete(key)
      if (!(signal?.aborted ?? false)) {
        this.down.set(key, Date.now() + DOWN_MS)
        if (this.down.size > 4096) this.down.delete(this.down.keys().next().value!)
      }
      throw err instanceof UmbraError ? err : new ClosedError(`cannot reach node ${key.slice(0, 12)}: ${String(err)}`, { cause: err })
    }
  }

  /** Closes the least recently used idle streams while over the limit. */
  private trim (): void {
    if (this.conns.size < this.maxConns) return
    const byAge = [...this.conns.entries()].sort((a, b) => a[1].used - b[1].used)
    for (const [key, conn] of byAge) {
      if (this.conns.size < this.maxConns) break
      this.conns.delete(key)
      void conn.client.then(cl => { cl.close() }, () => {})
    }
  }
}
