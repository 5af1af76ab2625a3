/**
 * One chat peer stream (apps/chat/link.ts) over real TCP sockets on 127.0.0.1 (and, where the
 * byte boundaries or a non-reading peer must be controlled, an in-memory Duplex): frames sent by
 * one Link arrive in order as records on the other; an oversize length prefix or a bad body is
 * 'malformed' and cuts the link; more than LINK_BURST frames at one instant are dropped as
 * 'link-rate' (refilled as the injected clock advances); a peer that does not read is cut as
 * 'slow-peer'; handlers.close is called exactly once however the link ends.
 */
import t from 'tap'
import type { Test } from 'tap'
import { createServer, connect, type Socket } from 'node:net'
import { Duplex } from 'node:stream'
import { once } from 'node:events'
import { loadCrypto } from '../../../src/crypto/index.ts'
import { generateDestination } from '../../../src/identity/destination.ts'
import { FRAME_MAX_BYTES, MAX_WELCOME_MEMBERS, decodeFrame, frameRecordOf, signPost, type Frame } from '../../../src/apps/chat/messages.ts'
import { LINK_BURST, LINK_RATE, Link, MAX_QUEUED_BYTES, type LinkHandlers } from '../../../src/apps/chat/link.ts'
import { frameRecord } from '../../../src/wire/frames.ts'
import type { PlainRecord } from '../../../src/wire/msgpack.ts'

const crypto = await loadCrypto()
const alice = generateDestination(crypto)
const T0 = 1_700_000_000_000
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
const filled = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v)

/** Deep-compares with byte arrays turned to hex (msgpackr hands back Buffers). */
function plain (v: unknown): unknown {
  if (v instanceof Uint8Array) return `bytes:${hex(v)}`
  if (Array.isArray(v)) return v.map(plain)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
  return v
}

/** Two connected TCP sockets on 127.0.0.1 (destroyed, and the server closed, at teardown). */
async function socketPair (t: Test): Promise<[Socket, Socket]> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const addr = server.address()
  if (addr === null || typeof addr === 'string') throw new Error('no port')
  const accepted = once(server, 'connection') as Promise<[Socket]>
  const client = connect(addr.port, '127.0.0.1')
  await once(client, 'connect')
  const [serverSide] = await accepted
  t.teardown(async () => {
    client.destroy()
    serverSide.destroy()
    await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  })
  return [client, serverSide]
}

/** Handlers that record what they are told; `until` resolves when a condition holds. */
function recorder (): LinkHandlers & { records: PlainRecord[], drops: string[], closes: Link[], until: (cond: () => boolean) => Promise<void> } {
  const waiters: Array<{ cond: () => boolean, resolve: () => void }> = []
  const check = (): void => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i] as { cond: () => boolean, resolve: () => void }
      if (w.cond()) { waiters.splice(i, 1); w.resolve() }
    }
  }
  const h = {
    records: [] as PlainRecord[],
    drops: [] as string[],
    closes: [] as Link[],
    frame: (_l: Link, r: PlainRecord) => { h.records.push(r); check() },
    drop: (reason: string) => { h.drops.push(reason); check() },
    close: (l: Link) => { h.closes.push(l); check() },
    until: async (cond: () => boolean): Promise<void> => {
      if (cond()) return
      await new Promise<void>(resolve => { waiters.push({ cond, resolve }) })
    }
  }
  return h
}

/** Waits for a socket to be fully closed. */
async function closed (s: Socket | Duplex): Promise<void> {
  if (s.closed) return
  await once(s, 'close')
}

/** Lets queued I/O callbacks run (a few event-loop turns). */
async function settle (): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise(resolve => setImmediate(resolve))
}

