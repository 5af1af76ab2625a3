import t from 'tap'
import { chmod, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadCrypto } from '../../src/crypto/index.ts'
import {
  destinationFromPrivate, generateDestination, loadOrCreateDestinationKeys, loadOrCreateRouterKeys, saveDestinationKeys,
  ROUTER_KEYS_FILE_BYTES
} from '../../src/identity/index.ts'
import { ConfigError } from '../../src/util/errors.ts'

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const crypto = await loadCrypto()
const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o777

/** A fresh `data` path (not yet created) under a temp folder removed after the test. */
async function tempDir (t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const base = await mkdtemp(join(tmpdir(), 'umbra-keystore-'))
  t.teardown(async () => { await rm(base, { recursive: true, force: true }) })
  return join(base, 'data')
}

t.test('router keys: created once with 0600/0700, then loaded unchanged', async t => {
  const dir = await tempDir(t)
  const first = await loadOrCreateRouterKeys(crypto, dir)
  t.equal(first.created, true)
  t.equal(first.path, join(dir, 'router.keys'))
  t.equal(await mode(first.path), 0o600)
  t.equal(await mode(dir), 0o700)
  t.equal((await readFile(first.path)).length, ROUTER_KEYS_FILE_BYTES)
  const second = await loadOrCreateRouterKeys(crypto, dir)
  t.equal(second.created, false)
  t.equal(toHex(second.keys.identity.signingKey), toHex(first.keys.identity.signingKey))
  t.equal(toHex(second.keys.identity.staticKey), toHex(first.keys.identity.staticKey))
  t.equal(toHex(second.keys.signing.secretKey), toHex(first.keys.signing.secretKey))
  t.equal(toHex(crypto.x25519Public(second.keys.static.secretKey)), toHex(first.keys.identity.staticKey))
  t.same(await readdir(dir), ['router.keys'], 'no temp files linger')
})

t.test('corrupt router key files are ConfigErrors naming the file, never replaced', async t => {
  const dir = await tempDir(t)
  const { path } = await loadOrCreateRouterKeys(crypto, dir)
  const original = await readFile(path)
  await truncate(path, 50)
  await t.rejects(loadOrCreateRouterKeys(crypto, dir), { name: 'ConfigError', message: new RegExp(`${path}.*corrupt`) })
  t.equal((await readFile(path)).length, 50, 'left as it was')
  const flipped = Buffer.from(original)
  flipped[20] = (flipped[20] as number) ^ 1
  await writeFile(path, flipped)
  const err = await loadOrCreateRouterKeys(crypto, dir).catch((e: unknown) => e)
  t.ok(err instanceof ConfigError)
  t.match((err as Error).message, /checksum/)
  t.notOk((err as Error).message.includes(flipped.subarray(5, 37).toString('hex')), 'no secret in the message')
  await writeFile(path, new Uint8Array(0))
  await t.rejects(loadOrCreateRouterKeys(crypto, dir), ConfigError, 'empty file')
  await writeFile(path, new Uint8Array(100_000))
  await t.rejects(loadOrCreateRouterKeys(crypto, dir), { name: 'ConfigError', message: /too large/ })
})

t.test('stale temp files from a crash are removed; the key file is untouched', async t => {
  const dir = await tempDir(t)
  const first = await loadOrCreateRouterKeys(crypto, dir)
  await writeFile(join(dir, '.router.keys.tmp-2147483646-abc'), 'half-written') // a writer pid no process has
  const again = await loadOrCreateRouterKeys(crypto, dir)
  t.equal(toHex(again.keys.identity.signingKey), toHex(first.keys.identity.signingKey))
  t.same(await readdir(dir), ['router.keys'])
})

t.test('concurrent first loads agree on one identity', async t => {
  const dir = await tempDir(t)
  const all = await Promise.all([1, 2, 3, 4].map(async () => await loadOrCreateRouterKeys(crypto, dir)))
  t.equal(all.filter(r => r.created).length, 1, 'exactly one created the file')
  t.equal(new Set(all.map(r => toHex(r.keys.identity.signingKey))).size, 1)
  t.same(await readdir(dir), ['router.keys'])
})

t.test('destination keys: 679-byte I2P private key file, 0600, stable, corrupt is ConfigError', async t => {
  const dir = await tempDir(t)
  const a = await loadOrCreateDestinationKeys(crypto, dir, 'chat')
  t.equal(a.created, true)
  t.equal(a.path, join(dir, 'destinations', 'chat.key'))
  t.equal(await mode(a.path), 0o600)
  t.equal(await mode(join(dir, 'destinations')), 0o700)
  const bytes = new Uint8Array(await readFile(a.path))
  t.equal(bytes.length, 679)
  t.equal(toHex(destinationFromPrivate(crypto, bytes).destination.bytes), toHex(a.keys.destination.bytes))
  const b = await loadOrCreateDestinationKeys(crypto, dir, 'chat')
  t.equal(b.created, false)
  t.equal(toHex(b.keys.privateKey), toHex(a.keys.privateKey))
  const other = await loadOrCreateDestinationKeys(crypto, dir, 'files')
  t.not(toHex(other.keys.destination.bytes), toHex(a.keys.destination.bytes))
  await truncate(a.path, 400)
  await t.rejects(loadOrCreateDestinationKeys(crypto, dir, 'chat'), { name: 'ConfigError', message: /chat\.key is corrupt/ })
  for (const bad of ['', '../x', 'a/b', 'x'.repeat(65), 'dot.name']) {
    await t.rejects(loadOrCreateDestinationKeys(crypto, dir, bad), ConfigError, JSON.stringify(bad))
  }
  t.same((await readdir(join(dir, 'destinations'))).sort(), ['chat.key', 'files.key'], 'no temp files linger')
})

t.test('saveDestinationKeys stores imported keys once, never overwrites', async t => {
  const dir = await tempDir(t)
  const k1 = generateDestination(crypto)
  const k2 = generateDestination(crypto)
  const s1 = await saveDestinationKeys(crypto, dir, 'imported', k1)
  t.equal(s1.created, true)
  const s2 = await saveDestinationKeys(crypto, dir, 'imported', k2)
  t.equal(s2.created, false)
  t.equal(toHex(s2.keys.privateKey), toHex(k1.privateKey), 'first keys kept')
})

t.test('unreadable data directory is a ConfigError', { skip: process.getuid?.() === 0 ? 'root ignores permissions' : false }, async t => {
  const dir = await tempDir(t)
  await loadOrCreateRouterKeys(crypto, dir)
  await chmod(join(dir, 'router.keys'), 0o000)
  await t.rejects(loadOrCreateRouterKeys(crypto, dir), { name: 'ConfigError', message: /EACCES/ })
  await chmod(join(dir, 'router.keys'), 0o600)
})
