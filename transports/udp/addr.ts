/**
 * `udp://host:port` addresses: parsing, formatting and the few questions the UDP transport
 * asks of an IP address (family, loopback, wildcard). Pure; does no I/O and no DNS — a host
 * name is returned as is (family 0) for the caller to resolve once.
 */
import { isIP } from 'node:net'
import { formatTransportUrl, parseTransportUrl } from '../url.ts'

/** A parsed UDP address. `family` is 0 when `host` is a name still to be resolved. */
export interface UdpAddr {
  readonly host: string
  readonly port: number
  readonly family: 0 | 4 | 6
}

/** Parses `udp://host:port` (IPv6 hosts in brackets). Throws ConfigError on anything else. */
export function parseUdpAddr (addr: string): UdpAddr {
  const { host, port } = parseTransportUrl(addr, 'udp')
  const fam = isIP(host)
  return { host, port, family: fam === 4 ? 4 : fam === 6 ? 6 : 0 }
}

/** Formats an IP literal and port as `udp://ip:port` (brackets around IPv6). */
export function formatUdpAddr (ip: string, port: number): string {
  return formatTransportUrl('udp', ip, port)
}

/** Whether `ip` (an IP literal) is a loopback address. */
export { isLoopbackHost as isLoopback } from '../../src/util/net.ts'

/** Whether `ip` is the unspecified (wildcard) address of its family. */
export function isWildcard (ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::'
}
