/**
 * `kill -9` of a router process in the middle of netDb writes: every LeaseSet whose STORE it
 * acknowledged (it acknowledges only after the database commit) is still there after a
 * restart on the same data directory, and the router comes back with the same identity.
 */
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startRouter } from '../router/fixtures.ts'
import { decodeNetDb, encodeNetDb, LookupKind, NetDbType, RecordKind } from '../../src/netdb/messages.ts'
import { destinationHash, generateDestination } from '../../src/identity/destination.ts'
import { signLeaseSet } from '../../src/identity/lease-set.ts'
import { toHex } from '../../src/util/bytes.ts'
import type { Router } from '../../src/router/router.ts'

const bin = fileURLToPath(new URL('../../bin/umbra.js', import.meta.url))

interface Proc { child: ChildProcess, out: () => string, exited: Promise<NodeJS.Signals | null> }

function spawnRouter (t: Test, dataDir: string): Proc {
  const env: NodeJS.ProcessEnv = { ...process.env, UMBRA_FROM_SOURCE: '1', HOME: dataDir, UMBRA_SAM: 'off', UMBRA_SOCKS: 'off' }
  for (const k of Object.keys(env)) if (k.startsWith('UMBRA_') && k !== 'UMBRA_FROM_SOURCE') delete env[k]
  const child = spawn(process.execPath, [bin, 'router', '--data-dir', join(dataDir, 'd'), '--listen', 'tcp://127.0.0.1:0', '--control', 'off', '--network', 'crash'], { stdio: ['ignore', 'pipe', 'pipe'], env })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr!.on('data', () => {})
  const exited = new Promise<NodeJS.Signals | null>((resolve) => { child.on('close', (_code, signal) => { resolve(signal) }) })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  return { child, out: () => out, exited }
}

async function started (p: Proc): Promise<{ id: string, info: Uint8Array }> {
  const deadline = Date.now() + 30_000
  const value = (k: string): string | undefined => p.out().split('\n').find(l => l.startsWith(k + ' '))?.slice(k.length).trim()
  while (value('control') === undefined) {
    if (Date.now() > deadline || p.child.exitCode !== null) throw new Error(`router did not start: ${p.out()}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return { id: value('router')!, info: new Uint8Array(Buffer.from(value('info')!, 'base64')) }
}

/** Replies from the router under test, by token or query ID. */
function listen (r: Router): { acks: Set<number>, found: Set<number> } {
  const acks = new Set<number>()
  const found = new Set<number>()
  const orig = r.links.onMessage
  r.links.onMessage = (peer, msg, link) => {
    if (msg[0] === NetDbType.STORE_ACK) { const m = decodeNetDb(msg); if (m.type === NetDbType.STORE_ACK && m.accepted) acks.add(m.token); return }
    if (msg[0] === NetDbType.FOUND) { const m = decodeNetDb(msg); if (m.type === NetDbType.FOUND) found.add(m.queryId); return }
    orig(peer, msg, link)
  }
  return { acks, found }
}

t.test('kill -9 during netDb writes loses no acknowledged record; the router restarts cleanly', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'umbra-crash-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const first = spawnRouter(t, dir)
  const a = await started(first)
  const client = await startRouter(t, { listen: ['tcp://127.0.0.1:0'], network: 'crash', persist: false })
  const replies = listen(client)
  const link = await client.connectInfo(a.info, AbortSignal.timeout(10_000))

  // Store LeaseSets in batches (within the per-peer rate limit) until 150 are acknowledged,
  // then send one more batch and kill the router while it is being written.
  const keys = new Map<number, Uint8Array>()
  let token = 0
  const batch = (): void => {
    for (let i = 0; i < 20; i++) {
      const dest = generateDestination(client.crypto)
      const now = Date.now()
      const ls = signLeaseSet(client.crypto, dest, { published: now, expires: now + 600_000, leases: [] })
      keys.set(++token, destinationHash(client.crypto, dest.destination.bytes))
      link.send(encodeNetDb({ type: NetDbType.STORE, token, kind: RecordKind.LEASE_SET, record: ls.raw }))
    }
  }
  for (let i = 0; i < 30 && replies.acks.size < 150; i++) {
    batch()
    await new Promise(resolve => setTimeout(resolve, 120))
  }
  t.ok(replies.acks.size >= 150, `${replies.acks.size} STOREs acknowledged before the kill`)
  batch()
  await new Promise(resolve => setImmediate(resolve))
  first.child.kill('SIGKILL')
  t.equal(await first.exited, 'SIGKILL', 'killed mid-write')
  const acked = [...replies.acks]

  const second = spawnRouter(t, dir)
  const b = await started(second)
  t.equal(b.id, a.id, 'same router identity after the crash')
  const link2 = await client.connectInfo(b.info, AbortSignal.timeout(10_000))
  for (let i = 0; i < acked.length; i++) {
    link2.send(encodeNetDb({ type: NetDbType.LOOKUP, queryId: acked[i]!, kind: LookupKind.LEASE_SET, key: keys.get(acked[i]!)! }))
    if (i % 20 === 19) await new Promise(resolve => setTimeout(resolve, 120))
  }
  const deadline = Date.now() + 15_000
  while (acked.some(q => !replies.found.has(q)) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
  const missing = acked.filter(q => !replies.found.has(q))
  t.same(missing.map(q => toHex(keys.get(q)!).slice(0, 12)), [], `every one of the ${acked.length} acknowledged LeaseSets is served after the restart`)
  second.child.kill('SIGTERM')
  await second.exited
})
