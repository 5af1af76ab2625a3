/**
 * The stream carrier's early write (src/link/stream-carrier.ts): past 128 KiB queued it writes
 * within `send`; a Conn that throws there fails the link through `onFail`, as on the scheduled
 * path, instead of throwing into the sender; a Conn that closes the link from inside its own
 * `send` does not re-enter the flush.
 */
import t from 'tap'
import { loadCrypto } from '../../src/crypto/index.ts'
import { DirectionKeys } from '../../src/link/keys.ts'
import { StreamOpener, StreamSealer } from '../../src/link/stream-codec.ts'
import { StreamCarrier } from '../../src/link/stream-carrier.ts'
import { LINK_DEFAULTS, newStats } from '../../src/link/types.ts'
import type { Conn } from '../../src/link/transport.ts'

const c = await loadCrypto({ seed: 'stream-carrier' })
const key = c.randomBytes(32)
const hh = c.randomBytes(32)

/** A carrier over a fake Conn whose send is `send`; returns it and what its events saw. */
function carrier (send: (b: Uint8Array) => boolean): { sc: StreamCarrier, fails: Error[], sends: Uint8Array[] } {
  const fails: Error[] = []
  const sends: Uint8Array[] = []
  const conn = { transport: 'tcp', remote: 'tcp://127.0.0.1:1', reliable: true, mtu: 65536, bufferedAmount: 0,
    send: (b: Uint8Array) => { sends.push(b); return send(b) }, setHandlers () {}, close () {} } as unknown as Conn
  const sealer = new StreamSealer(c, new DirectionKeys(c, key, hh), 1 << 20)
  const opener = new StreamOpener(c, new DirectionKeys(c, key, hh), 1 << 20, 65535, () => {})
  let sc: StreamCarrier | undefined
  sc = new StreamCarrier(conn, sealer, opener, LINK_DEFAULTS, newStats(), {
    onMessage () {}, onFail (err) { fails.push(err ?? new Error('closed')); sc?.stop() }, onDrain () {}
  }, () => 0)
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
