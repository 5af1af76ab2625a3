/**
 * The stream carrier's early write (src/link/stream-carrier.ts): past 128 KiB queued it writes
 * within `send`; a Conn that throws there fails the link through `onFail`, as on the scheduled
 * path, instead of throwing into the sender; a Conn that closes the link from inside its own
 * `send` does not re-enter the flush. Frames go to a Conn's `sendParts` (no copy) when it has
 * one; a received message of at least a quarter of its frame is a view of the frame, a smaller
 * one a copy.
 */
import t from 'tap'
import { loadCrypto } from '../../src/crypto/index.ts'
import { DirectionKeys } from '../../src/link/keys.ts'
import { StreamOpener, StreamSealer } from '../../src/link/stream-codec.ts'
import { StreamCarrier } from '../../src/link/stream-carrier.ts'
import type { CarrierEvents } from '../../src/link/carrier.ts'
import { LINK_DEFAULTS, newStats } from '../../src/link/types.ts'
import type { Conn } from '../../src/link/transport.ts'

const c = await loadCrypto({ seed: 'stream-carrier' })
const key = c.randomBytes(32)
const hh = c.randomBytes(32)

/** A carrier over `conn` (both directions under one key, its frames opened by itself), with `ev` as its events. */
function makeCarrier (conn: Conn, ev: Partial<CarrierEvents> = {}): StreamCarrier {
  const sc: StreamCarrier = new StreamCarrier(conn, new StreamSealer(c, new DirectionKeys(c, key, hh), 1 << 20),
    new StreamOpener(c, new DirectionKeys(c, key, hh), 1 << 20, 65535, (pt) => { sc.onFrame(pt) }),
    LINK_DEFAULTS, newStats(), { onMessage () {}, onFail () {}, onDrain () {}, ...ev }, () => 0)
  return sc
}

/** A carrier over a fake Conn whose send is `send`; returns it and what its events saw. */
function carrier (send: (b: Uint8Array) => boolean): { sc: StreamCarrier, fails: Error[], sends: Uint8Array[] } {
  const fails: Error[] = []
  const sends: Uint8Array[] = []
  const conn = { transport: 'tcp', remote: 'tcp://127.0.0.1:1', reliable: true, mtu: 65536, bufferedAmount: 0,
    send: (b: Uint8Array) => { sends.push(b); return send(b) }, setHandlers () {}, close () {} } as unknown as Conn
  const sc = makeCarrier(conn, { onFail (err) { fails.push(err ?? new Error('closed')); sc.stop() } })
  return { sc, fails, sends }
}

t.test('a Conn that throws on the early write fails the link; send itself does not throw', async t => {
  const { sc, fails, sends } = carrier(() => { throw new Error('socket gone') })
  const big = new Uint8Array(sc.maxMessage)
  t.doesNotThrow(() => { for (let i = 0; i < 3; i++) sc.send(big) })
  t.equal(sends.length, 1, 'the third message crossed 128 KiB and was written at once')
  t.equal(fails.length, 1)
  t.match(fails[0]!.message, /socket gone/)
  await new Promise(resolve => setImmediate(resolve))
  t.equal(sends.length, 1, 'nothing more after the link failed')
})

t.test('a Conn that stops the carrier from inside send does not re-enter the flush', async t => {
  let inner = 0
  let box: { sc: StreamCarrier } | undefined
  const { sc, sends } = carrier(() => {
    inner++
    if (inner === 1) box!.sc.stop(1) // what a Conn closing itself synchronously leads to
    return true
  })
  box = { sc }
  const big = new Uint8Array(sc.maxMessage)
  for (let i = 0; i < 3; i++) sc.send(big)
  t.equal(sends.length, 1, 'one write: stop() did not flush again from inside the first')
  t.throws(() => sc.send(big), { name: 'ClosedError' }, 'and the carrier is stopped')
})

/** A Conn with sendParts that records what it is handed. */
function partsConn (): { conn: Conn, parts: Uint8Array[][], sends: Uint8Array[] } {
  const parts: Uint8Array[][] = []
  const sends: Uint8Array[] = []
  const conn = { transport: 'tcp', remote: 'tcp://127.0.0.1:1', reliable: true, mtu: 65536, bufferedAmount: 0,
    send: (b: Uint8Array) => { sends.push(b); return true },
    sendParts: (p: readonly Uint8Array[]) => { parts.push([...p]); return true },
    setHandlers () {}, close () {} } as unknown as Conn
  return { conn, parts, sends }
}

t.test('frames go to sendParts as separate arrays, which open to the messages sent', async t => {
  const { conn, parts, sends } = partsConn()
  const sc = makeCarrier(conn)
  const msgs = [c.randomBytes(40_000), c.randomBytes(30_000), c.randomBytes(100)]
  for (const m of msgs) sc.send(m)
  await new Promise(resolve => setImmediate(resolve))
  t.equal(sends.length, 0, 'send was not used')
  t.equal(parts.length, 1, 'one sendParts for the turn')
  t.equal(parts[0]!.length % 3, 0, 'length, ciphertext and tag per frame')
  t.ok(parts[0]!.length >= 6, 'two frames (70 KB does not fit one)')
  // What the peer reads: the concatenation, in chunks of any size.
  const got: Uint8Array[] = []
  const rx = makeCarrier(partsConn().conn, { onMessage (m) { got.push(m) }, onFail (err) { t.fail(String(err)) } })
  const wire = Buffer.concat(parts[0]!)
  for (let off = 0; off < wire.length; off += 7777) rx.onData(wire.subarray(off, off + 7777))
  t.same(got.map(m => Buffer.from(m).toString('hex')), msgs.map(m => Buffer.from(m).toString('hex')), 'every message, in order')
})

t.test('a received message of at least a quarter of its frame is a view of it; a small one is a copy', async t => {
  const { conn, parts } = partsConn()
  const sc = makeCarrier(conn)
  sc.send(c.randomBytes(20_000))
  sc.send(c.randomBytes(500))
  await new Promise(resolve => setImmediate(resolve))
  const got: Uint8Array[] = []
  const rx = makeCarrier(partsConn().conn, { onMessage (m) { got.push(m) }, onFail (err) { t.fail(String(err)) } })
  rx.onData(Buffer.concat(parts[0]!))
  t.equal(got.length, 2)
  t.ok(got[0]!.buffer.byteLength > got[0]!.length, 'the 20 000-byte message is a view of its (bigger) frame')
  t.equal(got[1]!.buffer.byteLength, 500, 'the 500-byte message is a copy of its own')
})
