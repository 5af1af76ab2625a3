/**
 * Keeps an app's SAM session up (used by the fs and chat nodes): creates a STREAM session with
 * the app's persistent key, accepts incoming streams, hands the live session to the app until
 * the session ends, then makes a new one (1 s, doubling to 30 s, between failed tries) until
 * `signal` aborts. So an app can start before its router has tunnels, and survives the bridge
 * dropping its session.
 */
import type { Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { createSession, type Session } from '../api/client/index.ts'
import type { Logger } from '../util/log.ts'

/** What {@link keepSession} needs. */
export interface SessionKeeperOptions {
  /** The router's SAM bridge (and a user, if it has authentication on). */
  sam: { host: string, port: number, user?: string, password?: string }
  /** The app's private key (I2P base64). */
  privateKey: string
  /** The session ID (unique on the bridge). */
  id: string
  /** Tunnel length each way (default 3). */
  tunnelLength?: number
  /** Names the app in log lines (`fs node`, `chat node`). */
  what: string
  log: Logger
  signal: AbortSignal
  /** An incoming stream and the remote's base64 destination. */
  accept: (socket: Socket, remote: string) => void
  /** Runs while the session lives; `ended` resolves when it closes. */
  live: (session: Session, ended: Promise<void>) => Promise<void>
  /** Called when a session is gone (closed, or its creation failed). */
  lost?: () => void
}

/** See module doc. Resolves once `signal` aborts. */
export async function keepSession (o: SessionKeeperOptions): Promise<void> {
  const { signal } = o
  let delay = 1000
  while (!signal.aborted) {
    try {
      const len = o.tunnelLength ?? 3
      const session = await createSession({
        ...o.sam,
        privateKey: o.privateKey,
        id: o.id,
        inboundLength: len,
        outboundLength: len,
        inboundQuantity: 2,
        outboundQuantity: 2,
        signal
      })
      delay = 1000
      const ended = new Promise<void>(resolve => { session.once('close', resolve) })
      session.on('error', () => {})
      const listener = session.listen(o.accept, { concurrency: 8 })
      o.log.info(`${o.what} online`)
      try {
        await o.live(session, ended)
      } finally {
        o.lost?.()
        await listener.close()
        await session.close().catch(() => {})
      }
    } catch (err) {
      o.lost?.()
      if (signal.aborted) break
      o.log.warn(`${o.what}: no SAM session yet; retrying`, { error: err instanceof Error ? err.message : String(err), inMs: delay })
    }
    await sleep(delay, undefined, { signal }).catch(() => {})
    delay = Math.min(30_000, delay * 2)
  }
}
