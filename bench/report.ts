/** Prints benchmark figures as text or as one JSON line each; medians, percentiles and options shared by the benches. */
let json = false

export function setJson (on: boolean): void { json = on }

/** Prints one figure. */
export function report (bench: string, kase: string, metric: string, value: number, unit: string, note = ''): void {
  if (json) {
    process.stdout.write(JSON.stringify({ bench, case: kase, metric, value: Number(value.toFixed(3)), unit }) + '\n')
  } else {
    process.stdout.write(`${bench.padEnd(9)} ${kase.padEnd(22)} ${metric.padEnd(26)} ${value.toFixed(value >= 100 ? 0 : 2).padStart(10)} ${unit}${note !== '' ? `  ${note}` : ''}\n`)
  }
}

/** Median of numbers. */
export function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** Human-only progress line (stderr), silent in JSON mode. */
export function note (s: string): void { if (!json) process.stderr.write(s + '\n') }

/** The `p` quantile (0..1) of numbers (nearest rank); 0 when empty. */
export function percentile (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0
}

/** The number after `name` in `args` (e.g. `--routers 8`), or `dflt`. */
export function numArg (args: string[], name: string, dflt: number): number {
  const flag = name.startsWith('--') ? name : `--${name}`
  const i = args.indexOf(flag)
  if (i < 0) return dflt
  const n = Number(args[i + 1])
  if (!Number.isFinite(n)) throw new Error(`${flag} needs a number, got '${args[i + 1] ?? ''}'`)
  return n
}

/** One listen address per transport on loopback, free ports: routers take them in turn. */
export const LOOPBACK_LISTEN = ['tcp://127.0.0.1:0', 'udp://127.0.0.1:0', 'http://127.0.0.1:0/umbra']
