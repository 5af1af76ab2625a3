/**
 * A progress line for long commands (`umbra publish`, `umbra get`): on a terminal, one line
 * redrawn in place (bar, percent, bytes, speed, ETA); otherwise a plain line every few seconds,
 * so logs of scripts stay readable. Writes to stderr; silent when disabled.
 */

/** Human-readable bytes: 1.5 MB, 320 KB (powers of 1000). */
export function formatBytes (n: number): string {
  if (n < 1000) return `${n} B`
  const units = ['KB', 'MB', 'GB', 'TB']
  let v = n / 1000
  let i = 0
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++ }
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]!}`
}

/** Seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration (s: number): string {
  if (!Number.isFinite(s)) return '?'
  const t = Math.max(0, Math.round(s))
  if (t >= 3600) return `${Math.floor(t / 3600)}h${String(Math.floor(t / 60) % 60).padStart(2, '0')}m`
  if (t >= 60) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`
  return `${t}s`
}

/** One progress display. */
export class Progress {
  private readonly started = Date.now()
  private last = 0
  private done = 0
  private readonly tty: boolean

  constructor (private readonly label: string, private readonly total: number, private readonly enabled = true, private readonly out: NodeJS.WriteStream = process.stderr) {
    this.tty = out.isTTY === true
  }

  /** Records `done` bytes; redraws at most 10 times a second (every 5 s off a terminal). */
  update (done: number, note = ''): void {
    this.done = done
    if (!this.enabled) return
    const now = Date.now()
    if (now - this.last < (this.tty ? 100 : 5000)) return
    this.last = now
    this.draw(note)
  }

  /** Draws the final state and ends the line. */
  finish (note = ''): void {
    if (!this.enabled) return
    this.draw(note)
    if (this.tty) this.out.write('\n')
  }

  private draw (note: string): void {
    const secs = Math.max(0.001, (Date.now() - this.started) / 1000)
    const rate = this.done / secs
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 1
    const eta = rate > 0 ? (this.total - this.done) / rate : Number.POSITIVE_INFINITY
    const width = 24
    const fill = Math.round(frac * width)
    const bar = this.tty ? `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ` : ''
    const line = `${this.label} ${bar}${(frac * 100).toFixed(1)}%  ${formatBytes(this.done)} of ${formatBytes(this.total)}  ${formatBytes(Math.round(rate))}/s  ETA ${frac >= 1 ? '0s' : formatDuration(eta)}${note !== '' ? `  ${note}` : ''}`
    this.out.write(this.tty ? `\r${line}\x1b[K` : `${line}\n`)
  }
}
