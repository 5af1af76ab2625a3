/** A small network of routers on 127.0.0.1 over mixed transports, for tunnel tests. */
import type { Test } from 'tap'
import { startRouter } from '../router/fixtures.ts'
import type { Router, RouterConfig } from '../../src/router/router.ts'
import type { DestinationSession } from '../../src/router/session.ts'
import type { StreamSocket } from '../../src/streaming/socket.ts'
import { RecordKind } from '../../src/netdb/messages.ts'

/** Listen addresses by router index: TCP, UDP and HTTP in turn (each also on HTTP, so all can meet). */
export function mixedListen (i: number): string[] {
  const kinds = [['tcp://127.0.0.1:0'], ['udp://127.0.0.1:0'], ['http://127.0.0.1:0/umbra']]
  return kinds[i % 3]!
}

/** Polls `cond` every 20 ms until it holds or `ms` pass. */
export async function until (cond: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms
  while (!cond() && Date.now() < end) await new Promise(resolve => setTimeout(resolve, 20))
  return cond()
}

/** Starts `n` routers seeded from router 0 and waits until every one knows every RouterInfo. */
export async function startNetwork (t: Test, n: number, extra: Partial<RouterConfig> = {}): Promise<Router[]> {
  const first = await startRouter(t, { listen: mixedListen(0), netdb: { exploreMs: 200 }, ...extra })
  const rest = await Promise.all(Array.from({ length: n - 1 }, async (_, i) =>
    await startRouter(t, { listen: mixedListen(i + 1), seeds: [first.info.raw], netdb: { exploreMs: 200 }, ...extra })))
  const all = [first, ...rest]
  const ok = await until(() => all.every(r => r.netdb.store.count(RecordKind.ROUTER_INFO) >= n), 20_000)
  if (!ok) throw new Error(`netDb did not converge: ${all.map(r => r.netdb.store.count(RecordKind.ROUTER_INFO)).join(',')}`)
  return all
}

/**
 * Accepts one stream on `port` of `dest` and collects what it carries; `done` resolves when the
 * sender ends it (which is answered with an end), and rejects on a stream error.
 */
export function collectStream (dest: DestinationSession, port: number): { chunks: Buffer[], done: Promise<void> } {
  const chunks: Buffer[] = []
  const done = new Promise<void>((resolve, reject) => {
    dest.listen(port, (s) => {
      s.on('data', (c: Buffer) => chunks.push(c))
      s.once('end', () => { s.end(); resolve() })
      s.once('error', reject)
    })
  })
  return { chunks, done }
}

/** Everything the stream delivers until its end (without destroying it, as `for await` would). */
export async function drain (s: StreamSocket): Promise<Buffer> {
  const parts: Buffer[] = []
  return await new Promise((resolve, reject) => {
    s.on('data', (c: Buffer) => { parts.push(c) })
    s.once('end', () => { resolve(Buffer.concat(parts)) })
    s.once('error', reject)
  })
}
