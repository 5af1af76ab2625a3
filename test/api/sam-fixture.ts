/** A testnet of in-process routers with a SAM bridge on routers 0 and 1 (free ports, loopback). */
import type { Test } from 'tap'
import * as net from 'node:net'
import { startNetwork } from '../tunnel/fixtures.ts'
import type { Router } from '../../src/router/router.ts'
import { startSamBridge, type SamBridge, type BridgeLimits } from '../../src/api/sam/bridge.ts'
import { routerHost } from '../../src/api/host.ts'

/** What {@link startSamNetwork} returns. */
export interface SamNetwork { routers: Router[], bridges: SamBridge[] }

/**
 * `routers` routers (default 4; tunnels default to 1 hop, 1 per direction) and bridges on
 * routers 0 and 1. Everything is torn down at the end of `t`.
 */
export async function startSamNetwork (t: Test, opts: { routers?: number, hops?: number, users?: Record<string, string>, limits?: Partial<BridgeLimits> } = {}): Promise<SamNetwork> {
  const routers = await startNetwork(t, opts.routers ?? 4, { pool: { length: opts.hops ?? 1, quantity: 1 } })
  const bridges: SamBridge[] = []
  for (const r of routers.slice(0, 2)) {
    const b = await startSamBridge({ host: routerHost(r), port: 0, udpPort: 0, ...(opts.users !== undefined ? { users: opts.users } : {}), ...(opts.limits !== undefined ? { limits: opts.limits } : {}) })
    t.teardown(async () => { await b.close() })
    bridges.push(b)
  }
  return { routers, bridges }
}

/** A line-oriented raw SAM client over one TCP connection, for protocol tests. */
export class RawSam {
  readonly socket: net.Socket
  private buf = ''
  private waiters: Array<() => void> = []
  closed = false

  private constructor (socket: net.Socket) {
    this.socket = socket
    socket.setEncoding('latin1')
    socket.on('data', (d: string) => { this.buf += d; for (const w of this.waiters.splice(0)) w() })
    socket.on('error', () => {})
    socket.on('close', () => { this.closed = true; for (const w of this.waiters.splice(0)) w() })
  }

  static async open (t: Test, port: number): Promise<RawSam> {
    const s = net.connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject) })
    const r = new RawSam(s)
    t.teardown(() => { s.destroy() })
    return r
  }

  write (s: string | Buffer): void { this.socket.write(s) }

  /** The next line (without LF); rejects after `ms` or when the socket closes first. */
  async line (ms = 30_000): Promise<string> {
    const end = Date.now() + ms
    for (;;) {
      const i = this.buf.indexOf('\n')
      if (i >= 0) { const l = this.buf.slice(0, i); this.buf = this.buf.slice(i + 1); return l }
      if (this.closed) throw new Error(`closed; buffered: ${JSON.stringify(this.buf.slice(0, 200))}`)
      const left = end - Date.now()
      if (left <= 0) throw new Error(`no line within ${ms} ms; buffered: ${JSON.stringify(this.buf.slice(0, 200))}`)
      await new Promise<void>((resolve) => { const tm = setTimeout(resolve, left); this.waiters.push(() => { clearTimeout(tm); resolve() }) })
    }
  }

  /** Exactly `n` bytes (latin1 string) once they arrived. */
  async bytes (n: number, ms = 30_000): Promise<string> {
    const end = Date.now() + ms
    while (this.buf.length < n) {
      if (this.closed) throw new Error('closed')
      const left = end - Date.now()
      if (left <= 0) throw new Error(`only ${this.buf.length} of ${n} bytes within ${ms} ms`)
      await new Promise<void>((resolve) => { const tm = setTimeout(resolve, left); this.waiters.push(() => { clearTimeout(tm); resolve() }) })
    }
    const out = this.buf.slice(0, n)
    this.buf = this.buf.slice(n)
    return out
  }

  /** Sends a line and returns the reply line. */
  async cmd (line: string, ms?: number): Promise<string> { this.write(line + '\n'); return await this.line(ms) }

  /** Resolves when the bridge closed the connection (or after `ms`, with false). */
  async waitClosed (ms = 10_000): Promise<boolean> {
    const end = Date.now() + ms
    while (!this.closed && Date.now() < end) await new Promise<void>((resolve) => { const tm = setTimeout(resolve, 50); this.waiters.push(() => { clearTimeout(tm); resolve() }) })
    return this.closed
  }
}

/** Parses `KEY=VALUE` pairs of a reply line (values unquoted). */
export function pairs (line: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of line.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g)) out[m[1]!] = m[2]!.startsWith('"') ? m[2]!.slice(1, -1).replace(/\\(.)/g, '$1') : m[2]!
  return out
}
