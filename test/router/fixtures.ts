/** Starts routers on 127.0.0.1 with temp data dirs, and black-hole endpoints for fallback tests. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dgram from 'node:dgram'
import * as net from 'node:net'
import type { Test } from 'tap'
import { Router, type RouterConfig } from '../../src/router/router.ts'

export const ALL_LISTEN = ['udp://127.0.0.1:0', 'tcp://127.0.0.1:0', 'http://127.0.0.1:0/umbra']

/** A router with a fresh data dir, stopped and removed at teardown. */
export async function startRouter (t: Test, extra: Partial<RouterConfig> = {}): Promise<Router> {
  const dataDir = await mkdtemp(join(tmpdir(), 'umbra-test-'))
  const r = await Router.start({ dataDir, listen: ALL_LISTEN, network: 'test', ...extra })
  t.teardown(async () => { await r.stop(); await rm(dataDir, { recursive: true, force: true }) })
  return r
}

/** A UDP socket that swallows everything: a "blocked" UDP path. */
export async function udpBlackHole (t: Test): Promise<string> {
  const s = dgram.createSocket('udp4')
  s.on('message', () => {})
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve))
  t.teardown(() => { s.close() })
  return `udp://127.0.0.1:${s.address().port}`
}

/** A TCP server that accepts and never answers: a "blocked" TCP path. */
export async function tcpBlackHole (t: Test): Promise<string> {
  const socks = new Set<net.Socket>()
  const s = net.createServer((c) => { socks.add(c); c.on('error', () => {}); c.on('data', () => {}) })
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const c of socks) c.destroy(); s.close() })
  return `tcp://127.0.0.1:${(s.address() as net.AddressInfo).port}`
}