const room = filled(32, 0x21)
const post = signPost(crypto, { kind: 'dm', conv: filled(32, 9), author: alice.destination.bytes, nick: 'alice', ts: T0, text: 'hello over the link' }, alice.signing.secretKey)
const sample: Frame[] = [
  { op: 'dm', post },
  { op: 'ack', id: post.id },
  { op: 'room', room, nonce: filled(24, 1), sealed: filled(500, 2), history: true },
  { op: 'room', room, nonce: filled(24, 3), sealed: filled(FRAME_MAX_BYTES - 100, 4), history: false },
  { op: 'join', room, proof: filled(32, 5), since: T0 },
  { op: 'welcome', room, proof: room, members: [alice.destination.bytes] },
  { op: 'deny', room },
  { op: 'part', room }
]

t.test('frames sent by one Link arrive as records on the other, in order', async t => {
  const [a, b] = await socketPair(t)
  const ha = recorder()
  const hb = recorder()
  const clock = { ms: T0 }
  const la = new Link(a, 'dest-b', 'hash-b', true, ha, () => clock.ms)
  const lb = new Link(b, 'dest-a', 'hash-a', false, hb, () => clock.ms)
  t.equal(la.remote, 'dest-b')
  t.equal(la.remoteHash, 'hash-b')
  t.equal(la.outgoing, true)
  t.equal(lb.outgoing, false)
  t.ok(la.isOpen && lb.isOpen)
  clock.ms = T0 + 5
  for (const f of sample) t.equal(la.send(f), true, `send ${f.op}`)
  t.equal(la.lastActive, T0 + 5, 'sending marks the link active')
  await hb.until(() => hb.records.length === sample.length)
  const decoded = hb.records.map(r => decodeFrame(crypto, r))
  t.same(plain(decoded), plain(sample), 'every frame arrives intact and in order')
  t.equal(lb.lastActive, T0 + 5, 'receiving marks the link active')
  // And the other way.
  t.equal(lb.send({ op: 'ack', id: filled(16, 7) }), true)
  await ha.until(() => ha.records.length === 1)
  t.same(plain(ha.records[0]), plain({ op: 'ack', id: filled(16, 7) }))
  t.same(ha.drops, [], 'no drops')
  t.same(hb.drops, [], 'no drops')
  // Many frames: all delivered, in order (under the burst).
  for (let i = 0; i < 300; i++) la.send({ op: 'join', room, proof: filled(32, i & 0xff), since: i })
  await hb.until(() => hb.records.length === sample.length + 300)
  t.same(hb.records.slice(sample.length).map(r => r.s), Array.from({ length: 300 }, (_, i) => i), '300 frames in order')
  la.close()
  lb.close()
})

t.test('a length prefix over FRAME_MAX_BYTES: dropped as malformed and the link closes', async t => {
  const [raw, b] = await socketPair(t)
  const h = recorder()
  const link = new Link(b, 'r', 'h', false, h, () => T0)
  const prefix = new Uint8Array(4)
  new DataView(prefix.buffer).setUint32(0, FRAME_MAX_BYTES + 1)
  raw.write(prefix)
  await h.until(() => h.closes.length === 1)
  t.same(h.drops, ['malformed'], 'one malformed drop')
  t.same(h.records, [], 'nothing delivered')
  t.equal(h.closes[0], link, 'close reports the link')
  t.equal(link.isOpen, false)
  t.equal(link.send({ op: 'part', room }), false, 'sending on a closed link fails')
  await closed(raw)
  t.pass('the peer sees the stream closed')
  await settle()
  t.equal(h.closes.length, 1, 'close reported once')
  t.same(h.drops, ['malformed'], 'nothing more')
})

t.test('a frame of exactly FRAME_MAX_BYTES is fine', async t => {
  const [raw, b] = await socketPair(t)
  const h = recorder()
  const link = new Link(b, 'r', 'h', false, h, () => T0)
  // A record padded to exactly FRAME_MAX_BYTES.
  let pad = FRAME_MAX_BYTES - 20
  let bytes = frameRecord({ op: 'x', p: filled(pad, 1) }, FRAME_MAX_BYTES)
  pad += FRAME_MAX_BYTES + 4 - bytes.length
  bytes = frameRecord({ op: 'x', p: filled(pad, 1) }, FRAME_MAX_BYTES)
  t.equal(bytes.length, FRAME_MAX_BYTES + 4, 'body of exactly FRAME_MAX_BYTES')
  raw.write(bytes)
  await h.until(() => h.records.length === 1)
  t.equal((h.records[0]?.p as Uint8Array).length, pad)
  t.ok(link.isOpen)
  link.close()
})

