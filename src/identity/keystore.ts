/**
 * Persistent keys in a data directory: load them if present, create them once otherwise.
 *
 * Files: `<dataDir>/router.keys` (router secrets, layout below) and
 * `<dataDir>/destinations/<name>.key` (a destination's 679-byte I2P private key file).
 * Directories are created 0700 and files 0600. A key file is written to a temporary file,
 * fsynced, linked into place only if no file of that name exists (never overwriting), and the
 * directory fsynced, so a crash leaves either no key file or a whole one. A file that exists but
 * does not parse is a ConfigError naming the file: it is never replaced silently. Error messages
 * never contain key material.
 */
import { link, mkdir, open, readdir, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { CryptoSuite } from '../crypto/types.ts'
import { Reader } from '../wire/reader.ts'
import { ConfigError, DecodeError, UmbraError } from '../util/errors.ts'
import { routerKeysFromSecrets, type RouterKeys } from './router-identity.ts'
import { destinationFromPrivate, generateDestination, type DestinationKeys } from './destination.ts'

/** File name of the router's keys inside the data directory. */
export const ROUTER_KEYS_FILE = 'router.keys'
/** Folder of named destination keys inside the data directory. */
export const DESTINATIONS_DIR = 'destinations'
const MAGIC = Uint8Array.of(0x55, 0x4d, 0x52, 0x4b) // "UMRK"
const ROUTER_KEYS_VERSION = 1
/** Size of `router.keys`. */
export const ROUTER_KEYS_FILE_BYTES = 4 + 1 + 32 + 32 + 32
const MAX_KEY_FILE_BYTES = 64 * 1024
const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/

/** Keys loaded from (or just written to) a file. */
export interface StoredKeys<T> {
  readonly keys: T
  /** Whether this call created the file. */
  readonly created: boolean
  /** The key file's path. */
  readonly path: string
}

/**
 * `router.keys`, 101 bytes:
 * ```
 * 4   magic "UMRK"
 * u8  version = 1
 * 32  Ed25519 seed (signing key)
 * 32  X25519 secret key (static key)
 * 32  SHA-256 of the 69 bytes above (detects corruption)
 * ```
 */
function encodeRouterKeys (crypto: CryptoSuite, k: RouterKeys): Uint8Array {
  const out = new Uint8Array(ROUTER_KEYS_FILE_BYTES)
  out.set(MAGIC)
  out[4] = ROUTER_KEYS_VERSION
  out.set(k.signing.secretKey.subarray(0, 32), 5)
  out.set(k.static.secretKey, 37)
  out.set(crypto.sha256(out.subarray(0, 69)), 69)
  return out
}

/** Parses `router.keys`; returns a reason (no secrets) instead of throwing. */
function decodeRouterKeys (crypto: CryptoSuite, bytes: Uint8Array): RouterKeys | string {
  if (bytes.length !== ROUTER_KEYS_FILE_BYTES) return `expected ${ROUTER_KEYS_FILE_BYTES} bytes, found ${bytes.length}`
  const r = new Reader(bytes)
  if (!crypto.equal(r.bytes(4), MAGIC)) return 'not an Umbra router key file'
  const version = r.u8()
  if (version !== ROUTER_KEYS_VERSION) return `unknown version ${version}`
  const seed = r.bytes(32)
  const stat = r.bytes(32)
  if (!crypto.equal(r.bytes(32), crypto.sha256(bytes.subarray(0, 69)))) return 'checksum mismatch'
  return routerKeysFromSecrets(crypto, seed, stat)
}

async function ensureDir (dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
  } catch (err) {
    throw new ConfigError(`cannot create directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err })
  }
}

async function readIfExists (path: string): Promise<Uint8Array | undefined> {
  try {
    const fh = await open(path, 'r')
    try {
      const { size } = await fh.stat()
      if (size > MAX_KEY_FILE_BYTES) throw new ConfigError(`key file ${path} is ${size} bytes, too large to be a key file`)
      return new Uint8Array(await fh.readFile())
    } finally {
      await fh.close()
    }
  } catch (err) {
    if (err instanceof UmbraError) throw err
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ConfigError(`cannot read key file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err })
  }
}

/** Whether process `pid` is alive (a temp file of a live writer is not stale). */
function alive (pid: number): boolean {
  if (pid === process.pid) return true
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/**
 * Removes temporary files of `file` left in `dir` by a crash during an earlier write: those
 * whose writer process (the pid in the name) is gone. A live writer's temp file is left alone.
 */
async function removeStaleTemps (dir: string, file: string): Promise<void> {
  const prefix = `.${file}.tmp-`
  for (const n of await readdir(dir)) {
    if (!n.startsWith(prefix)) continue
    const pid = Number(n.slice(prefix.length).split('-')[0])
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) continue
    await unlink(join(dir, n)).catch(() => { /* gone already */ })
  }
}

