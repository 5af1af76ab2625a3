/**
 * Child process for the datastore tests (run with `node --import tsx`):
 *   write DIR   puts records k<i> in a loop, 8 in flight, printing "i" only once its put resolved;
 *               stops by itself after MAX_WRITES or 30 s (the parent SIGKILLs it long before).
 *   open DIR    tries to open DIR and prints "opened" or the error's name and message.
 */
import { fileURLToPath } from 'node:url'
import { openDataStore } from '../../src/util/datastore.ts'

export const MAX_WRITES = 20_000

/** The key of record `i`. */
export function crashKey (i: number): Uint8Array {
  return new TextEncoder().encode(`k${String(i).padStart(8, '0')}`)
}

/** The value of record `i`: 100..4195 bytes, a pattern that depends on `i` throughout. */
export function crashValue (i: number): Uint8Array {
  const v = new Uint8Array(100 + (i * 397) % 4096)
  for (let j = 0; j < v.length; j++) v[j] = (i * 31 + j * 7 + (j >> 8)) & 0xff
  return v
}

async function write (dir: string): Promise<void> {
  const store = await openDataStore(dir)
  const b = store.bucket('crash')
  const deadline = Date.now() + 30_000
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < MAX_WRITES && Date.now() < deadline) {
      const i = next++
      await b.put(crashKey(i), crashValue(i))
      process.stdout.write(`${i}\n`)
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
  await store.close()
}

async function tryOpen (dir: string): Promise<void> {
  try {
    const store = await openDataStore(dir)
    process.stdout.write('opened\n')
    await store.close()
  } catch (err) {
    process.stdout.write(`${(err as Error).name}: ${(err as Error).message}\n`)
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [mode, dir] = process.argv.slice(2)
  if (dir === undefined) throw new Error('usage: fixtures-datastore.ts write|open DIR')
  await (mode === 'write' ? write(dir) : tryOpen(dir))
}
