/**
 * What link chaff hides (issue #6), on two routers in this process over real UDP on 127.0.0.1:
 * router A sends one-cell TUNNEL_DATA messages to B at `--rate` cells/s during "busy" seconds and
 * nothing during "idle" seconds (alternating, `--seconds` in all); an observer at B counts the
 * 1030-byte link messages per 250 ms window (chaff and real cells look alike there) and the best
 * single-threshold classifier (cover/classifier.ts) tries to tell busy windows from idle ones.
 * Reported for cover off and for link chaff at `--link-rate` (the `low` preset's 20/s by
 * default), with the chaff's cost in KB/s.
 *
 *   npm run bench -- cover [--rate 8] [--link-rate 20] [--seconds 40] [--json]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Router } from '../src/router/router.ts'
import { COVER_PRESETS } from '../src/cover/presets.ts'
import { countsPerWindow, thresholdAccuracy } from '../src/cover/classifier.ts'
import { COVER_MESSAGE_BYTES } from '../src/router/link-cover.ts'
import { encodeData } from '../src/tunnel/messages.ts'
import { CELL_BYTES } from '../src/tunnel/layer.ts'
import { note, numArg, type report as Report } from './report.ts'

const WINDOW_MS = 250

export async function run (args: string[], report: typeof Report): Promise<void> {
  const rate = numArg(args, 'rate', 8)
  const linkRate = numArg(args, 'link-rate', 20)
  const seconds = numArg(args, 'seconds', 40)
  for (const chaff of [0, linkRate]) {
    const dirs = [await mkdtemp(join(tmpdir(), 'umbra-bench-cover-')), await mkdtemp(join(tmpdir(), 'umbra-bench-cover-'))]
    const a = await Router.start({ dataDir: dirs[0]!, listen: ['udp://127.0.0.1:0'], network: 'bench-cover', cover: { ...COVER_PRESETS.off, linkRate: chaff } })
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
      const cell = new Uint8Array(CELL_BYTES)
      const start = performance.now()
      const busy: boolean[] = []
      for (let s = 0; s < seconds; s++) {
        const on = s % 2 === 1
        busy.push(on)
        const t0 = start + s * 1000
        for (let i = 0; i < (on ? rate : 0); i++) {
          const at = t0 + (i * 1000) / rate
          await new Promise(resolve => setTimeout(resolve, Math.max(0, at - performance.now())))
          a.sender.send(b.id, encodeData([0x7fffffff], [cell]))
        }
        await new Promise(resolve => setTimeout(resolve, Math.max(0, t0 + 1000 - performance.now())))
      }
      const perSecond = 1000 / WINDOW_MS
      const counts = countsPerWindow(seen, start, WINDOW_MS, seconds * perSecond)
      const idle = counts.filter((_, i) => !busy[Math.floor(i / perSecond)]!)
      const active = counts.filter((_, i) => busy[Math.floor(i / perSecond)]!)
      const acc = thresholdAccuracy(idle, active)
      const cost = a.cover.stats.chaffBytesSent / 1000 / ((performance.now() - start) / 1000 + 1)
      const what = chaff === 0 ? 'cover off' : `link chaff ${chaff}/s`
      note(`${what}: mean per ${WINDOW_MS} ms window idle ${(idle.reduce((x, y) => x + y, 0) / idle.length).toFixed(2)}, busy ${(active.reduce((x, y) => x + y, 0) / active.length).toFixed(2)}`)
      report('cover', `idle vs ${rate} cells/s, ${what}`, 'classifier accuracy', acc, 'fraction', `${idle.length}+${active.length} windows of ${WINDOW_MS} ms`)
      report('cover', `${what}`, 'chaff cost per link', cost, 'KB/s')
    } finally {
      await a.stop()
      await b.stop()
      for (const d of dirs) await rm(d, { recursive: true, force: true })
    }
  }
}
