/**
 * What link cover hides (issue #6), on two routers in this process over real UDP on 127.0.0.1:
 * router A sends one-cell TUNNEL_DATA messages to B at `--rate` cells/s during "busy" seconds and
 * nothing during "idle" seconds (alternating, `--seconds` in all); an observer at B counts the
 * 1030-byte link messages per `--window` ms (chaff and real cells look alike there) and the best
 * single-threshold classifier (cover/classifier.ts) tries to tell busy windows from idle ones.
 * Reported for cover off, for fill-up link chaff at `--link-rate` (the `low` preset's 20/s by
 * default) and for strict shaping at `--strict-rate` (the `high` preset's 400/s), each with the
 * chaff's cost in KB/s. The busy rate defaults to 8 cells/s (a chat) for off and fill-up, and
 * `--download` (100 cells/s, a download) for strict.
 *
 *   npm run bench -- cover [--rate 8] [--download 100] [--link-rate 20] [--strict-rate 400]
 *                          [--seconds 40] [--window 250] [--json]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Router } from '../src/router/router.ts'
import { COVER_PRESETS, type CoverSettings } from '../src/cover/presets.ts'
import { countsPerWindow, thresholdAccuracy } from '../src/cover/classifier.ts'
import { COVER_MESSAGE_BYTES } from '../src/router/link-cover.ts'
import { encodeData } from '../src/tunnel/messages.ts'
import { CELL_BYTES } from '../src/tunnel/layer.ts'
import { note, numArg, type report as Report } from './report.ts'

/** What {@link observe} saw. */
export interface Observation {
  /** Cell-sized link messages per window at B, in idle and in busy seconds. */
  idle: number[]
  busy: number[]
  /** The best threshold classifier's accuracy at telling them apart (0.5 = a coin). */
  accuracy: number
  /** Real cells A sent, and B received (as TUNNEL_DATA for a tunnel it does not know). */
  realSent: number
  realReceived: number
  /** A's chaff, KB/s over the run. */
  chaffKBps: number
}

/**
 * Runs the experiment of the module doc once: A with `cover` settings sends `rate` one-cell
 * messages per second to B in every other second of `seconds`; B counts per `windowMs`.
 */
export async function observe (opts: { cover: CoverSettings, rate: number, seconds: number, windowMs: number }): Promise<Observation> {
  const dirs = [await mkdtemp(join(tmpdir(), 'umbra-bench-cover-')), await mkdtemp(join(tmpdir(), 'umbra-bench-cover-'))]
  const a = await Router.start({ dataDir: dirs[0]!, listen: ['udp://127.0.0.1:0'], network: 'bench-cover', cover: opts.cover })
  const b = await Router.start({ dataDir: dirs[1]!, listen: ['udp://127.0.0.1:0'], network: 'bench-cover' })
  try {
    const seen: number[] = []
    const inner = b.links.onMessage
    b.links.onMessage = (peer, msg, link) => {
      if (msg.length === COVER_MESSAGE_BYTES) seen.push(performance.now())
      inner(peer, msg, link)
    }
    await a.connectInfo(b.info.raw, AbortSignal.timeout(10_000))
    await new Promise(resolve => setTimeout(resolve, 1000))
    const unknownBefore = b.tunnels.stats.unknownTunnel
    const cell = new Uint8Array(CELL_BYTES)
    const start = performance.now()
    const busy: boolean[] = []
    let realSent = 0
    for (let s = 0; s < opts.seconds; s++) {
      const on = s % 2 === 1
      busy.push(on)
      const t0 = start + s * 1000
      for (let i = 0; i < (on ? opts.rate : 0); i++) {
        const at = t0 + (i * 1000) / opts.rate
        await new Promise(resolve => setTimeout(resolve, Math.max(0, at - performance.now())))
        a.sender.send(b.id, encodeData([0x7fffffff], [cell]))
        realSent++
      }
      await new Promise(resolve => setTimeout(resolve, Math.max(0, t0 + 1000 - performance.now())))
    }
    // Cells still queued for slots arrive within a few ticks.
    await new Promise(resolve => setTimeout(resolve, 500))
    const perSecond = 1000 / opts.windowMs
    const counts = countsPerWindow(seen, start, opts.windowMs, opts.seconds * perSecond)
    const idle = counts.filter((_, i) => !busy[Math.floor(i / perSecond)]!)
    const active = counts.filter((_, i) => busy[Math.floor(i / perSecond)]!)
    return {
      idle,
      busy: active,
      accuracy: thresholdAccuracy(idle, active),
      realSent,
      realReceived: b.tunnels.stats.unknownTunnel - unknownBefore,
      chaffKBps: a.cover.stats.chaffBytesSent / 1000 / ((performance.now() - start) / 1000 + 1)
    }
  } finally {
    await a.stop()
    await b.stop()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  }
}

const mean = (xs: number[]): number => xs.reduce((x, y) => x + y, 0) / Math.max(1, xs.length)

export async function run (args: string[], report: typeof Report): Promise<void> {
  const rate = numArg(args, 'rate', 8)
  const download = numArg(args, 'download', 100)
  const linkRate = numArg(args, 'link-rate', 20)
  const strictRate = numArg(args, 'strict-rate', 400)
  const seconds = numArg(args, 'seconds', 40)
  const windowMs = numArg(args, 'window', 250)
  const cases: Array<{ what: string, cover: CoverSettings, rate: number }> = [
    { what: 'cover off', cover: COVER_PRESETS.off, rate },
    { what: `link chaff ${linkRate}/s`, cover: { ...COVER_PRESETS.off, linkRate }, rate },
    { what: 'cover off', cover: COVER_PRESETS.off, rate: download },
    { what: `strict ${strictRate}/s`, cover: { ...COVER_PRESETS.off, linkRate: strictRate, strict: true }, rate: download }
  ]
  for (const c of cases) {
    const o = await observe({ cover: c.cover, rate: c.rate, seconds, windowMs })
    note(`${c.what}, ${c.rate} cells/s: mean per ${windowMs} ms window idle ${mean(o.idle).toFixed(2)}, busy ${mean(o.busy).toFixed(2)}; ${o.realReceived} of ${o.realSent} real cells arrived`)
    report('cover', `idle vs ${c.rate} cells/s, ${c.what}`, 'classifier accuracy', o.accuracy, 'fraction', `${o.idle.length}+${o.busy.length} windows of ${windowMs} ms`)
    if (c.cover.linkRate > 0) report('cover', c.what, 'chaff cost per link', o.chaffKBps, 'KB/s')
  }
}
