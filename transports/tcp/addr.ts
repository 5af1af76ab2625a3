/**
 * `tcp://host:port` addresses: parse and format. Pure; does no DNS and no I/O.
 * IPv6 hosts are written in brackets (`tcp://[::1]:7001`). The checks are transports/url.ts's.
 */
import { formatTransportUrl, parseTransportUrl } from '../url.ts'

/** A parsed TCP address. */
export interface TcpAddr {
  host: string
  port: number
}

/**
 * Parses `tcp://host:port`; undefined for another scheme, a missing host or port, a path,
 * or a port outside 0..65535 (0 only makes sense for listening).
 */
export function parseTcpAddr (addr: string): TcpAddr | undefined {
  if (!addr.startsWith('tcp://')) return undefined
  try {
    const { host, port } = parseTransportUrl(addr, 'tcp')
    return { host, port }
  } catch {
    return undefined
  }
}

/** Formats a host and port as a `tcp://` address. */
export function formatTcpAddr (host: string, port: number): string {
  return formatTransportUrl('tcp', host, port)
}
