/**
 * src/api/splice.ts: what one side emits within one turn of the event loop reaches the other
 * side in one write (corkPerTick), in order, and `splice` keeps moving bytes both ways.
 */
import t from 'tap'
import { Duplex, PassThrough, Writable } from 'node:stream'
import { corkPerTick, splice } from '../../src/api/splice.ts'

/** A Writable that records how the chunks arrive: one entry per _write or _writev call. */
function recorder (): { w: Writable, calls: number[][] } {
  const calls: number[][] = []
  const w = new Writable({
    write (chunk: Buffer, _enc, cb) { calls.push([chunk.length]); cb() },
    writev (chunks, cb) { calls.push(chunks.map(c => (c.chunk as Buffer).length)); cb() }
  })
  return { w, calls }
}

t.test('chunks emitted in one turn reach the destination in one write, in order', async t => {
  const src = new PassThrough()
  const { w, calls } = recorder()
  corkPerTick(src, w)
  src.on('data', (c: Buffer) => { w.write(c) })
  // Ten packets handed over within one turn (as a stream does for one link message).
  src.on('end', () => { w.end() })
  await new Promise<void>((resolve) => {
    src.once('data', () => {}) // flowing
    setImmediate(() => {
      for (let i = 1; i <= 10; i++) src.write(Buffer.alloc(i * 100))
      setImmediate(resolve)
    })
  })
  t.same(calls, [[100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]], 'one writev of all ten, in order')
  // The next turn's chunk is a write of its own: nothing waits longer than a tick.
  src.write(Buffer.alloc(5))
  await new Promise(resolve => setImmediate(resolve))
  t.same(calls.at(-1), [5])
})

t.test('splice moves bytes both ways, batched per turn', async t => {
  const a = new PassThrough()
  const calls: number[][] = []
  const got: Buffer[] = []
  const b = new Duplex({
    read () {},
    write (chunk: Buffer, _enc, cb) { calls.push([chunk.length]); got.push(chunk); cb() },
    writev (chunks, cb) { calls.push(chunks.map(c => (c.chunk as Buffer).length)); for (const c of chunks) got.push(c.chunk as Buffer); cb() }
  })
  splice(a, b)
  await new Promise(resolve => setImmediate(resolve))
  for (let i = 0; i < 5; i++) a.write(Buffer.from([i]))
  await new Promise(resolve => setImmediate(resolve))
  t.equal(calls.length, 1, 'five chunks, one write')
  t.same([...Buffer.concat(got)], [0, 1, 2, 3, 4])
  const back: Buffer[] = []
  a.on('data', (c: Buffer) => { back.push(c) })
  b.push(Buffer.from('pong'))
  await new Promise(resolve => setImmediate(resolve))
  t.equal(Buffer.concat(back).toString().includes('pong'), true, 'and the other way')
  a.destroy(); b.destroy()
})
