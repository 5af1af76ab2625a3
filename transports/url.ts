/**
 * Transport addresses are URLs, `<scheme>://host[:port][/path]`. One parser and one formatter
 * for every transport, so the checks (scheme, port, no credentials, query or fragment, IPv6
 * brackets) live once. Pure; does no DNS: a host name is returned as written.
 */
import { ConfigError } from '../src/util/errors.ts'

/** A parsed transport address; IPv6 hosts without their brackets. */
export interface TransportUrl {
  readonly host: string
  readonly port: number
  /** The path without trailing slashes ('' when none). */
  readonly path: string
}

/**
 * Parses `addr` as a `<scheme>://` address. Without `path`, a path is refused; without
 * `defaultPort`, a port is required. Throws ConfigError saying what is wrong.
 */
export function parseTransportUrl (addr: string, scheme: string, opts: { path?: boolean, defaultPort?: number } = {}): TransportUrl {
  let u: URL
  try {
    u = new URL(addr)
  } catch (err) {
    throw new ConfigError(`not a ${scheme}:// address: ${addr}`, { cause: err })
  }
  if (u.protocol !== `${scheme}:` || u.hostname === '') throw new ConfigError(`not a ${scheme}:// address: ${addr}`)
  if (u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '') {
    throw new ConfigError(`${scheme} address takes only host, port${opts.path === true ? ' and path' : ''}: ${addr}`)
  }
  const path = u.pathname.replace(/\/+$/, '')
  if (path !== '' && opts.path !== true) throw new ConfigError(`${scheme} address takes only host and port: ${addr}`)
  if (u.port === '' && opts.defaultPort === undefined) throw new ConfigError(`${scheme} address needs a port: ${addr}`)
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname
  return { host, port: u.port === '' ? opts.defaultPort! : Number(u.port), path }
}

/** Formats a transport address (brackets around IPv6 hosts). */
export function formatTransportUrl (scheme: string, host: string, port: number, path = ''): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}${path}`
}
