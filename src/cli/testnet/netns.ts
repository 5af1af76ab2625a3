/**
 * Network namespaces for `umbra testnet --netns` (root only): one namespace per router, each
 * with its own address on a veth pair whose other end sits on a bridge in the caller's
 * namespace, optionally with netem delay and loss, so routers talk like separate hosts.
 * Addresses: 10.211.T.2, 10.211.T.3, … with T derived from the process ID so that two testnets
 * do not collide. `destroy()` removes everything that was made, also after a partial setup.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { ConfigError, TransportError } from '../../util/errors.ts'

const run = promisify(execFile)

/** Namespaces made for a testnet. */
export interface Namespaces {
  /** Namespace names, one per router. */
  names: string[]
  /** Each router's address. */
  hosts: string[]
  bridge: string
  /** The command prefix that runs a program in router `i`'s namespace. */
  exec: (i: number) => string[]
  destroy: () => Promise<void>
}

async function ip (...args: string[]): Promise<void> {
  try {
    await run('ip', args, { timeout: 10_000 })
  } catch (err) {
    const e = err as { stderr?: string, message?: string }
    throw new TransportError(`ip ${args.join(' ')}: ${(e.stderr ?? e.message ?? '').trim()}`)
  }
}

/** Creates `n` namespaces on a new bridge (see module doc). */
export async function createNamespaces (n: number, opts: { delayMs: number, lossPct: number }): Promise<Namespaces> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) throw new ConfigError('--netns needs Linux and root (it creates network namespaces)')
  const tag = 20 + (process.pid % 200)
  const bridge = `umb${tag}br`
  const names: string[] = []
  const hosts: string[] = []
  let bridgeMade = false
  const destroy = async (): Promise<void> => {
    for (const ns of names) await ip('netns', 'del', ns).catch(() => {})
    if (bridgeMade) await ip('link', 'del', bridge).catch(() => {})
  }
  try {
    await ip('link', 'add', bridge, 'type', 'bridge')
    bridgeMade = true
    await ip('addr', 'add', `10.211.${tag}.1/24`, 'dev', bridge)
    await ip('link', 'set', bridge, 'up')
    for (let i = 0; i < n; i++) {
      const ns = `umbra-${tag}-${i}`
      const veth = `umb${tag}v${i}`
      const host = `10.211.${tag}.${i + 2}`
      await ip('netns', 'add', ns)
      names.push(ns)
      await ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
      await ip('link', 'set', veth, 'master', bridge, 'up')
      await ip('-n', ns, 'addr', 'add', `${host}/24`, 'dev', 'eth0')
      await ip('-n', ns, 'link', 'set', 'eth0', 'up')
      await ip('-n', ns, 'link', 'set', 'lo', 'up')
      if (opts.delayMs > 0 || opts.lossPct > 0) {
        const args = ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'netem']
        if (opts.delayMs > 0) args.push('delay', `${opts.delayMs}ms`)
        if (opts.lossPct > 0) args.push('loss', `${opts.lossPct}%`)
        await ip(...args)
      }
      hosts.push(host)
    }
  } catch (err) {
    await destroy()
    throw err
  }
  return { names, hosts, bridge, exec: (i) => ['ip', 'netns', 'exec', names[i]!], destroy }
}
