/**
 * Loads a router's seeds from its config: the seed files (read here, parsed by
 * `seed-file.ts`) and the inline `seeds.infos`. Any problem is a ConfigError naming the file
 * (and line) or the entry, so that a router never starts with a seed list silently cut short.
 */
import { open } from 'node:fs/promises'
import { ConfigError } from '../util/errors.ts'
import { decodeSeedInfo, MAX_SEED_FILE_BYTES, parseSeedFile, type SeedEntry } from './seed-file.ts'

/** Reads every seed file and decodes every inline RouterInfo; exact duplicates kept once. */
export async function loadSeeds (seeds: { files: readonly string[], infos: readonly string[] }): Promise<SeedEntry[]> {
  const out: SeedEntry[] = []
  const seen = new Set<string>()
  const add = (e: SeedEntry): void => {
    const key = Buffer.from(e.bytes).toString('base64')
    if (!seen.has(key)) { seen.add(key); out.push(e) }
  }
  for (const file of seeds.files) {
    const text = await readBounded(file, MAX_SEED_FILE_BYTES)
    let entries: SeedEntry[]
    try {
      entries = parseSeedFile(text)
    } catch (err) {
      throw new ConfigError(`seed file ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
    for (const e of entries) add(e)
  }
  seeds.infos.forEach((b64, i) => {
    try {
      add(decodeSeedInfo(b64.trim()))
    } catch (err) {
      throw new ConfigError(`seeds.infos[${i}]: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
  })
  return out
}

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
