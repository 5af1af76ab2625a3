/**
 * The chat engine between users in this process over real TCP sockets (chat-fixture.ts):
 * direct messages with acks, the outbox to an offline user, rooms that survive a member
 * leaving and serve history to a joiner, and hostile peers (forged, unsigned, wrong key,
 * malformed, flooding) dropped and counted without hurting honest members.
 */
import t from 'tap'
import { FrameSplitter, frameRecord } from '../../../src/wire/frames.ts'
import { FRAME_MAX_BYTES, frameRecordOf, postRecord, signPost } from '../../../src/apps/chat/messages.ts'
import { AUTHOR_BURST, joinProof, roomKeys, sealPost } from '../../../src/apps/chat/room.ts'
import { DM_BURST } from '../../../src/apps/chat/chat.ts'
import { parseInvite } from '../../../src/apps/chat/invite.ts'
import { hashOf, startChatNet, texts, type ChatNet } from './chat-fixture.ts'

let net: ChatNet
t.before(async () => { net = await startChatNet() })
t.teardown(async () => { await net.close() })

t.test('a direct message is delivered, acknowledged and stored on both sides', async (t) => {
  const alice = await net.add('alice')
  const bob = await net.add('bob')
  const r = await alice.core.sendDm(bob.core.address, 'hi bob')
  t.equal(r.state, 'delivered')
  t.equal(r.to, bob.core.address)
  t.same(texts(bob, 'dm'), ['hi bob'])
  const got = bob.events.find(e => e.type === 'message' && e.kind === 'dm')
  t.match(got, { from: alice.core.address, nick: 'alice', self: false })
  t.ok(await net.until(() => alice.events.some(e => e.type === 'delivered' && e.id === r.id)), 'delivered event')
  t.equal(alice.store.outboxSize(), 0, 'outbox empty')
  t.same(bob.core.history(alice.core.address).map(e => e.type === 'message' ? e.text : ''), ['hi bob'])
  const mine = alice.store.readHistory(hashOf(net.crypto, bob.b64), 10)
  t.equal(mine.length, 1)
  t.equal(mine[0]!.state, 'delivered')
  // Bob answers by nickname now that alice is a contact.
  t.equal((await bob.core.sendDm('alice', 'hi alice')).state, 'delivered')
  t.same(texts(alice, 'dm').filter(x => x === 'hi alice'), ['hi alice'])
})

t.test('a DM to a user who is offline is queued and arrives once when they are back', async (t) => {
  const carol = await net.add('carol')
  const dave = await net.add('dave')
  await net.down(dave)
  const r = await carol.core.sendDm(dave.core.address, 'are you there?', 500)
  t.equal(r.state, 'queued')
  t.equal(carol.store.outboxSize(), 1)
  await net.up(dave)
  // Retries are due 5 s after the failed try.
  t.ok(await net.until(() => texts(dave, 'dm').includes('are you there?'), 20_000), 'arrives after dave is back')
  t.ok(await net.until(() => carol.store.outboxSize() === 0), 'acknowledged: the outbox is empty')
  t.same(texts(dave, 'dm'), ['are you there?'], 'exactly once')
  t.ok(carol.events.some(e => e.type === 'delivered' && e.id === r.id))
})

t.test('a room: three members talk; one leaves, two go on; a fourth joins and gets history', async (t) => {
  const a = await net.add('ann')
  const b = await net.add('ben')
  const c = await net.add('cat')
  const { invite } = await a.core.createRoom('lobby')
  t.equal(parseInvite(invite).via[0], a.core.address, 'the invite names its creator')
  t.equal((await b.core.joinRoom(invite)).connected, true)
  t.equal((await c.core.joinRoom(a.core.invite('lobby'))).connected, true)
  await a.core.say('lobby', 'hello from ann')
  t.ok(await net.until(() => texts(b).includes('hello from ann') && texts(c).includes('hello from ann')), 'b and c get it')
  await c.core.say('#lobby', 'cat here')
  t.ok(await net.until(() => texts(a).includes('cat here') && texts(b).includes('cat here')))
  t.ok(await net.until(() => b.core.listRooms()[0]!.members.length === 3), 'members known')

  const inviteForD = b.core.invite('lobby')
  await net.down(a)
  await b.core.say('lobby', 'ann is gone')
  t.ok(await net.until(() => texts(c).includes('ann is gone')), 'b and c still talk without the creator')
  await c.core.say('lobby', 'still here')
  t.ok(await net.until(() => texts(b).includes('still here')))

  const d = await net.add('dan')
  t.equal((await d.core.joinRoom(inviteForD)).connected, true)
  t.ok(await net.until(() => ['hello from ann', 'cat here', 'ann is gone', 'still here'].every(x => texts(d).includes(x))), 'the joiner sees recent history')
  t.ok(d.events.some(e => e.type === 'message' && e.history), 'marked as history')
  await d.core.say('lobby', 'hi all')
  t.ok(await net.until(() => texts(b).includes('hi all') && texts(c).includes('hi all')), 'the joiner is heard')
  for (const u of [b, c, d]) t.equal(texts(u).filter(x => x === 'still here').length, 1, 'no duplicates')

  // The creator comes back: its room is restored from disk and it catches up.
  await net.up(a)
  t.ok(await net.until(() => texts(a).includes('hi all')), 'the creator catches up after a restart')
  await c.core.leaveRoom('lobby')
  t.ok(await net.until(() => b.events.some(e => e.type === 'message' && e.kind === 'leave' && e.nick === 'cat')), 'a leave is announced')
  t.same(c.core.listRooms(), [])
})

