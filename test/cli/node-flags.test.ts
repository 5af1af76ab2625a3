/**
 * The V8 heap flags of long-running processes (src/cli/node-flags.ts): every place that starts
 * node for a router or the benchmarks passes the same flags, and node accepts them.
 */
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { NODE_HEAP_FLAGS, routerNodeFlags } from '../../src/cli/node-flags.ts'
import { routerCommand } from '../../src/cli/testnet/procs.ts'
import { ROUTER_OPTIONS } from '../../src/cli/router.ts'
import { parse } from '../../src/cli/args.ts'

const root = new URL('../../', import.meta.url)

t.test('the flags are a 64 MB floor under the old generation and 4 MB semi-spaces', async (t) => {
  t.same([...NODE_HEAP_FLAGS], ['--initial-old-space-size=64', '--max-semi-space-size=4'])
})

t.test('bin/umbra.js starts node with the flags (through sh, which any Unix has)', async (t) => {
  const [first, second] = (await readFile(new URL('bin/umbra.js', root), 'utf8')).split('\n')
  t.equal(first, '#!/bin/sh')
  t.equal(second, `":" //; exec node ${NODE_HEAP_FLAGS.join(' ')} "$0" "$@"`)
})

t.test('bin/umbra.js run as a program gets the flags and its arguments', async (t) => {
  // The shell line execs node on the script; `--help` is answered by the CLI itself.
  const { stdout } = await promisify(execFile)(fileURLToPath(new URL('bin/umbra.js', root)), ['--help'],
    { timeout: 60_000, env: { ...process.env, UMBRA_FROM_SOURCE: '1' } })
  t.match(stdout, /Usage: umbra <command>/)
})

t.test('npm start and npm run bench pass the flags', async (t) => {
  const pkg = JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> }
  for (const script of ['start', 'bench']) t.ok(pkg.scripts[script]!.startsWith(`node ${NODE_HEAP_FLAGS.join(' ')} `), script)
})

t.test('testnet routers get the flags before the script', async (t) => {
  const cmd = routerCommand({ index: 0, dataDir: '/tmp/x', listen: ['tcp://127.0.0.1:0'], network: 'n', control: '127.0.0.1:0', seedFiles: [], sam: 'off', socks: 'off' })
  t.equal(cmd[0], process.execPath)
  const script = cmd.findIndex(a => a.endsWith('umbra.js'))
  t.ok(script > 0)
  for (const f of NODE_HEAP_FLAGS) {
    const at = cmd.indexOf(f)
    t.ok(at > 0 && at < script, `${f} is a node flag, not a router argument`)
  }
  t.equal(cmd[script + 1], 'router')
})

t.test('testnet routers take fs seeds that start with a dash (base64 destinations may)', async (t) => {
  const seeds = ['-abc~def', 'ghi-jkl']
  const cmd = routerCommand({ index: 0, dataDir: '/tmp/x', listen: ['tcp://127.0.0.1:0'], network: 'n', control: '127.0.0.1:0', seedFiles: [], sam: 'off', socks: 'off', fs: { seeds } })
  const argv = cmd.slice(cmd.indexOf('router') + 1)
  t.same(parse(argv, ROUTER_OPTIONS).values['fs-seed'], seeds, 'both reach the router as they are')
  t.throws(() => parse(['--fs-seed', '-abc~def'], ROUTER_OPTIONS), /ambiguous/, 'as two arguments, the dashed one would not')
})

t.test('router processes get the heap flags, and a CPU profile only when a benchmark asks', async (t) => {
  t.same(routerNodeFlags({}), [...NODE_HEAP_FLAGS])
  t.same(routerNodeFlags({ UMBRA_BENCH_PROF: '/tmp/prof' }), [...NODE_HEAP_FLAGS, '--cpu-prof', '--cpu-prof-dir=/tmp/prof'])
})

t.test('node accepts the flags', async (t) => {
  // A flag node did not know would end it with "bad option" before the script ran.
  const { stdout } = await promisify(execFile)(process.execPath, [...NODE_HEAP_FLAGS, '-e', 'console.log(JSON.stringify(process.execArgv))'], { timeout: 20_000 })
  t.same((JSON.parse(stdout) as string[]).slice(0, NODE_HEAP_FLAGS.length), NODE_HEAP_FLAGS)
})
