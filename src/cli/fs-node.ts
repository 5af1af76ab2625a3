/**
 * Starts the router's file-sharing node (src/apps/fs/node.ts) as a client of the router's own
 * SAM bridge, when the config enables it and the bridge is on. Used by `umbra router`.
 */
import { join } from 'node:path'
import type { LocalApis } from '../api/local.ts'
import type { ResolvedConfig } from '../router/config.ts'
import { loadCrypto } from '../crypto/index.ts'
import type { Logger } from '../util/log.ts'
import { FsNode } from '../apps/fs/node.ts'

/** The directory of the fs node inside a data directory. */
export function fsDir (dataDir: string): string {
  return join(dataDir, 'fs')
}

/** The SAM host a local client should dial for a bridge bound to `bind`. */
export function samDialHost (bind: string): string {
  return bind === '0.0.0.0' ? '127.0.0.1' : bind === '::' ? '::1' : bind
}

/** The first SAM user of the config, if authentication is on. */
export function samUser (cfg: ResolvedConfig): { user?: string, password?: string } {
  const users = Object.entries(cfg.sam?.users ?? {})
  return users.length > 0 ? { user: users[0]![0], password: users[0]![1] } : {}
}

/** The node, or undefined when fs is off (or the SAM bridge is, which it needs). */
export async function startFsNode (cfg: ResolvedConfig, apis: LocalApis, log: Logger): Promise<FsNode | undefined> {
  if (!cfg.fs.enabled) return undefined
  if (apis.sam === undefined) {
    log.info('fs node not started: it needs the SAM bridge, which is off')
    return undefined
  }
  return await FsNode.start({
    dir: fsDir(cfg.dataDir),
    sam: { host: samDialHost(apis.sam.bind), port: apis.sam.port, ...samUser(cfg) },
    seeds: cfg.fs.seeds,
    quotaBytes: cfg.fs.quotaMB * 1_000_000,
    crypto: await loadCrypto(),
    log: log.child({ component: 'fs' })
  })
}