t.test('hostile peers: forged, unsigned, wrong key, bad proof, malformed, flood', async (t) => {
  const host = await net.add('host')
  const friend = await net.add('friend')
  const mallory = await net.add('mallory')
  const { invite } = await host.core.createRoom('den')
  await friend.core.joinRoom(invite)
  const secret = parseInvite(invite).secret
  const keys = roomKeys(net.crypto, secret)
  const hostHash = hashOf(net.crypto, host.b64)
  const mHash = hashOf(net.crypto, mallory.b64)

  const s = await net.rawDial(mallory, host)
  const replies = new FrameSplitter(FRAME_MAX_BYTES)
  const ops: string[] = []
  s.on('data', (d: Buffer) => { for (const r of replies.push(d)) ops.push(String(r.op)) })
  const send = (rec: Parameters<typeof frameRecord>[0]): void => { s.write(frameRecord(rec, FRAME_MAX_BYTES)) }

  send(frameRecordOf({ op: 'join', room: keys.id, proof: new Uint8Array(32), since: 0 }))
  t.ok(await net.until(() => ops.includes('deny')), 'a wrong proof is denied')
  t.equal(host.core.dropped['bad-proof'], 1)
  send(frameRecordOf({ op: 'join', room: keys.id, proof: joinProof(net.crypto, keys, mHash, hostHash), since: 0 }))
  t.ok(await net.until(() => ops.includes('welcome')), 'the right proof is welcomed')

  // A post claiming to be the friend's, signed by mallory's key.
  const friendKeys = friend.keys
  const forged = signPost(net.crypto, { kind: 'say', conv: keys.id, author: friendKeys.destination.bytes, nick: 'friend', ts: Date.now(), text: 'send me your keys' }, mallory.keys.signing.secretKey)
  const sealedForged = sealPost(net.crypto, keys, postRecord(forged))
  send(frameRecordOf({ op: 'room', room: keys.id, ...sealedForged, history: false }))
  // Unsigned: a zero signature.
  const unsigned = { ...postRecord(signPost(net.crypto, { kind: 'say', conv: keys.id, author: mallory.keys.destination.bytes, nick: 'm', ts: Date.now(), text: 'unsigned' }, mallory.keys.signing.secretKey)), s: new Uint8Array(64) }
  send(frameRecordOf({ op: 'room', room: keys.id, ...sealPost(net.crypto, keys, unsigned), history: false }))
  // Sealed with another key.
  const other = roomKeys(net.crypto, new Uint8Array(32).fill(7))
  send(frameRecordOf({ op: 'room', room: keys.id, ...sealPost(net.crypto, other, postRecord(forged)), history: false }))
  // Not a frame at all.
  send({ op: 'room', r: 'not bytes' })
  t.ok(await net.until(() => (host.core.dropped.forged ?? 0) >= 2 && (host.core.dropped['bad-seal'] ?? 0) >= 1 && (host.core.dropped.malformed ?? 0) >= 1), `dropped and counted: ${JSON.stringify(host.core.dropped)}`)
  t.notOk(texts(host).includes('send me your keys'), 'the forged post is not shown')
  t.notOk(texts(friend).includes('send me your keys'), 'nor relayed')
  t.notOk(texts(host).includes('unsigned'))

  // Flood: mallory's own, validly signed posts far over its rate.
  const flood = 5 * AUTHOR_BURST
  for (let i = 0; i < flood; i++) {
    const p = signPost(net.crypto, { kind: 'say', conv: keys.id, author: mallory.keys.destination.bytes, nick: 'mallory', ts: Date.now(), text: `spam ${i}` }, mallory.keys.signing.secretKey)
    send(frameRecordOf({ op: 'room', room: keys.id, ...sealPost(net.crypto, keys, postRecord(p)), history: false }))
  }
  t.ok(await net.until(() => (host.core.dropped['rate-limited'] ?? 0) > 0 && texts(host).filter(x => x.startsWith('spam')).length >= AUTHOR_BURST - 2), 'some spam accepted, the rest limited')
  const accepted = texts(host).filter(x => x.startsWith('spam')).length
  t.ok(accepted <= AUTHOR_BURST + 2, `at most about a burst of spam accepted (${accepted} of ${flood})`)
  await friend.core.say('den', 'the friend is still heard')
  t.ok(await net.until(() => texts(host).includes('the friend is still heard')), 'an honest member is not silenced')

  // A stranger's garbage stream is cut without affecting the room.
  const junk = await net.rawDial(mallory, host)
  junk.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]))
  t.ok(await net.until(() => junk.destroyed || junk.readableEnded), 'an oversized frame length cuts the stream')
  s.destroy()
  await friend.core.say('den', 'after the junk')
  t.ok(await net.until(() => texts(host).includes('after the junk')))
})

