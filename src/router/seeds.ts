/**
 * Loads a router's seeds from its config: the seed files (read here, parsed by
 * `seed-file.ts`) and the inline `seeds.infos`. Any problem is a ConfigError naming the file
 * (and line) or the entry, so that a router never starts with a seed list silently cut short.
 */
import { toHex } from '../util/bytes.ts'
import { ConfigError } from '../util/errors.ts'
import { readBounded } from '../util/files.ts'
import { decodeInfos, MAX_SEED_FILE_BYTES, parseSeedFile, type SeedEntry } from './seed-file.ts'

/** Reads every seed file and decodes every inline RouterInfo; exact duplicates kept once. */
export async function loadSeeds (seeds: { files: readonly string[], infos: readonly string[] }): Promise<SeedEntry[]> {
  const out: SeedEntry[] = []
  const seen = new Set<string>()
  const add = (e: SeedEntry): void => {
    const key = toHex(e.bytes)
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
  for (const e of decodeInfos(seeds.infos, i => `seeds.infos[${i}]`)) add(e)
  return out
}
