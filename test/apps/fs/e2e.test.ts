/**
 * File sharing end to end with real processes: five `umbra router` processes on 127.0.0.1
 * (UDP, TCP and HTTP links), each with its fs node on its own SAM bridge. `umbra publish` puts
 * a 20 MiB file with keywords through router A; router A is then stopped entirely; from router
 * C, `umbra search` finds the file and `umbra get` writes a byte-identical copy. The commands
 * run as users would run them (the CLI, `--data-dir` pointing at a router's data directory).
 */
import t from 'tap'
import { randomBytes, createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runUmbra, stopRouter, type RouterProc } from '../../../src/cli/testnet/procs.ts'
import { fsNodesReady, routerDir, startFsNetwork, waitForFsNodes } from '../../../src/cli/testnet/fs-net.ts'

t.setTimeout(420_000)
// Routers and commands run from the sources under test, never from a stale build.
process.env.UMBRA_FROM_SOURCE = '1'
const N = 5
const SIZE = 20 * 1024 * 1024
const base = await mkdtemp(join(tmpdir(), 'umbra-fs-e2e-'))
const procs: RouterProc[] = []
t.teardown(async () => {
  await Promise.allSettled(procs.map(async p => await stopRouter(p)))
  await rm(base, { recursive: true, force: true })
})
const umbra = async (args: string[]): Promise<{ code: number | null, out: string, err: string }> => await runUmbra(args, 240_000)
const dataDir = (i: number): string => routerDir(base, i)
procs.push(...await startFsNetwork(base, N, { network: 'fs-e2e' }))

t.test('every router runs an fs node that joins the others', async (t) => {
  for (const p of procs) t.match(p.fs, /^[A-Za-z0-9~-]{516,}/, `router ${p.spec.index} printed its fs destination`)
  const states = await waitForFsNodes(procs.map(p => p.control), 2, 90_000)
  t.ok(fsNodesReady(states, 2), `all fs nodes online and connected: ${JSON.stringify(states)}`)
})

t.test('publish on A, stop A, search and get from C', async (t) => {
  const file = join(base, 'video.bin')
  const content = randomBytes(SIZE)
  await writeFile(file, content)
  const pub = await umbra(['publish', file, '--keyword', 'holiday', '--keyword', 'video', '--meta', 'description=the beach', '--data-dir', dataDir(0), '--json'])
  t.equal(pub.code, 0, `publish exits 0 ${pub.err}`)
  t.notMatch(pub.err, /Warning/, 'publish prints no Node warnings (such as too many listeners on its signal)')
  const published = JSON.parse(pub.out.trim().split('\n').pop()!) as { uri: string, size: number, minReplicas: number, seconds: number }
  t.match(published.uri, /^umbra:\/\/fs\/chk\/[a-z2-7]{52}\.[a-z2-7]{52}\.20971520$/)
  t.ok(published.minReplicas >= 2, `every block on at least 2 nodes (${published.minReplicas})`)
  t.comment(`publish of 20 MiB: ${published.seconds.toFixed(1)} s`)

  t.equal(await stopRouter(procs[0]!), 0, 'router A stopped cleanly')

  // As a user would: search again if a search right after the router stopped found nothing. A
  // first search used to come back empty about 1 run in 3 in CI: the command's first request
  // (to its own router's fs node, over tunnels just built, while the netDb still names the
  // stopped router) took up to 30 s, its bootstrap gave up waiting after 5 s, so the search knew
  // only that one node. Bootstrap now waits for that answer (Dht.bootstrap drains).
  // The searches trace their lookups (UMBRA_FS_DEBUG): an empty one shows which nodes it asked.
  process.env.UMBRA_FS_DEBUG = '1'
  let found = await umbra(['search', 'holiday', '+video', '--data-dir', dataDir(2), '--json', '--timeout', '90'])
  for (let attempt = 2; found.code === 3 && attempt <= 3; attempt++) {
    t.comment(`search ${attempt - 1} found nothing; searching again. Its trace:\n${found.err}`)
    found = await umbra(['search', 'holiday', '+video', '--data-dir', dataDir(2), '--json', '--timeout', '90'])
  }
  delete process.env.UMBRA_FS_DEBUG
  t.equal(found.code, 0, `search exits 0 (${String(found.code)}): ${found.err} ${found.out}`)
  const hits = found.out.trim().split('\n').map(l => JSON.parse(l) as { uri: string, meta: { name: string, size: number, description: string } })
  t.equal(hits.length, 1, 'one result')
  t.equal(hits[0]!.uri, published.uri)
  t.same(hits[0]!.meta, { name: 'video.bin', size: SIZE, description: 'the beach' })

  const out = join(base, 'copy.bin')
  const got = await umbra(['get', published.uri, '-o', out, '--data-dir', dataDir(2), '--json'])
  t.equal(got.code, 0, `get exits 0 ${got.err}`)
  t.notMatch(got.err, /Warning/, 'get prints no Node warnings (such as too many listeners on its signal)')
  const r = JSON.parse(got.out.trim().split('\n').pop()!) as { size: number, seconds: number }
  t.equal(r.size, SIZE)
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
  t.equal(sha(await readFile(out)), sha(content), 'byte-identical')
  t.comment(`download of 20 MiB: ${r.seconds.toFixed(1)} s (${(SIZE / 1e6 / r.seconds).toFixed(2)} MB/s)`)

  const missing = await umbra(['get', published.uri.replace(/\.[a-z2-7]{52}\./, `.${'a'.repeat(52)}.`), '-o', join(base, 'none'), '--data-dir', dataDir(2)])
  t.equal(missing.code, 1, 'an unknown URI fails')
  t.match(missing.err, /not found/, `with a clear message: ${missing.err.trim().split('\n').pop() ?? ''}`)
})
