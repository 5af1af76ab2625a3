/**
 * `umbra status`: asks a running router's control API for its state (`GET /api/status`) and
 * prints a readable summary, or the raw JSON with `--json`. The router is found by
 * `<dataDir>/control.json` or named with `--api URL`.
 */
import type { RouterStatus } from '../router/status.ts'
import { ConfigError } from '../util/errors.ts'
import { failure, parse } from './args.ts'
import { queryRouter, TARGET_OPTIONS } from './control-target.ts'

const HELP = `Usage: umbra status [options]

Shows the state of a running router: ID, network, uptime, addresses, peers, links per
transport, netDb sizes, and accounting: load per resource (below 1 spare, 1-2 scarce, 2 full),
requests served free and for credit, drops by reason, and the peers holding most credit. The router is found through control.json in its data directory.

Options:
  --data-dir DIR     the router's data directory (default: as for umbra router)
  --config FILE      the router's config file (to find its data directory)
  --api URL          ask this control API instead, e.g. http://127.0.0.1:7657 or unix:/path
  --json             print the raw JSON status
  -h, --help         show this text

Exit status: 0 shown, 1 no router running or it does not answer (3 s), 2 bad options.
`

/** The `umbra status` command. Returns the exit code. */
export async function runStatus (argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parse(argv, { ...TARGET_OPTIONS, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } })
    if (values.help === true) { process.stdout.write(HELP); return 0 }
    if (positionals.length > 0) throw new ConfigError(`unexpected argument '${positionals[0]}' (see umbra status --help)`)
    const got = await queryRouter(values, '/api/status', 'status')
    if (typeof got === 'number') return got
    process.stdout.write(values.json === true ? JSON.stringify(got.body) + '\n' : formatStatus(got.body as Partial<RouterStatus>, got.target.url))
    return 0
  } catch (err) {
    return failure('status', err)
  }
}

/** A readable summary of a status answer; tolerant of missing fields (another version's router). */
function formatStatus (s: Partial<RouterStatus>, url: string): string {
  const str = (v: unknown): string => typeof v === 'string' ? v.replace(/[^\x20-\x7e]/g, '?') : typeof v === 'number' ? String(v) : '?'
  const lines: string[] = []
  const row = (k: string, v: string): void => { lines.push(`${k.padEnd(10)} ${v}`) }
  row('router', str(s.id))
  row('network', str(s.network))
  row('version', str(s.version))
  row('uptime', typeof s.uptimeMs === 'number' ? formatDuration(s.uptimeMs) : '?')
  const addrs = Array.isArray(s.addresses) ? s.addresses : []
  if (addrs.length === 0) row('listening', '(none)')
  addrs.forEach((a, i) => { row(i === 0 ? 'listening' : '', str(a)) })
  row('peers', str(s.peers))
  const links = typeof s.links === 'object' && s.links !== null ? Object.entries(s.links) : []
  row('links', links.length === 0 ? '?' : links.map(([t, n]) => `${str(t)} ${str(n)}`).join(', '))
  row('netdb', s.netdb !== undefined && s.netdb !== null
    ? `${str(s.netdb.routerInfos)} RouterInfos, ${str(s.netdb.leaseSets)} LeaseSets`
    : '?')
  const a = s.accounting
  if (typeof a === 'object' && a !== null && typeof a.load === 'object' && typeof a.stats === 'object') {
    row('load', Object.entries(a.load).map(([k, v]) => `${str(k)} ${typeof v === 'number' ? v.toFixed(2) : '?'}`).join(', '))
    for (const kind of ['cell', 'build', 'lookup'] as const) {
      const d = a.stats.dropped?.[kind] ?? {}
      const drops = Object.entries(d).filter(([, n]) => typeof n === 'number' && n > 0).map(([r, n]) => `${str(r)} ${str(n)}`)
      row(kind === 'cell' ? 'served' : '', `${kind}s: ${str(a.stats.free?.[kind])} free, ${str(a.stats.paid?.[kind])} for credit, dropped ${drops.length === 0 ? 'none' : drops.join(', ')}`)
    }
    const top = Array.isArray(a.credit) ? a.credit.slice(0, 5) : []
    row('credit', `${str(a.creditPeers)} peers; we offer priority ${str(a.offer)}`)
    for (const c of top) row('', `${str(c.peer).slice(0, 16)}… ${str(c.credit)}`)
  }
  const c = s.cover
  if (typeof c === 'object' && c !== null) {
    const kb = (n: unknown): string => typeof n === 'number' ? `${(n / 1000).toFixed(0)} KB` : '?'
    row('cover', `${c.linkRate > 0 ? `link chaff ${str(c.linkRate)}/s per link` : 'off'}; sent ${str(c.realCellsSent)} real cells (${kb(c.realBytesSent)}), ${str(c.chaffSent)} chaff (${kb(c.chaffBytesSent)}); received ${str(c.chaffReceived)} chaff`)
    row('loops', `${typeof c.loopIntervalMs === 'number' && c.loopIntervalMs > 0 ? `cover every ${str(c.loopIntervalMs)} ms on average per pool` : 'no loop cover'}; sent ${str(c.loopsSent)} (${kb(c.loopBytesSent)}); ${str(c.loopsReturned)} loops and tests came back, ${str(c.loopsLost)} lost (${str(c.loopsLate)} of them came back late)`)
  }
  row('control', url)
  return lines.join('\n') + '\n'
}

/** `3d 04h 05m`, `1h 02m 03s`, `4m 05s`, `12s`. */
function formatDuration (ms: number): string {
  const t = Math.max(0, Math.floor(ms / 1000))
  const d = Math.floor(t / 86400)
  const h = Math.floor(t / 3600) % 24
  const m = Math.floor(t / 60) % 60
  const s = t % 60
  const p = (n: number): string => String(n).padStart(2, '0')
  if (d > 0) return `${d}d ${p(h)}h ${p(m)}m`
  if (h > 0) return `${h}h ${p(m)}m ${p(s)}s`
  if (m > 0) return `${m}m ${p(s)}s`
  return `${s}s`
}