t.test('a well-framed body that is not a record: malformed, link closed', async t => {
  for (const body of [Uint8Array.of(0x93, 1, 2, 3), Uint8Array.of(0xc1), Uint8Array.of(0x81, 0xa1, 0x61)]) {
    const [raw, b] = await socketPair(t)
    const h = recorder()
    const link = new Link(b, 'r', 'h', false, h, () => T0)
    const out = new Uint8Array(4 + body.length)
    new DataView(out.buffer).setUint32(0, body.length)
    out.set(body, 4)
    raw.write(out)
    await h.until(() => h.closes.length === 1)
    t.same(h.drops, ['malformed'], `body ${hex(body)}: malformed`)
    t.equal(link.isOpen, false)
  }
})

t.test('more than LINK_BURST frames at one instant: the excess is dropped as link-rate', async t => {
  const [raw, b] = await socketPair(t)
  const h = recorder()
  const clock = { ms: T0 }
  const link = new Link(b, 'r', 'h', false, h, () => clock.ms)
  const extra = 50
  const chunks = Array.from({ length: LINK_BURST + extra }, (_, i) => frameRecord({ op: 'ack', i }, FRAME_MAX_BYTES))
  raw.write(Buffer.concat(chunks))
  await h.until(() => h.records.length + h.drops.length === LINK_BURST + extra)
  t.equal(h.records.length, LINK_BURST, `LINK_BURST (${LINK_BURST}) delivered`)
  t.equal(h.drops.length, extra, `${extra} dropped`)
  t.ok(h.drops.every(d => d === 'link-rate'), 'all as link-rate')
  t.same(h.records.map(r => r.i), Array.from({ length: LINK_BURST }, (_, i) => i), 'the first ones are delivered')
  t.ok(link.isOpen, 'rate drops do not close the link')
  // One second later LINK_RATE tokens are back.
  clock.ms = T0 + 1000
  raw.write(Buffer.concat(Array.from({ length: LINK_RATE + 10 }, (_, i) => frameRecord({ op: 'ack', j: i }, FRAME_MAX_BYTES))))
  await h.until(() => h.records.length + h.drops.length === LINK_BURST + extra + LINK_RATE + 10)
  t.equal(h.records.length, LINK_BURST + LINK_RATE, `${LINK_RATE} more delivered after 1 s`)
  t.equal(h.drops.length, extra + 10, '10 more dropped')
  t.equal(h.closes.length, 0, 'still open')
  link.close()
})

t.test('close(): handlers.close once; the peer sees the end; idempotent', async t => {
  const [a, b] = await socketPair(t)
  const ha = recorder()
  const hb = recorder()
  const la = new Link(a, 'b', 'hb', true, ha, () => T0)
  const lb = new Link(b, 'a', 'ha', false, hb, () => T0)
  la.close()
  t.equal(ha.closes.length, 1, 'close reported at once')
  t.equal(la.isOpen, false)
  la.close()
  t.equal(ha.closes.length, 1, 'a second close() does nothing')
  await hb.until(() => hb.closes.length === 1)
  t.equal(lb.isOpen, false, 'the other end closes when the stream ends')
  t.equal(hb.closes[0], lb)
  await closed(a)
  await closed(b)
  await settle()
  t.equal(ha.closes.length, 1, 'the socket close event does not report again')
  t.equal(hb.closes.length, 1, 'nor on the other side')
  lb.close()
  t.equal(hb.closes.length, 1, 'close() after the peer closed does nothing')
  t.equal(la.send({ op: 'part', room }), false, 'send on a closed link fails')
  t.same([...ha.drops, ...hb.drops], [], 'no drops')
})

