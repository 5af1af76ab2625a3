/**
 * `udp://host:port` addresses: parsing, formatting and the few questions the UDP transport
 * asks of an IP address (family, loopback, wildcard). Pure; does no I/O and no DNS — a host
 * name is returned as is (family 0) for the caller to resolve once.
 */
import { isIP } from 'node:net'
import { ConfigError } from '../../src/util/errors.ts'

/** A parsed UDP address. `family` is 0 when `host` is a name still to be resolved. */
export interface UdpAddr {
  readonly host: string
  readonly port: number
  readonly family: 0 | 4 | 6
}

/** Parses `udp://host:port` (IPv6 hosts in brackets). Throws ConfigError on anything else. */
export function parseUdpAddr (addr: string): UdpAddr {
  let u: URL
  try {
    u = new URL(addr)
  } catch (err) {
    throw new ConfigError(`not a udp:// address: ${addr}`, { cause: err })
  }
  if (u.protocol !== 'udp:') throw new ConfigError(`not a udp:// address: ${addr}`)
  if (u.port === '') throw new ConfigError(`udp address needs a port: ${addr}`)
  if ((u.pathname !== '' && u.pathname !== '/') || u.search !== '' || u.username !== '') {
    throw new ConfigError(`udp address takes only host and port: ${addr}`)
  }
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname
  const fam = isIP(host)
  return { host, port: Number(u.port), family: fam === 4 ? 4 : fam === 6 ? 6 : 0 }
}

/** Formats an IP literal and port as `udp://ip:port` (brackets around IPv6). */
export function formatUdpAddr (ip: string, port: number): string {
  return ip.includes(':') ? `udp://[${ip}]:${port}` : `udp://${ip}:${port}`
}

/** Whether `ip` (an IP literal) is a loopback address. */
export function isLoopback (ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1' || ip.startsWith('::ffff:127.')
}

/** Whether `ip` is the unspecified (wildcard) address of its family. */
export function isWildcard (ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::'
}
