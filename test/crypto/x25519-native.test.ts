// X25519 key generation cannot hang the process: thousands of key pairs, each agreed with both
// ways, in a child process that must finish in time. Key pairs made with OpenSSL's
// generateKeyPairSync and then exported as JWK (the suite's old way) deadlocked on Node 20 when
// a GC during the export destroyed the finished generation job (src/crypto/x25519-native.ts):
// with a 1 MB young generation, two such loops of 20 000 both hung within 40 s, every time tried.
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const FIXTURE = fileURLToPath(new URL('../fixtures/x25519-loop.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const N = 20_000

/** Runs the loop of N key pairs in a child process with a 1 MB semi-space; its exit code and output, or 'killed' after 90 s. */
async function loop (): Promise<{ killed: boolean, code: number | null, out: string, err: string }> {
  const child = spawn(process.execPath, ['--max-semi-space-size=1', '--import', 'tsx', FIXTURE, String(N)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  let killed = false
  const timer = setTimeout(() => { killed = true; child.kill('SIGKILL') }, 90_000)
  const code = await new Promise<number | null>(resolve => child.once('close', resolve))
  clearTimeout(timer)
  return { killed, code, out, err }
}

t.test(`${N} X25519 key pairs in a row, each agreed with both ways, in two processes at once: both end`, async t => {
  const runs = await Promise.all([loop(), loop()])
  for (const [i, r] of runs.entries()) {
    t.notOk(r.killed, `process ${i + 1} finished within 90 s (a deadlocked one would not)`)
    t.equal(r.code, 0, `process ${i + 1} exited 0${r.err === '' ? '' : `: ${r.err}`}`)
    t.equal(r.out.trim(), `ok ${N}`, `process ${i + 1}: every agreement matched on both sides`)
  }
})