t.test('the socket being destroyed underneath reports close once', async t => {
  const [a, b] = await socketPair(t)
  const h = recorder()
  const link = new Link(b, 'a', 'ha', false, h, () => T0)
  b.destroy()
  await h.until(() => h.closes.length === 1)
  t.equal(link.isOpen, false)
  link.close()
  await closed(a)
  await settle()
  t.equal(h.closes.length, 1)
})

/** An in-memory Duplex: `written` collects what the Link writes; `stall` keeps writes pending. */
function memoryDuplex (stall = false): Duplex & { written: Uint8Array[] } {
  const written: Uint8Array[] = []
  const d = new Duplex({
    read () {},
    write (chunk: Uint8Array, _enc, cb) {
      written.push(chunk)
      if (!stall) cb()
    }
  })
  return Object.assign(d, { written })
}

t.test('frames split at every byte boundary are reassembled', async t => {
  const d = memoryDuplex()
  const h = recorder()
  const link = new Link(d, 'r', 'h', false, h, () => T0)
  const frames = sample.slice(0, 3).map(f => frameRecord(frameRecordOf(f), FRAME_MAX_BYTES))
  const all = Buffer.concat(frames)
  for (let i = 0; i < all.length; i++) d.push(all.subarray(i, i + 1))
  await h.until(() => h.records.length === 3)
  t.same(plain(h.records.map(r => decodeFrame(crypto, r))), plain(sample.slice(0, 3)), 'byte-by-byte delivery decodes')
  t.same(h.drops, [])
  link.close()
})

t.test('a peer that does not read is cut off as slow-peer', async t => {
  const d = memoryDuplex(true)
  const h = recorder()
  const link = new Link(d, 'r', 'h', true, h, () => T0)
  const big: Frame = { op: 'room', room, nonce: filled(24, 1), sealed: filled(FRAME_MAX_BYTES - 200, 2), history: false }
  let sent = 0
  while (link.send(big)) {
    sent++
    if (sent > 1000) break
  }
  t.ok(sent > 0 && sent <= 1000, `cut off after ${sent} frames`)
  t.ok(sent * (FRAME_MAX_BYTES - 200) > MAX_QUEUED_BYTES, 'only once more than MAX_QUEUED_BYTES is queued')
  t.ok((sent - 1) * FRAME_MAX_BYTES <= MAX_QUEUED_BYTES + FRAME_MAX_BYTES, 'and not much later')
  t.same(h.drops, ['slow-peer'], 'one slow-peer drop')
  t.equal(h.closes.length, 1, 'closed once')
  t.equal(link.isOpen, false)
  t.ok(d.destroyed, 'the stream is destroyed')
  t.equal(link.send({ op: 'part', room }), false, 'later sends fail without another drop')
  t.same(h.drops, ['slow-peer'])
})

t.test('data arriving after close is ignored', async t => {
  const d = memoryDuplex()
  const h = recorder()
  const link = new Link(d, 'r', 'h', false, h, () => T0)
  link.close()
  d.emit('data', frameRecord({ op: 'part', r: room }, FRAME_MAX_BYTES))
  await settle()
  t.same(h.records, [], 'no record after close')
  t.equal(h.closes.length, 1)
})

t.test('Link.send of a full welcome (MAX_WELCOME_MEMBERS destinations) does not throw', async t => {
  const d = memoryDuplex()
  const link = new Link(d, 'r', 'h', false, recorder(), () => T0)
  const members = Array.from({ length: MAX_WELCOME_MEMBERS }, () => alice.destination.bytes)
  let err: unknown
  try { link.send({ op: 'welcome', room, proof: room, members }) } catch (e) { err = e }
  t.equal(err, undefined, 'no exception')
  t.equal(link.send({ op: 'welcome', room, proof: room, members: members.slice(1) }), true, `${MAX_WELCOME_MEMBERS - 1} members can be sent`)
  link.close()
})
