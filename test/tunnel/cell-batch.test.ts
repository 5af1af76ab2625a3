// Grouping a message's cells by the tunnel that transforms them.
import t from 'tap'
import { forEachGroup } from '../../src/tunnel/cell-batch.ts'

const groups = (targets: string[], offs: number[], n = targets.length): Array<[string, number[]]> => {
  const out: Array<[string, number[]]> = []
  forEachGroup(targets, offs, n, (x, o) => { out.push([x, o]) })
  return out
}

t.test('one tunnel: one group, all offsets in order', async t => {
  t.same(groups(['a', 'a', 'a'], [4, 1032, 2060]), [['a', [4, 1032, 2060]]])
})

t.test('mixed tunnels: a group each, by first appearance, offsets in arrival order', async t => {
  t.same(groups(['a', 'b', 'a', 'c', 'b'], [1, 2, 3, 4, 5]), [['a', [1, 3]], ['b', [2, 5]], ['c', [4]]])
})

t.test('only the first n count; none, no call', async t => {
  t.same(groups(['a', 'b', 'c'], [1, 2, 3], 2), [['a', [1]], ['b', [2]]])
  t.same(groups([], [], 0), [])
})
