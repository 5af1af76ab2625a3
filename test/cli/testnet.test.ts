/** The `umbra` command as a user runs it: help, bad input, and a testnet that links and cleans up. */
import t from 'tap'
import { spawn } from 'node:child_process'
import { readdir } from 'node:fs/promises'
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

t.test('testnet links every pair over UDP, TCP and HTTP, then removes its temp data', async t => {
  const before = await testnetDirs()
  const r = await run(['testnet', '--routers', '3', '--exit'])
  t.equal(r.code, 0, r.err)
  for (const scheme of ['udp', 'tcp', 'http']) t.match(r.out, new RegExp(`over ${scheme}: up in`), `a link over ${scheme}`)
  t.match(r.out, /all 3 links up and checked/)
  t.same(await testnetDirs(), before, 'no temp dir left behind')
})

t.test('Ctrl-C stops a running testnet cleanly', async t => {
  const before = await testnetDirs()
  const r = await run(['testnet', '--routers', '2'], { interruptWhen: /press Ctrl-C/ })
  t.equal(r.code, 0)
  t.match(r.out, /testnet stopped; temporary data removed/)
  t.same(await testnetDirs(), before, 'no temp dir left behind')
})
