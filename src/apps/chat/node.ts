/**
 * The chat node of one router's user: run inside `umbra router` as a client of the router's own
 * SAM bridge (nothing else of the router is used), like the fs node.
 *
 * It keeps in `<dir>` (the data directory's `chat/`): `identity.key` (the chat identity's
 * destination key, 0600, made on first use by `init`), `db/` (nickname, rooms, history, outbox,
 * contacts) and `chat.sock`, the local API (`local-api.ts`) through which `umbra chat` talks to
 * it. Until an identity exists the node only answers `status` and `init`; once one does, it
 * keeps a SAM session up in the background (remade if it ends) and runs the engine
 * (`chat.ts`): accepts peers' streams, retries the outbox, keeps room links.
 */
import { chmod, mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CryptoSuite } from '../../crypto/index.ts'
import { openDataStore } from '../../util/datastore.ts'
import { writeFileAtomic } from '../../util/files.ts'
import type { DataStore } from '../../util/kv.ts'
import type { Logger } from '../../util/log.ts'
import { toHex } from '../../util/bytes.ts'
import { ConfigError, DecodeError } from '../../util/errors.ts'
import { destinationFromPrivate, generateDestination, isB32Address, privateKeyToBase64, type DestinationKeys } from '../../identity/destination.ts'
import type { Session } from '../../api/client/index.ts'
import { keepSession } from '../session-keeper.ts'
import { isBase64Destination } from '../../api/client/address.ts'
import { ChatCore, type ChatEvent } from './chat.ts'
import { ChatStore } from './store.ts'
import { checkNick } from './messages.ts'
import { startChatApi, type ChatApi } from './local-api.ts'

/** Settings of a {@link ChatNode}. */
export interface ChatNodeOptions {
  /** The node's directory, e.g. `<dataDir>/chat`. */
  dir: string
  /** The router's SAM bridge (and a user of it, if it has authentication on). */
  sam: { host: string, port: number, user?: string, password?: string }
  crypto: CryptoSuite
  log: Logger
  /** Tunnel length of the session (default 3 hops each way). */
  tunnelLength?: number
  /** Seconds between background rounds (outbox, room links); default 3. */
  tickMs?: number
}

/** Files in the chat directory. */
export const KEY_FILE = 'identity.key'
export const SOCKET_FILE = 'chat.sock'
const TICK_MS = 3000
/** Messages in one `history` answer at most (an answer must fit the client's line bound). */
export const MAX_HISTORY_ANSWER = 200

/** See module doc. */
export class ChatNode {
  private core: ChatCore | undefined
  private session: Session | undefined
  private api: ChatApi | undefined
  private loop: Promise<void> | undefined
  private readonly stop = new AbortController()
  private readonly listeners = new Set<(e: ChatEvent) => void>()
  private initQueue: Promise<unknown> = Promise.resolve()

  private constructor (private readonly opts: ChatNodeOptions, private readonly db: DataStore, private readonly store: ChatStore) {}

  /** Opens the store, loads the identity if there is one, serves the local API. */
  static async start (opts: ChatNodeOptions): Promise<ChatNode> {
    await mkdir(opts.dir, { recursive: true, mode: 0o700 })
    // Keys, history and the API socket live here: the owner's only (mkdir's mode does not apply to an existing directory).
    await chmod(opts.dir, 0o700)
    const db = await openDataStore(join(opts.dir, 'db'), { maxValueBytes: 64 * 1024 })
    const node = new ChatNode(opts, db, new ChatStore(opts.crypto, db))
    try {
      const keys = await loadKey(opts)
      if (keys !== undefined) node.begin(keys)
      node.api = await startChatApi(join(opts.dir, SOCKET_FILE), { request: async (op, args) => await node.request(op, args), subscribe: fn => node.subscribe(fn) }, opts.log)
    } catch (err) {
      await node.close()
      throw err
    }
    return node
  }

  /** The chat address, or undefined before `init`. */
  get address (): string | undefined { return this.core?.address }

  /** The engine (undefined before `init`); for tests and the router's status. */
  get engine (): ChatCore | undefined { return this.core }

  /** A short state for the router's control API. */
  status (): Record<string, unknown> {
    return this.core === undefined ? { initialized: false } : { initialized: true, ...this.core.status() }
  }

