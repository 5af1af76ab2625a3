/**
 * `<dataDir>/control.json`: how `umbra status` and `umbra router export-info` find a running
 * router's control API. `{"url": "http://127.0.0.1:7657", "pid": 1234}` (or a `unix:/path`
 * URL), written (atomically, 0600) once the API listens and removed on clean shutdown. A file
 * left by a crash is stale: readers find out when nothing answers at its URL.
 */
import { readFileSync, rmSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigError } from '../util/errors.ts'
import { readBounded, writeFileAtomic } from '../util/files.ts'

/** File name inside the data directory. */
const CONTROL_FILE = 'control.json'
/** control.json is far smaller; a larger file is not ours. */
const MAX_CONTROL_FILE_BYTES = 4096

/** What control.json holds. */
export interface ControlFile {
  /** Base URL of the control API. */
  url: string
  /** Process ID of the router that wrote it. */
  pid: number
}

/** Path of control.json in `dataDir`. */
export function controlFilePath (dataDir: string): string { return join(dataDir, CONTROL_FILE) }

/** Writes control.json (temp file, then rename: readers never see half a file). */
export async function writeControlFile (dataDir: string, c: ControlFile): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  await writeFileAtomic(controlFilePath(dataDir), JSON.stringify({ url: c.url, pid: c.pid }) + '\n', 0o600)
}

/**
 * Reads control.json: undefined when absent; ConfigError naming the file when it is malformed.
 */
export async function readControlFile (dataDir: string): Promise<ControlFile | undefined> {
  const file = controlFilePath(dataDir)
  let text: string
  try {
    text = await readBounded(file, MAX_CONTROL_FILE_BYTES)
  } catch (err) {
    if (((err as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined
    throw err
  }
  return parseControlFile(text, file)
}

/** Parses control.json's text; ConfigError naming `where` on anything unexpected. */
function parseControlFile (text: string, where: string): ControlFile {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    throw new ConfigError(`${where} is not valid JSON`)
  }
  const o = v as Partial<ControlFile> | null
  if (typeof o !== 'object' || o === null || typeof o.url !== 'string' || !/^(?:http:\/\/[^/]+|unix:\/.+)$/.test(o.url) ||
    typeof o.pid !== 'number' || !Number.isInteger(o.pid) || o.pid < 1) {
    throw new ConfigError(`${where} does not hold {"url": "http://HOST:PORT" or "unix:/path", "pid": N}`)
  }
  return { url: o.url, pid: o.pid }
}

/** Removes control.json if it is this process's (`pid`): a newer router's file is left alone. */
export async function removeControlFile (dataDir: string, pid: number = process.pid): Promise<void> {
  const c = await readControlFile(dataDir).catch(() => undefined)
  if (c?.pid === pid) await rm(controlFilePath(dataDir), { force: true })
}

/** Synchronous {@link removeControlFile}, for a forced exit. Never throws. */
export function removeControlFileSync (dataDir: string, pid: number = process.pid): void {
  try {
    const c = parseControlFile(readFileSync(controlFilePath(dataDir), 'utf8').slice(0, MAX_CONTROL_FILE_BYTES), CONTROL_FILE)
    if (c.pid === pid) rmSync(controlFilePath(dataDir), { force: true })
  } catch {
    // Nothing to remove, or not ours.
  }
}
