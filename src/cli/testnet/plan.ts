/**
 * The shape of a local testnet, decided before anything starts (pure): which transports each
 * router listens on, so that the network mixes UDP, TCP and HTTP yet every pair can link.
 * A dialler takes the cheapest transport its target listens on, so: router 0 (everyone's
 * seed, so everyone links to it) listens on HTTP only; odd routers on UDP, even ones on TCP,
 * each with HTTP as a fallback. Links to router 0 run over HTTP, between odd routers over UDP,
 * between even ones over TCP.
 */

/** One router of the plan. */
export interface PlannedRouter {
  index: number
  /** Listen addresses on `host` with free ports. */
  listen: string[]
}

/** Listen addresses for `n` routers on `hosts[i]` (one host each, or all on 127.0.0.1). */
export function planTestnet (n: number, hosts: readonly string[] = []): PlannedRouter[] {
  const out: PlannedRouter[] = []
  for (let i = 0; i < n; i++) {
    const h = hosts[i] ?? '127.0.0.1'
    const port = hosts.length > 0 ? (p: number): string => String(p) : (): string => '0'
    const udp = `udp://${h}:${port(7001)}`
    const tcp = `tcp://${h}:${port(7002)}`
    const http = `http://${h}:${port(7003)}/umbra`
    const listen = i === 0 ? [http] : i % 2 === 1 ? [udp, http] : [tcp, http]
    out.push({ index: i, listen })
  }
  return out
}
