/**
 * What each cover preset costs (issue #6): a network of router processes on 127.0.0.1 (TCP)
 * runs with the preset; two destinations with 3-hop tunnels both ways stream `mb` MB, and we
 * report the stream's throughput next to the `off` preset's, plus what the routers send while
 * idle (chaff and loops, per router, KB/s, taken from `umbra status`'s counters). Used by
 * `npm run bench -- accounting`.
 */
import { startPeers } from './tunnel.ts'
import { LOOPBACK_LISTEN } from './report.ts'
import { COVER_PRESETS, type CoverPreset } from '../src/cover/presets.ts'

/** One preset's figures. */
export interface PresetCost {
  preset: CoverPreset
  /** The stream's throughput, MB/s. */
  streamMBps: number
  /** What one router sent as cover while idle, KB/s (chaff + loops, mean over the routers). */
  idleCoverKBps: number
}

/** Runs the experiment (module doc) for one preset on `routers` processes. */
export async function presetCost (preset: CoverPreset, opts: { routers: number, mb: number, idleSeconds: number }): Promise<PresetCost> {
  const env = { UMBRA_PEER_CONFIG: JSON.stringify({ cover: COVER_PRESETS[preset] }) }
  const peers = await startPeers(opts.routers, env, [LOOPBACK_LISTEN[0]!])
  try {
    const [a, b] = [peers[0]!, peers[1]!]
    await a.call('dest', { length: 3, quantity: 2 })
    const db = await b.call('dest', { length: 3, quantity: 2 })
    await b.call('sink', { port: 80 })
    const cover = async (): Promise<number> => {
      const all = await Promise.all(peers.map(async p => await p.call('cover') as { chaffBytesSent: number, loopBytesSent: number }))
      return all.reduce((n, c) => n + c.chaffBytesSent + c.loopBytesSent, 0) / peers.length
    }
    const c0 = await cover()
    const t0 = performance.now()
    await new Promise(resolve => setTimeout(resolve, opts.idleSeconds * 1000))
    const idleCoverKBps = (await cover() - c0) / 1000 / ((performance.now() - t0) / 1000)
    const bytes = opts.mb * 1024 * 1024
    const r = await a.call('stream', { to: db.address, port: 80, up: bytes, down: 0 }, 600_000)
    const sunk = await b.event(600_000)
    if (sunk.bytes !== bytes || sunk.sha !== r.upSha) throw new Error(`stream corrupted under cover ${preset}: ${String(sunk.bytes)} bytes`)
    const start = (r.start as number) + (r.connectMs as number)
    return { preset, streamMBps: bytes / 1e6 / (((sunk.end as number) - start) / 1000), idleCoverKBps }
  } finally {
    await Promise.all(peers.map(async p => { await p.stop() }))
  }
}