t.test('hostile peers, continued: unasked welcomes, stale replays, DM floods, many streams', async (t) => {
  const host = await net.add('host2')
  const friend = await net.add('friend2')
  const mallory = await net.add('mallory2')
  const { invite } = await host.core.createRoom('den2')
  const keys = roomKeys(net.crypto, parseInvite(invite).secret)
  const hostHash = hashOf(net.crypto, host.b64)
  const mHash = hashOf(net.crypto, mallory.b64)
  const s = await net.rawDial(mallory, host)
  const send = (rec: Parameters<typeof frameRecord>[0]): void => { s.write(frameRecord(rec, FRAME_MAX_BYTES)) }

  // A welcome nobody asked for (with a right proof, even) does not make the stream carry the room.
  send(frameRecordOf({ op: 'welcome', room: keys.id, proof: joinProof(net.crypto, keys, mHash, hostHash), members: [] }))
  t.ok(await net.until(() => (host.core.dropped.unasked ?? 0) >= 1), 'an unasked welcome is dropped')
  t.equal(host.core.listRooms()[0]!.links, 0, 'and carries nothing')

  // A validly signed post from 7 hours ago, sent live: a replay.
  send(frameRecordOf({ op: 'join', room: keys.id, proof: joinProof(net.crypto, keys, mHash, hostHash), since: 0 }))
  t.ok(await net.until(() => host.core.listRooms()[0]!.links === 1))
  const old = signPost(net.crypto, { kind: 'say', conv: keys.id, author: mallory.keys.destination.bytes, nick: 'mallory', ts: Date.now() - 7 * 3600_000, text: 'old news' }, mallory.keys.signing.secretKey)
  send(frameRecordOf({ op: 'room', room: keys.id, ...sealPost(net.crypto, keys, postRecord(old)), history: false }))
  // The same post marked as history is not accepted as history either: we did not ask for it.
  send(frameRecordOf({ op: 'room', room: keys.id, ...sealPost(net.crypto, keys, postRecord(old)), history: true }))
  t.ok(await net.until(() => (host.core.dropped.stale ?? 0) >= 2), `stale posts dropped: ${JSON.stringify(host.core.dropped)}`)
  t.notOk(texts(host).includes('old news'))

  // A DM flood from one sender is limited; another sender still gets through.
  for (let i = 0; i < 3 * DM_BURST; i++) {
    const p = signPost(net.crypto, { kind: 'dm', conv: hostHash, author: mallory.keys.destination.bytes, nick: 'mallory', ts: Date.now() + i, text: `dm spam ${i}` }, mallory.keys.signing.secretKey)
    send(frameRecordOf({ op: 'dm', post: p }))
  }
  t.ok(await net.until(() => texts(host, 'dm').filter(x => x.startsWith('dm spam')).length >= DM_BURST - 2 && (host.core.dropped['rate-limited'] ?? 0) > 0), 'DM flood limited')
  t.ok(texts(host, 'dm').filter(x => x.startsWith('dm spam')).length <= DM_BURST + 2, 'about a burst accepted')
  t.equal((await friend.core.sendDm(host.core.address, 'hello host')).state, 'delivered', 'another sender is not limited')

  // Many streams from one peer: at most two stay open.
  const extra = await Promise.all(Array.from({ length: 5 }, async () => await net.rawDial(mallory, host)))
  // The host holds the friend's link and at most two of mallory's seven.
  t.ok(await net.until(() => Number(host.core.status().links) <= 3), `links held: ${String(host.core.status().links)}`)
  t.ok(await net.until(() => extra.filter(x => x.destroyed || x.readableEnded).length >= 4), 'the others are closed')
  for (const x of extra) x.destroy()
  s.destroy()
})
