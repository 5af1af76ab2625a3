// A hop dies mid-stream: the creator's tunnel tests notice, the pool builds a replacement, and
// the stream carries on over it with every byte delivered once and in order. Real routers over
// TCP, UDP and HTTP on 127.0.0.1.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { startNetwork, until } from './fixtures.ts'

t.test('a hop killed mid-stream: the stream resumes over rebuilt tunnels, byte-identical', async (t) => {
  const net = await startNetwork(t, 8, { pool: { length: 3, quantity: 1, testIntervalMs: 1000, testTimeoutMs: 1000 }, tunnels: { buildTimeoutMs: 2000 } })
  const [alice, bob] = await Promise.all([net[0]!.createDestination(), net[1]!.createDestination()])
  const data = randomBytes(3 * 1024 * 1024)
  const parts: Buffer[] = []
  let got = 0
  const done = new Promise<void>((resolve, reject) => {
    bob.listen(80, (s) => {
      s.on('data', (c: Buffer) => { parts.push(c); got += c.length })
      s.once('end', resolve)
      s.once('error', reject)
    })
  })
  const s = await alice.connect(bob.address, { toPort: 80 })
  let streamError: Error | undefined
  const onError = (err: Error): void => { streamError ??= err }
  s.on('error', onError)
  // Send in slices so the kill lands mid-stream.
  const slice = 64 * 1024
  let sent = 0
  const pump = async (): Promise<void> => {
    while (sent < data.length) {
      const ok = s.write(data.subarray(sent, sent + slice))
      sent += slice
      if (!ok) await new Promise(resolve => { s.once('drain', resolve); s.once('close', resolve) })
      if (s.destroyed) return
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    s.end()
  }
  const pumping = pump()
  t.ok(await until(() => got >= 512 * 1024, 30_000), 'half a MiB arrived before the kill')
  // A hop of alice's outbound tunnel, preferably the middle one (which alice has no link to),
  // but never bob's router.
  const out = alice.pool.outbound[0]!
  const victimId = [out.hops[1]!, out.hops[0]!, out.hops[2]!].find(h => h.idHex !== net[1]!.idHex)!.idHex
  const victim = net.find(r => r.idHex === victimId)!
  t.not(victim, net[1], 'the victim is not bob\'s router')
  const retiredBefore = alice.pool.stats.retired
  await victim.stop()
  t.comment(`killed the middle hop ${victimId.slice(0, 8)} of alice's outbound tunnel at ${got} bytes`)
  await pumping
  await Promise.race([done, new Promise(resolve => s.once('close', resolve))])
  t.equal(streamError, undefined, 'the stream never failed')
  t.ok(await until(() => alice.pool.stats.retired > retiredBefore && !alice.pool.outbound.some(o => o.uses(victimId)), 15_000),
    'the broken tunnel was retired; no outbound tunnel uses the dead router any more')
  s.off('error', onError)
  s.on('error', () => {}) // the routers stop at teardown
  const all = Buffer.concat(parts)
  t.equal(all.length, data.length, 'every byte arrived')
  t.equal(createHash('sha256').update(all).digest('hex'), createHash('sha256').update(data).digest('hex'), 'byte-identical: nothing lost, repeated or corrupted')
})
