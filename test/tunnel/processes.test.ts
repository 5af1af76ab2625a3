// Routers as separate processes (bench/tunnel-peer.ts) over TCP, UDP and HTTP on 127.0.0.1:
// two destinations on different routers stream 50 MB each way through 3-hop tunnels, and
// every byte arrives unchanged (SHA-256 compared at both ends); every router finds the
// LeaseSet one of them published.
import t from 'tap'
import { startPeers, type Peer } from '../../bench/tunnel.ts'

t.test('50 MB each way between destinations on router processes, byte-identical', async (t) => {
  const peers: Peer[] = await startPeers(7)
  t.teardown(async () => { await Promise.all(peers.map(async p => { await p.stop() })) })
  const [a, b] = [peers[0]!, peers[1]!]
  await a.call('dest', { length: 3, quantity: 2 })
  const db = await b.call('dest', { length: 3, quantity: 2 })
  // Every other router process finds bob's published LeaseSet through the netDb.
  const found = await Promise.all(peers.map(async p => await p.call('lookup', { address: db.address }, 30_000)))
  t.ok(found.every(f => (f.leases as number) >= 1), `all ${peers.length} routers find bob's LeaseSet (with its leases)`)
  await b.call('sink', { port: 80 })
  const bytes = 50 * 1024 * 1024
  const up = await a.call('stream', { to: db.address, port: 80, up: bytes, down: 0 }, 170_000)
  const sunk = await b.event(30_000)
  t.equal(sunk.bytes, bytes, 'bob received 50 MB')
  t.equal(sunk.sha, up.upSha, 'byte-identical alice → bob')
  const down = await a.call('stream', { to: db.address, port: 80, up: 0, down: bytes }, 170_000)
  await b.event(30_000)
  t.equal(down.downBytes, bytes, 'alice received 50 MB')
  t.equal(down.downSha, up.upSha, 'byte-identical bob → alice (both ends send the same pattern)')
})
