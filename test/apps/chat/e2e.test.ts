/**
 * Chat end to end with real processes: four `umbra router` processes on 127.0.0.1 (UDP, TCP
 * and HTTP links), each running its chat node on its own SAM bridge, driven with the CLI as
 * users would (`umbra chat … --data-dir`). Three users share a room; when one leaves the other
 * two keep talking; a fourth joins and sees recent history; a forged post sent over a real SAM
 * stream is rejected and counted; a DM to a user whose router is down arrives after it is back.
 */
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { runUmbra, spawnRouter, stopRouter, type RouterProc } from '../../../src/cli/testnet/procs.ts'
import { routerDir, startFsNetwork } from '../../../src/cli/testnet/fs-net.ts'
import { controlGet } from '../../../src/api/control-client.ts'
import { createSession } from '../../../src/api/client/index.ts'
import { loadCrypto } from '../../../src/crypto/index.ts'
import { generateDestination } from '../../../src/identity/destination.ts'
import { base64I2pDecode } from '../../../src/wire/base64i2p.ts'
import { frameRecord } from '../../../src/wire/frames.ts'
import { FRAME_MAX_BYTES, frameRecordOf, postRecord, signPost } from '../../../src/apps/chat/messages.ts'
import { joinProof, roomKeys, sealPost } from '../../../src/apps/chat/room.ts'
import { parseInvite } from '../../../src/apps/chat/invite.ts'

t.setTimeout(420_000)
process.env.UMBRA_FROM_SOURCE = '1'
const N = 4
const base = await mkdtemp(join(tmpdir(), 'umbra-chat-e2e-'))
const procs: RouterProc[] = []
const listeners: ChildProcess[] = []
t.teardown(async () => {
  for (const l of listeners) l.kill('SIGKILL')
  await Promise.allSettled(procs.map(async p => await stopRouter(p)))
  await rm(base, { recursive: true, force: true })
})
const dir = (i: number): string => routerDir(base, i)
const chat = async (i: number, args: string[], timeoutMs = 150_000): Promise<{ code: number | null, out: string, err: string }> => await runUmbra(['chat', ...args, '--data-dir', dir(i)], timeoutMs)
const json = (out: string): Record<string, unknown> => JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>
procs.push(...await startFsNetwork(base, N, { network: 'chat-e2e', fs: false }))

interface Listener { lines: Array<Record<string, unknown>>, child: ChildProcess }
/**
 * `umbra chat listen --json --history 20` of user `i`, collecting its event lines: the history
 * holds what arrived before the listener (a process still starting) subscribed.
 */
async function listen (i: number): Promise<Listener> {
  const bin = fileURLToPath(new URL('../../../bin/umbra.js', import.meta.url))
  const child = spawn(process.execPath, [bin, 'chat', 'listen', '--json', '--history', '20', '--data-dir', dir(i)], { stdio: ['ignore', 'pipe', 'pipe'] })
  listeners.push(child)
  const l: Listener = { lines: [], child }
  createInterface({ input: child.stdout! }).on('line', (line) => { try { l.lines.push(JSON.parse(line) as Record<string, unknown>) } catch {} })
  return l
}
const heard = (l: Listener, text: string): boolean => l.lines.some(e => e.type === 'message' && e.text === text)
async function until (what: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await what()) return true
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  return await what()
}
const chatStatus = async (i: number): Promise<Record<string, unknown>> => await controlGet(procs[i]!.control, '/api/chat', { timeoutMs: 3000 }).catch(() => ({})) as Record<string, unknown>

const address: string[] = []
let invite = ''

