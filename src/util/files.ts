/**
 * Small, bounded file helpers for the router's and the apps' own files (config, seed files,
 * control.json, app keys): a size-capped read with errors that name the file, and an atomic
 * write (temp file, rename).
 */
import { open, rename, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { ConfigError } from './errors.ts'

/** A text file of at most `max` bytes; ConfigError naming the file otherwise. */
export async function readBounded (file: string, max: number): Promise<string> {
  let fh
  try {
    fh = await open(file, 'r')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new ConfigError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code ?? String(err)}`, { cause: err })
  }
  try {
    const buf = Buffer.alloc(max + 1)
    let n = 0
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null)
      if (bytesRead === 0) break
      n += bytesRead
    }
    if (n > max) throw new ConfigError(`${file} is larger than ${max} bytes`)
    return buf.subarray(0, n).toString('utf8')
  } catch (err) {
    if (err instanceof ConfigError) throw err
    const code = (err as NodeJS.ErrnoException).code
    throw new ConfigError(`cannot read ${file}: ${code ?? String(err)}`, { cause: err })
  } finally {
    await fh.close()
  }
}

/** Writes `text` to `file` atomically: a temporary file beside it, then a rename over it. */
export async function writeFileAtomic (file: string, text: string, mode: number): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`)
  await writeFile(tmp, text, { mode })
  await rename(tmp, file)
}
