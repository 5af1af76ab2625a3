/**
 * The credit ledger survives SIGKILL: a process keeps earning credit for two peers and says
 * which credits it has flushed; it is killed without warning, and a new accountant on the same
 * database holds at least what was reported durable (and never more than was earned).
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Accountant } from '../../src/accounting/accountant.ts'
import { openDataStore } from '../../src/util/datastore.ts'

t.test('credit flushed before a SIGKILL is there after a restart', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'umbra-ledger-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('../fixtures/ledger-writer.ts', import.meta.url).pathname, dir],
    { stdio: ['ignore', 'pipe', 'inherit'] })
  let durable = [0, 0]
  let lines = 0
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('the writer said nothing')) }, 30_000)
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^durable (\d+) (\d+)$/.exec(line)
      if (m === null) return
      durable = [Number(m[1]), Number(m[2])]
      // Kill it mid-run, after a few flushes, while it keeps earning.
      if (++lines === 8) { clearTimeout(timer); child.kill('SIGKILL'); resolve() }
    })
  })
  await new Promise(resolve => child.once('exit', resolve))
  t.ok(durable[0]! > 0, `credit was earned and flushed (${durable.join(', ')})`)
  const store = await openDataStore(join(dir, 'db'))
  t.teardown(async () => { await store.close() })
  const acct = new Accountant({}, undefined, store.bucket('credit'))
  const a = acct.ledger.credit('aa'.repeat(32))
  const b = acct.ledger.credit('bb'.repeat(32))
  t.ok(a >= durable[0]!, `peer A: ${a} >= ${durable[0]} reported durable`)
  t.ok(b >= durable[1]!, `peer B: ${b} >= ${durable[1]} reported durable`)
  t.ok(a <= 3 * b + 3 && a >= 3 * b - 3, 'the two records are consistent with each other (A earns 3 per B\'s 1)')
})
