/** The `umbra` command as a user runs it: help, bad input, and a testnet that links and cleans up. */
import t from 'tap'
import { spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'

const bin = fileURLToPath(new URL('../../bin/umbra.js', import.meta.url))

async function run (args: string[], opts: { interruptWhen?: RegExp } = {}): Promise<{ code: number | null, out: string, err: string }> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, UMBRA_FROM_SOURCE: '1' } })
    let out = ''
    let err = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`umbra ${args.join(' ')} did not finish: ${out}`)) }, 60_000)
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (opts.interruptWhen?.test(out) === true) { opts.interruptWhen = undefined; child.kill('SIGINT') }
    })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out, err }) })
  })
}

const testnetDirs = async (): Promise<string[]> => (await readdir(tmpdir())).filter(n => n.startsWith('umbra-testnet-'))

t.test('help and bad input', async t => {
  const help = await run(['--help'])
  t.equal(help.code, 0)
  t.match(help.out, /testnet/)
  const sub = await run(['testnet', '--help'])
  t.match(sub.out, /--routers N/)
  const bad = await run(['frobnicate'])
  t.equal(bad.code, 2)
  t.match(bad.err, /unknown command 'frobnicate'/)
  const badN = await run(['testnet', '--routers', 'many'])
  t.equal(badN.code, 1)
  t.match(badN.err, /--routers must be a whole number/)
})

/** Processes whose command line mentions a testnet temp dir (routers left behind). */
async function strayRouters (): Promise<number> {
  let n = 0
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    if (cmd.includes('umbra-testnet-') && cmd.includes('router')) n++
  }
  return n
}

t.test('testnet: routers as processes over UDP, TCP and HTTP converge, then leave nothing behind', async t => {
  const before = await testnetDirs()
  const r = await run(['testnet', '--sam', '127.0.0.1:0', '--socks', '127.0.0.1:0', '--routers', '5', '--exit'])
  t.equal(r.code, 0, r.err)
  t.match(r.out, /netDb converged: every router knows all 5 RouterInfos/)
  const m = /links \(counted at both ends\): udp (\d+), tcp (\d+), http (\d+)/.exec(r.out)
  t.ok(m !== null && Number(m[1]) > 0 && Number(m[2]) > 0 && Number(m[3]) > 0, `links over every transport: ${m?.[0] ?? r.out}`)
  t.match(r.out, /router 0 control API: http:\/\/127\.0\.0\.1:\d+/)
  t.same(await testnetDirs(), before, 'no temp dir left behind')
  t.equal(await strayRouters(), 0, 'no router process left behind')
})

t.test('testnet --in-process converges too', async t => {
  const r = await run(['testnet', '--sam', '127.0.0.1:0', '--socks', '127.0.0.1:0', '--routers', '6', '--in-process', '--exit'])
  t.equal(r.code, 0, r.err)
  t.match(r.out, /netDb converged: every router knows all 6 RouterInfos/)
})

t.test('Ctrl-C stops a running testnet cleanly', async t => {
  const before = await testnetDirs()
  const r = await run(['testnet', '--sam', '127.0.0.1:0', '--socks', '127.0.0.1:0', '--routers', '2'], { interruptWhen: /press Ctrl-C/ })
  t.equal(r.code, 0)
  t.match(r.out, /testnet stopped: 2 routers, temporary data removed/)
  t.same(await testnetDirs(), before, 'no temp dir left behind')
  t.equal(await strayRouters(), 0, 'no router process left behind')
})

t.test('testnet --netns: each router in its own namespace, like separate hosts', async t => {
  if (process.getuid?.() !== 0) { t.plan(0, 'needs root'); return }
  const { execFileSync } = await import('node:child_process')
  const r = await run(['testnet', '--netns', '--routers', '3', '--exit'])
  if (r.code !== 0 && /Operation not permitted|Permission denied/.test(r.err + r.out)) { t.plan(0, 'network namespaces not permitted here'); return }
  t.equal(r.code, 0, r.err + r.out)
  t.match(r.out, /namespaces umbra-\d+-0 umbra-\d+-1 umbra-\d+-2/)
  t.match(r.out, /router 1 {2}[0-9a-f]{12} {2}udp:\/\/10\.211\.\d+\.3:7001/)
  t.match(r.out, /netDb converged: every router knows all 3 RouterInfos/)
  t.notMatch(execFileSync('ip', ['netns', 'list']).toString(), /umbra-/, 'namespaces removed')
  t.notMatch(execFileSync('ip', ['link', 'show']).toString(), /umb\d+br/, 'bridge removed')

  const d = await run(['testnet', '--netns', '--routers', '3', '--delay', '5', '--loss', '1', '--exit'])
  if (/qdisc kind is unknown/.test(d.err)) {
    t.match(d.err, /netem/, 'without the netem kernel module the error says so')
  } else {
    t.equal(d.code, 0, d.err + d.out)
    t.match(d.out, /netDb converged/)
  }
  t.notMatch(execFileSync('ip', ['netns', 'list']).toString(), /umbra-/, 'namespaces removed again')
})
