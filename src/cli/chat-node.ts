/**
 * Starts the router's chat node (src/apps/chat/node.ts) as a client of the router's own SAM
 * bridge, when the config enables chat and the bridge is on. Used by `umbra router`.
 */
import { join } from 'node:path'
import type { LocalApis } from '../api/local.ts'
import type { ResolvedConfig } from '../router/config.ts'
import { loadCrypto } from '../crypto/index.ts'
import type { Logger } from '../util/log.ts'
import { ChatNode, SOCKET_FILE } from '../apps/chat/node.ts'
import { samDialHost, samUser } from './fs-node.ts'

/** The chat directory inside a data directory. */
export function chatDir (dataDir: string): string {
  return join(dataDir, 'chat')
}

/** The chat local API's socket inside a data directory. */
export function chatSocket (dataDir: string): string {
  return join(chatDir(dataDir), SOCKET_FILE)
}

/** The node, or undefined when chat is off (or the SAM bridge is, which it needs). */
export async function startChatNode (cfg: ResolvedConfig, apis: LocalApis, log: Logger): Promise<ChatNode | undefined> {
  if (!cfg.chat.enabled) return undefined
  if (apis.sam === undefined) {
    log.info('chat node not started: it needs the SAM bridge, which is off')
    return undefined
  }
  return await ChatNode.start({
    dir: chatDir(cfg.dataDir),
    sam: { host: samDialHost(apis.sam.bind), port: apis.sam.port, ...samUser(cfg) },
    crypto: await loadCrypto(),
    log: log.child({ component: 'chat' })
  })
}
