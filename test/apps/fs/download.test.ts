/**
 * The download's final check (`leavesOnDiskMatch`): the file read back from disk must hash leaf
 * by leaf to the keys of the verified tree. A changed byte in any leaf, a short file or a leaf
 * without a key fails it; files of every shape (empty, one partial leaf, exactly one leaf, more
 * leaves than one read holds) pass it.
 */
import t from 'tap'
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadCrypto } from '../../../src/crypto/index.ts'
import { BLOCK_SIZE, encryptBlock } from '../../../src/apps/fs/chk.ts'
import { LeafKeys, leavesOnDiskMatch } from '../../../src/apps/fs/download.ts'

const crypto = await loadCrypto()

/** The keys of a file's leaves, as the tree gives them; without `skip` (a leaf index) recorded. */
function leafKeys (content: Uint8Array, skip = -1): LeafKeys {
  const n = Math.max(1, Math.ceil(content.length / BLOCK_SIZE))
  const keys = new LeafKeys(n)
  for (let i = 0; i < n; i++) {
    if (i !== skip) keys.set(i, encryptBlock(crypto, content.subarray(i * BLOCK_SIZE, Math.min((i + 1) * BLOCK_SIZE, content.length))).chk.key)
  }
  return keys
}

t.test('leavesOnDiskMatch: what was written passes; any change, a short file or a missing key fails', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'umbra-dl-check-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const check = async (path: string, keys: LeafKeys, size: number): Promise<boolean> => {
    const fh = await open(path, 'r')
    try { return await leavesOnDiskMatch(fh, crypto, keys, size) } finally { await fh.close() }
  }
  for (const size of [0, 100, BLOCK_SIZE, 33 * BLOCK_SIZE + 5, 64 * BLOCK_SIZE]) {
    const content = new Uint8Array(crypto.randomBytes(size))
    const keys = leafKeys(content)
    const path = join(dir, `f${size}`)
    await writeFile(path, content)
    t.ok(await check(path, keys, size), `${size} bytes as written`)
    if (size === 0) continue
    for (const at of [0, size - 1, Math.floor(size / 2)]) {
      const bad = content.slice()
      bad[at]! ^= 0x40
      await writeFile(path, bad)
      t.notOk(await check(path, keys, size), `${size} bytes, byte ${at} changed`)
    }
    await writeFile(path, content.subarray(0, size - 1))
    t.notOk(await check(path, keys, size), `${size} bytes, the last byte missing on disk`)
    await writeFile(path, content)
    t.notOk(await check(path, leafKeys(content, keys.count - 1), size), `${size} bytes, the last leaf without a key`)
    t.notOk(await check(path, new LeafKeys(keys.count + 1), size), `${size} bytes, keys for a different leaf count`)
  }
})
