/**
 * Chat engines inside the test process, linked over real TCP sockets on 127.0.0.1 instead of
 * SAM streams: each node listens on a port; a dialler sends its node index (u16) first, which
 * the acceptor turns into the dialler's destination (what SAM would tell it). Nodes can go
 * offline (their listener closes, their engine stops) and come back on the same store.
 */
import * as net from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadCrypto, type CryptoSuite } from '../../../src/crypto/index.ts'
import { openDataStore } from '../../../src/util/datastore.ts'
import type { DataStore } from '../../../src/util/kv.ts'
import { destinationToBase64, generateDestination, parseB32Address, type DestinationKeys } from '../../../src/identity/destination.ts'
import { base64I2pDecode } from '../../../src/wire/base64i2p.ts'
import { ChatCore, type ChatEvent } from '../../../src/apps/chat/chat.ts'
import { ChatStore } from '../../../src/apps/chat/store.ts'

/** One chat user of the test network. */
export interface TestUser {
  index: number
  keys: DestinationKeys
  b64: string
  core: ChatCore
  store: ChatStore
  events: ChatEvent[]
  online: boolean
}

/** The network. */
export interface ChatNet {
  crypto: CryptoSuite
  users: TestUser[]
  /** Adds a user (online). */
  add: (nick: string) => Promise<TestUser>
  /** Stops a user's engine and listener (its store stays). */
  down: (u: TestUser) => Promise<void>
  /** Starts a stopped user again on its store. */
  up: (u: TestUser) => Promise<void>
  /** A raw stream to user `to` that claims to come from `from` (for hostile-peer tests). */
  rawDial: (from: TestUser, to: TestUser) => Promise<net.Socket>
  /** Runs every online engine's tick until `done()` or `ms` passes. */
  until: (done: () => boolean, ms?: number) => Promise<boolean>
  close: () => Promise<void>
}

/** Starts an empty network. */
export async function startChatNet (): Promise<ChatNet> {
  const crypto = await loadCrypto()
  const users: TestUser[] = []
  const servers = new Map<number, net.Server>()
  const ports = new Map<number, number>()
  const sockets = new Set<net.Socket>()
  const dirs: string[] = []
  const dbs = new Map<number, DataStore>()

  const track = (s: net.Socket): void => { sockets.add(s); s.once('close', () => sockets.delete(s)) }

  const byAddress = (to: string): TestUser | undefined => {
    if (to.endsWith('.b32.umbra')) {
      const h = parseB32Address(to)
      return users.find(u => crypto.equal(crypto.sha256(u.keys.destination.bytes), h))
    }
    return users.find(u => u.b64 === to)
  }

  const rawDial = async (from: TestUser, to: TestUser): Promise<net.Socket> => {
    const port = ports.get(to.index)
    if (port === undefined || !to.online) throw new Error('peer offline')
    const s = net.connect(port, '127.0.0.1')
    track(s)
    await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject) })
    s.write(Buffer.from([from.index >> 8, from.index & 0xff]))
    return s
  }

  const listen = async (u: TestUser): Promise<void> => {
    const server = net.createServer((socket) => {
      track(socket)
      socket.once('readable', () => {
        const head = socket.read(2) as Buffer | null
        const from = head === null ? undefined : users[head.readUInt16BE(0)]
        if (from === undefined) { socket.destroy(); return }
        u.core.accept(socket, from.b64)
      })
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    servers.set(u.index, server)
    ports.set(u.index, (server.address() as net.AddressInfo).port)
  }

  const makeCore = (u: Omit<TestUser, 'core'> & { core?: ChatCore }, nick: string): ChatCore => {
    const core = new ChatCore({ crypto, store: u.store, keys: u.keys, nick, dialTimeoutMs: 2000, replyTimeoutMs: 3000 })
    core.on('event', (e) => { u.events.push(e) })
    return core
  }

  const goOnline = async (u: TestUser): Promise<void> => {
    await listen(u)
    u.online = true
    u.core.setTransport({
      dial: async (to) => {
        const peer = byAddress(to)
        if (peer === undefined) throw new Error(`no such test user: ${to.slice(0, 20)}`)
        return { socket: await rawDial(u, peer), remote: peer.b64 }
      }
    })
  }

  const add = async (nick: string): Promise<TestUser> => {
    const dir = await mkdtemp(join(tmpdir(), 'umbra-chat-'))
    dirs.push(dir)
    const db = await openDataStore(dir, { maxValueBytes: 64 * 1024 })
    const keys = generateDestination(crypto)
    const store = new ChatStore(crypto, db)
    await store.setNick(nick)
    const partial = { index: users.length, keys, b64: destinationToBase64(keys.destination), store, events: [] as ChatEvent[], online: false }
    const u: TestUser = { ...partial, core: makeCore(partial, nick) }
    users.push(u)
    dbs.set(u.index, db)
    await goOnline(u)
    return u
  }

  const down = async (u: TestUser): Promise<void> => {
    u.online = false
    u.core.close()
    const server = servers.get(u.index)
    servers.delete(u.index)
    ports.delete(u.index)
    if (server !== undefined) await new Promise(resolve => server.close(resolve))
  }

  const up = async (u: TestUser): Promise<void> => {
    u.core = makeCore(u, u.store.nick() ?? 'x')
    await goOnline(u)
  }

  const until = async (done: () => boolean, ms = 15_000): Promise<boolean> => {
    const end = Date.now() + ms
    while (Date.now() < end) {
      if (done()) return true
      await Promise.all(users.filter(u => u.online).map(async u => { await u.core.tick() }))
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    return done()
  }

  return {
    crypto,
    users,
    add,
    down,
    up,
    rawDial,
    until,
    close: async () => {
      for (const u of users) u.core.close()
      for (const s of sockets) s.destroy()
      await Promise.all([...servers.values()].map(async s => await new Promise(resolve => s.close(resolve))))
      for (const db of dbs.values()) await db.close()
      for (const d of dirs) await rm(d, { recursive: true, force: true })
    }
  }
}

/** The texts of message events of `kind` a user has seen, in order. */
export function texts (u: TestUser, kind = 'say'): string[] {
  return u.events.flatMap(e => e.type === 'message' && e.kind === kind ? [e.text] : [])
}

/** The base64 destination's hash, as the engines use it. */
export function hashOf (crypto: CryptoSuite, b64: string): Uint8Array {
  return crypto.sha256(base64I2pDecode(b64, 1024))
}