t.test('three users on three routers share a room', async (t) => {
  for (const [i, nick] of ['alice', 'bob', 'carol'].entries()) {
    const r = await chat(i, ['init', nick, '--json'])
    t.equal(r.code, 0, `init ${nick}: ${r.err}`)
    address[i] = String(json(r.out).address)
    t.match(address[i], /^[a-z2-7]{52}\.b32\.umbra$/)
  }
  t.ok(await until(async () => (await Promise.all([0, 1, 2].map(chatStatus))).every(s => s.online === true), 120_000), 'chat nodes online')
  const created = await chat(0, ['create', 'lobby', '--json'])
  t.equal(created.code, 0, created.err)
  invite = String(json(created.out).invite)
  t.match(invite, /^umbra:\/\/chat\/room\//)
  for (const i of [1, 2]) {
    const j = await chat(i, ['join', invite, '--wait', '120', '--json'])
    t.equal(j.code, 0, j.err)
    t.equal(json(j.out).connected, true, `user ${i} reached a member`)
  }
  const bob = await listen(1)
  const carol = await listen(2)
  const sent = await chat(0, ['send', '#lobby', 'hello', 'everyone', '--json'])
  t.equal(sent.code, 0, sent.err)
  t.ok(await until(() => heard(bob, 'hello everyone') && heard(carol, 'hello everyone'), 60_000), 'bob and carol hear alice')
  const reply = await chat(2, ['send', 'lobby', 'hi alice', '--json'])
  t.equal(reply.code, 0, reply.err)
  t.ok(await until(() => heard(bob, 'hi alice'), 60_000), 'bob hears carol')

  // Alice leaves; bob and carol go on.
  t.equal((await chat(0, ['leave', 'lobby'])).code, 0)
  t.ok(await until(() => bob.lines.some(e => e.type === 'message' && e.kind === 'leave' && e.nick === 'alice'), 60_000), 'the leave is seen')
  t.equal((await chat(1, ['send', '#lobby', 'just us now'])).code, 0)
  t.ok(await until(() => heard(carol, 'just us now'), 60_000), 'carol hears bob after alice left')
})

t.test('a fourth user joins and sees recent history', async (t) => {
  const r = await chat(3, ['init', 'dave', '--json'])
  t.equal(r.code, 0, r.err)
  address[3] = String(json(r.out).address)
  const inv = await chat(1, ['invite', 'lobby', '--json'])
  t.equal(inv.code, 0, inv.err)
  const j = await chat(3, ['join', String(json(inv.out).invite), '--wait', '120', '--json'])
  t.equal(j.code, 0, j.err)
  t.equal(json(j.out).connected, true)
  let texts: string[] = []
  t.ok(await until(async () => {
    const h = await chat(3, ['history', 'lobby', '--json'])
    texts = h.out.trim().split('\n').filter(x => x !== '').map(x => String((JSON.parse(x) as { text: string }).text))
    return ['hello everyone', 'hi alice', 'just us now'].every(x => texts.includes(x))
  }, 60_000), `dave has the history: ${JSON.stringify(texts)}`)
})

t.test('a forged post over a real SAM stream is rejected and counted', async (t) => {
  const crypto = await loadCrypto()
  const [host, port] = procs[3]!.sam.split(' ')[0]!.split(':') as [string, string]
  const session = await createSession({ host, port: Number(port), inboundLength: 1, outboundLength: 1, inboundQuantity: 1, outboundQuantity: 1 })
  t.teardown(async () => { await session.close() })
  const bobDest = await session.lookup(address[1]!)
  const socket = await session.connect(bobDest, { timeoutMs: 60_000 })
  const keys = roomKeys(crypto, parseInvite(invite).secret)
  const me = crypto.sha256(base64I2pDecode(session.destination, 1024))
  const bobHash = crypto.sha256(base64I2pDecode(bobDest, 1024))
  socket.write(frameRecord(frameRecordOf({ op: 'join', room: keys.id, proof: joinProof(crypto, keys, me, bobHash), since: Date.now() }), FRAME_MAX_BYTES))
  // Claims carol's destination, signed with another key.
  const carolDest = base64I2pDecode(await session.lookup(address[2]!), 1024)
  const forged = signPost(crypto, { kind: 'say', conv: keys.id, author: carolDest, nick: 'carol', ts: Date.now(), text: 'forged by mallory' }, generateDestination(crypto).signing.secretKey)
  socket.write(frameRecord(frameRecordOf({ op: 'room', room: keys.id, ...sealPost(crypto, keys, postRecord(forged)), history: false }), FRAME_MAX_BYTES))
  t.ok(await until(async () => (((await chatStatus(1)).dropped as Record<string, number> | undefined)?.forged ?? 0) >= 1, 60_000), 'bob counted a forged post')
  const h = await chat(1, ['history', 'lobby', '--json'])
  t.notMatch(h.out, /forged by mallory/, 'and did not keep it')
  socket.destroy()
})

t.test('a DM to a user whose router is down arrives after it comes back', async (t) => {
  const carolRouter = procs[2]!
  t.equal(await stopRouter(carolRouter), 0, 'carol\'s router stopped')
  const sent = await chat(0, ['send', address[2]!, 'welcome back carol', '--wait', '5', '--json'])
  t.equal(sent.code, 3, `queued while carol is away: ${sent.out} ${sent.err}`)
  t.equal(json(sent.out).state, 'queued')
  procs[2] = await spawnRouter(carolRouter.spec, 60_000)
  t.ok(await until(async () => {
    const h = await chat(2, ['history', address[0]!, '--json'], 20_000)
    return h.out.includes('welcome back carol')
  }, 240_000), 'carol has the DM after her router is back')
  t.ok(await until(async () => ((await chatStatus(0)).outbox ?? 1) === 0, 60_000), 'alice\'s outbox is empty: acknowledged')
})
