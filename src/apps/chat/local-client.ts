/**
 * A client of chat's local API (`local-api.ts`): requests with deadlines over one Unix-socket
 * connection, and events after {@link ChatClient.listen}. Used by `umbra chat` and its verbs.
 */
import * as net from 'node:net'
import { EventEmitter } from 'node:events'
import { ClosedError, ConfigError, LimitError, TimeoutError, TransportError } from '../../util/errors.ts'
import { MAX_ANSWER_BYTES } from './local-api.ts'

/** An error the chat service answered. */
export class ChatApiError extends ConfigError {}

/** Events of a {@link ChatClient}. */
export interface ChatClientEvents {
  /** A chat event (after `listen`): see `ChatEvent` in chat.ts. */
  event: [Record<string, unknown>]
  close: []
}

/** See module doc. */
export class ChatClient extends EventEmitter<ChatClientEvents> {
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (v: Record<string, unknown>) => void, reject: (e: Error) => void }>()
  private buf = ''
  private closed = false

  private constructor (private readonly socket: net.Socket) {
    super()
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => { this.onData(chunk) })
    socket.on('error', () => {})
    socket.on('close', () => {
      this.closed = true
      for (const p of this.pending.values()) p.reject(new ClosedError('the chat service closed the connection'))
      this.pending.clear()
      this.emit('close')
    })
  }

  /** Connects to the API at `path`. TransportError if nothing listens (is the router running?). */
  static async connect (path: string, timeoutMs = 3000): Promise<ChatClient> {
    const socket = net.connect({ path })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { socket.destroy(); reject(new TimeoutError(`no answer from ${path} within ${timeoutMs} ms`)) }, timeoutMs)
      socket.once('connect', () => { clearTimeout(timer); resolve() })
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        reject(new TransportError(`cannot reach the chat service at ${path} (${err.code ?? err.message}): is \`umbra router\` running with this data directory?`, { cause: err }))
      })
    })
    return new ChatClient(socket)
  }

  /** Sends a request; resolves with the answer's fields, rejects with ChatApiError if it failed. */
  async request (op: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    if (this.closed) throw new ClosedError('the chat connection is closed')
    const id = this.nextId++
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(id); reject(new TimeoutError(`chat service did not answer '${op}' within ${timeoutMs} ms`)) }, timeoutMs)
      this.pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v) },
        reject: (e) => { clearTimeout(timer); reject(e) }
      })
      this.socket.write(JSON.stringify({ ...args, id, op }) + '\n')
    })
  }

  /** Starts receiving `event`s on this connection. */
  async listen (): Promise<void> {
    await this.request('listen')
  }

  close (): void {
    this.socket.end()
    this.socket.destroy()
  }

  private onData (chunk: string): void {
    this.buf += chunk
    let nl: number
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl)
      this.buf = this.buf.slice(nl + 1)
      let msg: Record<string, unknown>
      try { msg = JSON.parse(line) as Record<string, unknown> } catch { continue }
      if (msg === null || typeof msg !== 'object') continue
      if (msg.event !== undefined && typeof msg.event === 'object' && msg.event !== null) { this.emit('event', msg.event as Record<string, unknown>); continue }
      const p = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined
      if (p === undefined) continue
      this.pending.delete(msg.id as number)
      const { ok, error, result } = msg
      if (ok === true) p.resolve(result !== null && typeof result === 'object' && !Array.isArray(result) ? result as Record<string, unknown> : {})
      else p.reject(new ChatApiError(typeof error === 'string' ? error : 'request failed'))
    }
    if (this.buf.length > MAX_ANSWER_BYTES) {
      this.socket.destroy(new LimitError('answer line too long'))
    }
  }
}
