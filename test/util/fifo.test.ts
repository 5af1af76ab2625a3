/** The head-index FIFO: order, size, peek, clear, and compaction that keeps order. */
import t from 'tap'
import { Fifo } from '../../src/util/fifo.ts'

t.test('first in, first out, across compactions', async t => {
  const q = new Fifo<number>(4)
  t.equal(q.shift(), undefined)
  let next = 0
  let expect = 0
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 7; i++) q.push(next++)
    for (let i = 0; i < 5; i++) t.equal(q.shift(), expect++)
  }
  t.equal(q.size, next - expect)
  t.equal(q.peek(), expect)
  t.same(q.clear(), Array.from({ length: next - expect }, (_, i) => expect + i))
  t.equal(q.size, 0)
  t.equal(q.peek(), undefined)
})
