/**
 * Routers as child processes for `umbra testnet`: spawns `umbra router` (optionally wrapped,
 * e.g. in `ip netns exec NS`), reads the machine-readable lines it prints (`router`, `listening`,
 * `info`, `control`, `fs`, `sam`, `socks`), and stops it with SIGTERM (SIGKILL after a deadline). Each child also
 * watches its stdin (UMBRA_LIFELINE=1): if the testnet process dies, the pipe closes and the
 * child shuts itself down, so no router outlives its testnet.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { TimeoutError, TransportError } from '../../util/errors.ts'
import { NODE_HEAP_FLAGS, routerNodeFlags } from '../node-flags.ts'

/** How to start one router process. */
export interface RouterProcSpec {
  index: number
  dataDir: string
  listen: string[]
  network: string
  /** Control API address (`127.0.0.1:0`, or `unix:/path`). */
  control: string
  seedFiles: string[]
  /** SAM bridge and SOCKS proxy addresses (`127.0.0.1:7656`, `127.0.0.1:0`, `off`). */
  sam: string
  socks: string
  logLevel?: string
  /** Its file-sharing node: off, or on with these seed destinations (default: the router's default, on without seeds). */
  fs?: 'off' | { seeds: string[] }
  /** More `umbra router` arguments (e.g. `--server-tunnel`). */
  extraArgs?: string[]
  /** Command prefix, e.g. `['ip', 'netns', 'exec', 'umbra-1']`. */
  wrap?: string[]
}

/** A running router process and what it printed. */
export interface RouterProc {
  readonly spec: RouterProcSpec
  readonly child: ChildProcess
  id: string
  info: string
  addresses: string[]
  control: string
  /** What it printed for its SAM bridge (`127.0.0.1:7656 udp:7655` or `off`) and SOCKS proxy. */
  sam: string
  socks: string
  /** Its fs node's base64 destination, or `off`. */
  fs: string
  /** Its server tunnels, `<name> <b32 address>` each. */
  tunnels: string[]
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>
}

/** The `bin/umbra.js` of this package (from src/ or dist/src/). */
function umbraBin (): string {
  for (const rel of ['../../../bin/umbra.js', '../../../../bin/umbra.js']) {
    const p = fileURLToPath(new URL(rel, import.meta.url))
    if (existsSync(p)) return p
  }
  throw new TransportError('cannot find bin/umbra.js')
}

/** The command line (program first) that starts the router of `spec`. */
export function routerCommand (spec: RouterProcSpec): string[] {
  const args = ['router', '--data-dir', spec.dataDir, '--network', spec.network, '--control', spec.control, '--log-level', spec.logLevel ?? 'warn', '--sam', spec.sam, '--socks', spec.socks]
  for (const l of spec.listen) args.push('--listen', l)
  for (const s of spec.seedFiles) args.push('--seed-file', s)
  if (spec.fs === 'off') args.push('--fs', 'off')
  // The = form: a destination (I2P base64) may start with '-', which would read as an option.
  else if (spec.fs !== undefined) for (const s of spec.fs.seeds) args.push(`--fs-seed=${s}`)
  args.push(...(spec.extraArgs ?? []))
  return [...(spec.wrap ?? []), process.execPath, ...routerNodeFlags(), umbraBin(), ...args]
}

/** Starts a router and waits (at most `timeoutMs`) until it has printed its info and control lines. */
export async function spawnRouter (spec: RouterProcSpec, timeoutMs = 30_000): Promise<RouterProc> {
  const cmd = routerCommand(spec)
  const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, UMBRA_LIFELINE: '1' } })
  const exited = new Promise<number | string>((resolve) => { child.once('exit', (code, sig) => { resolve(code ?? sig ?? 'unknown') }) })
  const proc: RouterProc = { spec, child, id: '', info: '', addresses: [], control: '', sam: '', socks: '', fs: '', tunnels: [], exited }
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000) })
  const lines = createInterface({ input: child.stdout! })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new TimeoutError(`router ${spec.index} did not start within ${timeoutMs} ms\n${stderr}`)) }, timeoutMs)
    exited.then((code) => { clearTimeout(timer); reject(new TransportError(`router ${spec.index} exited (${code}) before it was up:\n${stderr}`)) }, () => {})
    lines.on('line', (line) => {
      const word = /^\S+/.exec(line)?.[0] ?? ''
      const value = line.slice(word.length).trim()
      if (word === 'router') proc.id = value
      else if (word === 'listening') proc.addresses.push(value)
      else if (word === 'info') proc.info = value
      else if (word === 'control') proc.control = value
      else if (word === 'sam') proc.sam = value
      else if (word === 'fs') proc.fs = value
      else if (word === 'socks') proc.socks = value
      else if (word === 'tunnel') proc.tunnels.push(value)
      // `socks` is the last line a router prints once it is up.
      if (proc.info !== '' && proc.control !== '' && proc.socks !== '') { clearTimeout(timer); resolve() }
    })
  }).catch((err: unknown) => { child.kill('SIGKILL'); throw err })
  return proc
}

/**
 * Runs `umbra ARGS` (from the sources when UMBRA_FROM_SOURCE=1 is in the environment) to
 * completion, killing it after `timeoutMs`. Keeps stdout and the last 8000 characters of stderr.
 */
export async function runUmbra (args: string[], timeoutMs: number): Promise<{ code: number | null, out: string, err: string }> {
  return await new Promise((resolve) => {
    const child = spawn(process.execPath, [...NODE_HEAP_FLAGS, umbraBin(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-8000) })
    const timer = setTimeout(() => { err += `\n(killed after ${timeoutMs} ms)`; child.kill('SIGKILL') }, timeoutMs)
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, out, err }) })
  })
}

/** Stops a router: SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopRouter (p: RouterProc, graceMs = 10_000): Promise<number | string> {
  if (p.child.exitCode === null && p.child.signalCode === null) {
    p.child.kill('SIGTERM')
    const t = setTimeout(() => { p.child.kill('SIGKILL') }, graceMs)
    const code = await p.exited
    clearTimeout(t)
    return code
  }
  return await p.exited
}

/**
 * Polls every router's netDb size (`sizes[i]()`, -1 when it does not answer) every 200 ms until
 * each knows `n` RouterInfos; returns how long that took (ms). `onProgress` hears each new set
 * of sizes. TimeoutError after `timeoutMs`, or once `signal` aborts.
 */
export async function converge (sizes: ReadonlyArray<() => Promise<number>>, n: number, timeoutMs: number,
  opts: { signal?: AbortSignal, onProgress?: (sizes: number[]) => void } = {}): Promise<number> {
  const t0 = performance.now()
  let last = ''
  while (performance.now() - t0 < timeoutMs) {
    if (opts.signal?.aborted === true) throw new TimeoutError('stopped before the netDb converged')
    const now = await Promise.all(sizes.map(async s => await s()))
    if (now.every(s => s >= n)) return performance.now() - t0
    const line = now.join(' ')
    if (line !== last) { opts.onProgress?.(now); last = line }
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  throw new TimeoutError(`the netDb did not converge within ${timeoutMs / 1000} s`)
}