/**
 * Writes `bytes` to `dir/file` atomically, only if that file does not exist yet. Returns false
 * (writing nothing) if it does. Temp file: `.<file>.tmp-<pid>-<random>`, mode 0600.
 */
async function writeNewFile (crypto: CryptoSuite, dir: string, file: string, bytes: Uint8Array): Promise<boolean> {
  const final = join(dir, file)
  const tmp = join(dir, `.${file}.tmp-${process.pid}-${Buffer.from(crypto.randomBytes(6)).toString('hex')}`)
  try {
    const fh = await open(tmp, 'wx', 0o600)
    try {
      await fh.writeFile(bytes)
      await fh.sync()
    } finally {
      await fh.close()
    }
    let placed = true
    try {
      await link(tmp, final) // fails with EEXIST instead of replacing an existing key file
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EEXIST') placed = false
      else if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS') await rename(tmp, final) // no hard links here
      else throw err
    }
    const dh = await open(dir, 'r')
    try { await dh.sync() } finally { await dh.close() }
    return placed
  } catch (err) {
    if (err instanceof UmbraError) throw err
    throw new ConfigError(`cannot write key file ${final}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err })
  } finally {
    await unlink(tmp).catch(() => { /* already renamed or never created */ })
  }
}

/** Loads `dir/file` with `parse`, or creates it from `make()`; a race with another creator loads theirs. */
async function loadOrCreate<T> (crypto: CryptoSuite, dir: string, file: string, what: string,
  parse: (b: Uint8Array) => T | string, make: () => { keys: T, bytes: Uint8Array }): Promise<StoredKeys<T>> {
  await ensureDir(dir)
  await removeStaleTemps(dir, file)
  const path = join(dir, file)
  for (let attempt = 0; attempt < 2; attempt++) {
    const existing = await readIfExists(path)
    if (existing !== undefined) {
      const keys = parse(existing)
      if (typeof keys === 'string') {
        throw new ConfigError(`${what} file ${path} is corrupt (${keys}); restore it from a backup, or move it away to create new keys`)
      }
      return { keys, created: false, path }
    }
    const made = make()
    if (await writeNewFile(crypto, dir, file, made.bytes)) return { keys: made.keys, created: true, path }
  }
  throw new ConfigError(`${what} file ${path} keeps appearing and disappearing`)
}

/**
 * Loads the router's keys from `<dataDir>/router.keys`, creating them (and `dataDir`, 0700)
 * on first use. Throws ConfigError, naming the file, if it exists but is corrupt.
 */
export async function loadOrCreateRouterKeys (crypto: CryptoSuite, dataDir: string): Promise<StoredKeys<RouterKeys>> {
  return await loadOrCreate(crypto, dataDir, ROUTER_KEYS_FILE, 'router key',
    b => decodeRouterKeys(crypto, b),
    () => {
      const keys = routerKeysFromSecrets(crypto, crypto.randomBytes(32), crypto.randomBytes(32))
      return { keys, bytes: encodeRouterKeys(crypto, keys) }
    })
}

/** Checks a destination key name (`[A-Za-z0-9_-]{1,64}`); ConfigError otherwise. */
function checkName (name: string): void {
  if (!NAME_RE.test(name)) throw new ConfigError('destination key names must match [A-Za-z0-9_-]{1,64}')
}

/**
 * Loads the destination keys `<dataDir>/destinations/<name>.key` (the 679-byte I2P private key
 * file), generating them on first use. Throws ConfigError, naming the file, if it is corrupt,
 * or if it holds a destination type Umbra does not support.
 */
export async function loadOrCreateDestinationKeys (crypto: CryptoSuite, dataDir: string, name: string): Promise<StoredKeys<DestinationKeys>> {
  return await storeDestination(crypto, dataDir, name, () => generateDestination(crypto))
}

/**
 * Stores existing destination keys (e.g. an imported I2P private key) as `<name>.key`, unless
 * that name is taken: then the stored keys are returned with `created: false`, and the caller
 * compares them if it cares.
 */
export async function saveDestinationKeys (crypto: CryptoSuite, dataDir: string, name: string, keys: DestinationKeys): Promise<StoredKeys<DestinationKeys>> {
  return await storeDestination(crypto, dataDir, name, () => keys)
}

async function storeDestination (crypto: CryptoSuite, dataDir: string, name: string, make: () => DestinationKeys): Promise<StoredKeys<DestinationKeys>> {
  checkName(name)
  return await loadOrCreate(crypto, join(dataDir, DESTINATIONS_DIR), `${name}.key`, 'destination key',
    b => {
      try { return destinationFromPrivate(crypto, b) } catch (err) { if (err instanceof DecodeError) return err.message; throw err }
    },
    () => {
      const keys = make()
      return { keys, bytes: keys.privateKey }
    })
}
