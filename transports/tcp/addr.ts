/**
 * `tcp://host:port` addresses: parse and format. Pure; does no DNS and no I/O.
 * IPv6 hosts are written in brackets (`tcp://[::1]:7001`).
 */

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
  let url: URL
  try {
    url = new URL(addr)
  } catch {
    return undefined
  }
  if (url.port === '' || url.hostname === '' || (url.pathname !== '' && url.pathname !== '/')) return undefined
  if (url.search !== '' || url.hash !== '' || url.username !== '') return undefined
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  return { host, port: Number(url.port) }
}

/** Formats a host and port as a `tcp://` address. */
export function formatTcpAddr (host: string, port: number): string {
  return host.includes(':') ? `tcp://[${host}]:${port}` : `tcp://${host}:${port}`
}