  /** Calls `fn` with every chat event until the returned function is called. */
  subscribe (fn: (e: ChatEvent) => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  /** One local API request (see docs/chat.md). Throws ConfigError/DecodeError with a message for the user. */
  async request (op: string, a: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (op === 'status') return { status: this.status() }
    if (op === 'init') {
      // One at a time: two at once must not make two identities.
      const run = this.initQueue.then(async () => await this.init(str(a.nick, 'nick')))
      this.initQueue = run.catch(() => {})
      return await run
    }
    const core = this.core
    if (core === undefined) throw new ConfigError('no chat identity yet: choose a nickname first (umbra chat init NICK, or /nick NICK)')
    switch (op) {
      case 'nick': await core.setNick(str(a.nick, 'nick')); return { nick: core.nick }
      case 'send': {
        const to = str(a.to, 'to')
        const text = str(a.text, 'text')
        const wait = typeof a.wait === 'number' && a.wait >= 0 ? Math.min(a.wait, 120_000) : undefined
        if (isDmTarget(to)) return { ...await core.sendDm(to, text, wait) }
        try {
          return { ...await core.say(to, text) }
        } catch (err) {
          // Not a room: maybe a contact's nickname.
          if (err instanceof ConfigError && /^no room/.test(err.message)) return { ...await core.sendDm(to, text, wait) }
          throw err
        }
      }
      case 'create': return { ...await core.createRoom(str(a.name, 'name')) }
      case 'join': {
        const wait = typeof a.wait === 'number' && a.wait >= 0 ? Math.min(a.wait, 120_000) : undefined
        return { ...await core.joinRoom(str(a.invite, 'invite'), wait) }
      }
      case 'leave': await core.leaveRoom(str(a.room, 'room')); return {}
      case 'invite': return { invite: core.invite(str(a.room, 'room')) }
      case 'rooms': return { rooms: core.listRooms() }
      case 'history': {
        const limit = typeof a.limit === 'number' ? Math.min(a.limit, MAX_HISTORY_ANSWER) : 50
        return { messages: core.history(str(a.ref, 'ref'), limit) }
      }
      default: throw new ConfigError(`unknown request '${op.slice(0, 32)}'`)
    }
  }

  /** Stops: the API, the engine, the session, the store. */
  async close (): Promise<void> {
    this.stop.abort()
    await this.api?.close()
    this.core?.close()
    await this.session?.close().catch(() => {})
    await this.loop
    await this.db.close()
  }

  private async init (nick: string): Promise<Record<string, unknown>> {
    checkNick(nick)
    if (this.core !== undefined) {
      await this.core.setNick(nick)
      return { address: this.core.address, nick }
    }
    const keys = generateDestination(this.opts.crypto)
    await writeFileAtomic(join(this.opts.dir, KEY_FILE), privateKeyToBase64(keys) + '\n', 0o600)
    await this.store.setNick(nick)
    this.begin(keys)
    return { address: this.core!.address, nick }
  }

  private begin (keys: DestinationKeys): void {
    const core = new ChatCore({ crypto: this.opts.crypto, store: this.store, keys, nick: this.store.nick() ?? 'anonymous', log: this.opts.log })
    core.on('event', (e) => { for (const fn of this.listeners) fn(e) })
    this.core = core
    void this.store.trimHistory().catch(() => {})
    this.loop = this.run(keys, core)
  }

  /** Keeps a SAM session up; while it is, runs the engine's rounds. */
  private async run (keys: DestinationKeys, core: ChatCore): Promise<void> {
    const signal = this.stop.signal
    await keepSession({
      sam: this.opts.sam,
      privateKey: privateKeyToBase64(keys),
      id: `umbra-chat-${toHex(core.selfHash).slice(0, 12)}`,
      tunnelLength: this.opts.tunnelLength,
      what: 'chat node',
      log: this.opts.log,
      signal,
      accept: (socket, remote) => { core.accept(socket, remote) },
      live: async (session, ended) => {
        this.session = session
        core.setTransport({
          dial: async (to, sig) => {
            const remote = isBase64Destination(to) ? to : await session.lookup(to)
            return { socket: await session.connect(remote, { signal: sig }), remote }
          }
        })
        let alive = true
        void ended.then(() => { alive = false })
        while (alive && !signal.aborted) {
          await core.tick().catch((err: unknown) => { this.opts.log.warn('chat round failed', { error: err instanceof Error ? err.message : String(err) }) })
          await Promise.race([ended, sleep(this.opts.tickMs ?? TICK_MS, undefined, { signal }).catch(() => {})])
        }
      },
      lost: () => {
        this.session = undefined
        if (core.online) core.setTransport(undefined)
      }
    })
  }
}

/** A DM target (address or destination) rather than a room reference. */
function isDmTarget (to: string): boolean {
  return isB32Address(to.trim()) || isBase64Destination(to.trim())
}

function str (v: unknown, what: string): string {
  if (typeof v !== 'string') throw new ConfigError(`'${what}' must be a string`)
  return v
}

/** The identity's keys from `<dir>/identity.key`, or undefined if there is none yet. */
async function loadKey (opts: ChatNodeOptions): Promise<DestinationKeys | undefined> {
  const path = join(opts.dir, KEY_FILE)
  let text: string
  try {
    text = (await readFile(path, 'utf8')).trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    return destinationFromPrivate(opts.crypto, text)
  } catch (err) {
    if (err instanceof DecodeError) throw new ConfigError(`${path} does not hold a destination key: ${err.message}`)
    throw err
  }
}
