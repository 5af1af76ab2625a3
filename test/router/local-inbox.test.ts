// LocalInbox: first in, first out; bounded in messages and bytes; one sender bounded to its
// share of either, so others still get in; taken in chunks; cleared.
import t from 'tap'
import { LocalInbox } from '../../src/router/local-inbox.ts'

t.test('first in, first out, taken in chunks', async (t) => {
  const q = new LocalInbox<number>({ maxMessages: 100, maxBytes: 1000, senderShare: 1 })
  for (let i = 0; i < 10; i++) t.ok(q.offer(i % 2 === 0 ? 'a' : 'b', 1, i))
  t.equal(q.size, 10)
  t.same(q.take(4), [0, 1, 2, 3], 'the oldest four')
  t.same(q.take(100), [4, 5, 6, 7, 8, 9], 'then the rest, in order')
  t.same(q.take(5), [], 'then nothing')
  t.equal(q.size, 0)
})

t.test('bounded in messages and in bytes; room comes back as messages are taken', async (t) => {
  const q = new LocalInbox<number>({ maxMessages: 3, maxBytes: 100, senderShare: 1 })
  t.ok(q.offer('a', 10, 1) && q.offer('a', 10, 2) && q.offer('a', 10, 3))
  t.notOk(q.offer('a', 1, 4), 'a fourth message is refused')
  t.same(q.take(1), [1])
  t.ok(q.offer('a', 70, 5), 'room for one more after a take, up to the byte bound')
  t.notOk(q.offer('b', 0, 6), 'full in messages again')
  q.take(3)
  t.notOk(q.offer('a', 101, 7), 'a message larger than the byte bound is refused')
  t.ok(q.offer('a', 100, 8), 'one of exactly the byte bound fits an empty inbox')
  t.notOk(q.offer('b', 1, 9), 'and then not one byte more')
})

t.test('one sender holds at most its share, so another still gets in', async (t) => {
  const q = new LocalInbox<string>({ maxMessages: 8, maxBytes: 1000, senderShare: 0.25 })
  t.ok(q.offer('flood', 1, 'f1') && q.offer('flood', 1, 'f2'), 'two of eight (a quarter)')
  t.notOk(q.offer('flood', 1, 'f3'), 'a third from the same sender is refused')
  t.ok(q.offer('other', 1, 'o1'), 'another sender still gets in')
  t.same(q.take(1), ['f1'])
  t.ok(q.offer('flood', 1, 'f4'), 'the flooder gets room back as its messages are taken')
  t.notOk(q.offer('big', 251, 'b1'), 'a sender may hold at most a quarter of the bytes too')
  t.ok(q.offer('big', 250, 'b2'))
  t.same(q.take(10), ['f2', 'o1', 'f4', 'b2'], 'order kept across senders')
})

t.test('a share smaller than one message still admits one', async (t) => {
  const q = new LocalInbox<number>({ maxMessages: 2, maxBytes: 1000, senderShare: 0.25 })
  t.ok(q.offer('a', 1, 1))
  t.notOk(q.offer('a', 1, 2))
})

t.test('clear drops everything and resets every count', async (t) => {
  const q = new LocalInbox<number>({ maxMessages: 4, maxBytes: 40, senderShare: 0.5 })
  t.ok(q.offer('a', 20, 1) && q.offer('b', 20, 2))
  q.clear()
  t.equal(q.size, 0)
  t.same(q.take(4), [])
  t.ok(q.offer('a', 20, 3), 'the sender and byte counts start again from zero')
})

t.test('many offers and takes keep the counts exact (long run, compaction)', async (t) => {
  const q = new LocalInbox<number>({ maxMessages: 2000, maxBytes: 1e9, senderShare: 1 })
  let next = 0
  let want = 0
  let bad = 0
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 1500; i++) if (q.offer(`s${i % 3}`, 1, next)) next++
    for (const v of q.take(1400)) if (v !== want++) bad++
  }
  for (const v of q.take(1e6)) if (v !== want++) bad++
  t.equal(bad, 0, 'every message came out once, in order')
  t.equal(want, next, 'none of those taken in lost')
  t.ok(next > 50 * 1400, `the inbox kept taking messages (${next})`)
  t.equal(q.size, 0)
})
