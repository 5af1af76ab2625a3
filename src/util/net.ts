/** Address helpers shared by the router's config, the local APIs and the UDP transport. */
import { connect, isIP } from 'node:net'
import { lstat, unlink } from 'node:fs/promises'
import { isAbsolute } from 'node:path'
import { ConfigError } from './errors.ts'

/** Whether `host` is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x) or `localhost`. */
export function isLoopbackHost (host: string): boolean {
  const h = host.toLowerCase()
  if (h === 'localhost') return true
  if (isIP(h) === 4) return h.startsWith('127.')
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h)
  return false
}

/**
 * Before listening on a Unix socket: removes a socket file nobody listens on (left by a crash);
 * refuses (ConfigError, naming `what`) a relative path, a live socket or a non-socket.
 */
export async function clearStaleSocket (path: string, what: string): Promise<void> {
  if (!isAbsolute(path)) throw new ConfigError(`${what}: Unix socket path must be absolute, got '${path}'`)
  const st = await lstat(path).catch(() => undefined)
  if (st === undefined) return
  if (!st.isSocket()) throw new ConfigError(`${what}: ${path} exists and is not a socket`)
  const live = await new Promise<boolean>((resolve) => {
    const c = connect({ path }, () => { c.destroy(); resolve(true) })
    c.on('error', () => { resolve(false) })
  })
  if (live) throw new ConfigError(`${what} cannot listen on unix:${path}: a process is listening there`)
  await unlink(path)
}
