/** Address helpers shared by the router's config, the local APIs and the UDP transport. */
import { isIP } from 'node:net'

/** Whether `host` is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x) or `localhost`. */
export function isLoopbackHost (host: string): boolean {
  const h = host.toLowerCase()
  if (h === 'localhost') return true
  if (isIP(h) === 4) return h.startsWith('127.')
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h)
  return false
}
