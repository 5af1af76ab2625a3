/**
 * Keyword search: each word's keyword blocks are collected from the nodes nearest its query and
 * opened with the word (a block that does not open, or names a bad URI, is skipped and counted).
 * Several words: any may match; a word written `+word` must match. Results are merged by URI,
 * those matching more words first.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { CryptoSuite } from '../../crypto/index.ts'
import { ConfigError } from '../../util/errors.ts'
import type { Dht } from './dht.ts'
import { keywordQuery, normalizeKeyword, openKBlock } from './kblock.ts'
import type { FileMeta } from './meta.ts'
import { parseUri } from './uri.ts'

/** Searches of one word at most (the first and the retries). */
export const MAX_ASKS = 16

/** One search hit. */
export interface SearchResult {
  uri: string
  meta: FileMeta
  /** The words whose blocks named it. */
  matched: string[]
}

/** Results and how many blocks were thrown away. */
export interface SearchReport {
  results: SearchResult[]
  /** Keyword blocks that failed to open or held a bad URI (forged or corrupt). */
  rejected: number
}

/** The words of a query: `+word` marks a mandatory one. ConfigError for none or a bad word. */
export function parseQuery (words: readonly string[]): Array<{ word: string, required: boolean }> {
  const out = new Map<string, boolean>()
  for (const w of words) {
    for (const part of w.split(/\s+/).filter(p => p !== '')) {
      const required = part.startsWith('+')
      const word = normalizeKeyword(part)
      out.set(word, (out.get(word) ?? false) || required)
    }
  }
  if (out.size === 0) throw new ConfigError('give at least one keyword')
  if (out.size > 16) throw new ConfigError('at most 16 keywords at once')
  return [...out].map(([word, required]) => ({ word, required }))
}

/**
 * The keyword blocks under one query. If none came back while some nearest node did not
 * answer (right after a router went away, its neighbours' tunnels are still healing), it asks
 * again after 2, 4, 8, then every 10 s, while `signal` allows (at most {@link MAX_ASKS} times in
 * all); an answer of nothing from everyone is final at once.
 */
async function searchWord (dht: Dht, query: Uint8Array, signal?: AbortSignal): Promise<Uint8Array[]> {
  let r = await dht.search(query, signal)
  for (let ask = 1, wait = 2000; r.blocks.length === 0 && r.unanswered > 0 && ask < MAX_ASKS; ask++, wait = Math.min(2 * wait, 10_000)) {
    try {
      await sleep(wait, undefined, { signal })
      r = await dht.search(query, signal, true)
    } catch {
      break
    }
  }
  return r.blocks
}

/** Searches the DHT for `words`. */
export async function search (dht: Dht, crypto: CryptoSuite, words: readonly string[], signal?: AbortSignal): Promise<SearchReport> {
  const query = parseQuery(words)
  const byUri = new Map<string, SearchResult>()
  let rejected = 0
  await Promise.all(query.map(async ({ word }) => {
    const blocks = await searchWord(dht, keywordQuery(crypto, word), signal)
    for (const b of blocks) {
      try {
        const p = openKBlock(crypto, word, b)
        parseUri(p.uri)
        const hit = byUri.get(p.uri) ?? { uri: p.uri, meta: p.meta, matched: [] }
        if (!hit.matched.includes(word)) hit.matched.push(word)
        byUri.set(p.uri, hit)
      } catch {
        rejected++
      }
    }
  }))
  const required = query.filter(q => q.required).map(q => q.word)
  const results = [...byUri.values()]
    .filter(r => required.every(w => r.matched.includes(w)))
    .sort((a, b) => b.matched.length - a.matched.length || (a.meta.name ?? '').localeCompare(b.meta.name ?? ''))
  return { results, rejected }
}
