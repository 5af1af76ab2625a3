/**
 * Chat's local API: JSON lines over a Unix socket in the chat directory (`chat.sock`, mode
 * 0600, so only the data directory's owner can read or send their messages). `umbra chat` and
 * its verbs are clients (`local-client.ts`); the protocol is in docs/chat.md.
 *
 * A request is one line `{"id": n, "op": "...", ...}`; its answer one line `{"id": n, "ok": true,
 * "result": {...}}` or `{"id": n, "ok": false, "error": "..."}`. After `{"op": "listen"}` the connection also
 * gets `{"event": {...}}` lines. Bounded: request lines 64 KiB, 16 requests in flight and 1 MiB
 * queued per connection (a client that does not read is cut off), 32 connections.
 */
import * as net from 'node:net'
import { chmod } from 'node:fs/promises'
import { clearStaleSocket } from '../../util/net.ts'
import { ConfigError, UmbraError } from '../../util/errors.ts'
import { silentLogger, type Logger } from '../../util/log.ts'

/** Longest request line. */
export const MAX_LINE_BYTES = 64 * 1024
/** Longest answer or event line a client accepts (a history answer is the largest). */
export const MAX_ANSWER_BYTES = 16 * 1024 * 1024
const MAX_INFLIGHT = 16
const MAX_QUEUED = 1024 * 1024
const MAX_CLIENTS = 32

/** What serves the API's requests. */
export interface ChatApiHandler {
  /** Answers one request; a thrown UmbraError's message is sent to the client, anything else is "internal error". */
  request: (op: string, args: Record<string, unknown>) => Promise<Record<string, unknown>>
  /** Calls `fn` with every event until the returned function is called. */
  subscribe: (fn: (event: unknown) => void) => () => void
}

/** A running local API. */
export interface ChatApi {
  readonly path: string
  close: () => Promise<void>
}

/** Listens on `path` (a stale socket file is replaced; a live one refused). */
export async function startChatApi (path: string, handler: ChatApiHandler, log: Logger = silentLogger): Promise<ChatApi> {
  await clearStaleSocket(path, 'chat API')
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    if (sockets.size >= MAX_CLIENTS) { socket.destroy(); return }
    sockets.add(socket)
    serve(socket, handler, log)
    socket.once('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => { reject(new ConfigError(`chat API cannot listen on ${path}: ${err.code ?? err.message}`, { cause: err })) })
    server.listen({ path }, () => { resolve() })
  })
  await chmod(path, 0o600)
  server.on('error', (err) => { log.warn('chat API error', { error: err.message }) })
  let closing: Promise<void> | undefined
  return {
    path,
    close: async () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => { resolve() })
        for (const s of sockets) s.destroy()
      })
      await closing
    }
  }
}

function serve (socket: net.Socket, handler: ChatApiHandler, log: Logger): void {
  let buf = ''
  let inflight = 0
  let unsubscribe: (() => void) | undefined
  const write = (obj: unknown): void => {
    if (socket.destroyed) return
    if (socket.writableLength > MAX_QUEUED) { socket.destroy(); return }
    socket.write(JSON.stringify(obj) + '\n')
  }
  socket.setEncoding('utf8')
  socket.on('error', () => {})
  socket.on('close', () => { unsubscribe?.() })
  socket.on('data', (chunk: string) => {
    buf += chunk
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      if (line.trim() === '') continue
      if (Buffer.byteLength(line) > MAX_LINE_BYTES) { write({ ok: false, error: `request line over ${MAX_LINE_BYTES} bytes` }); socket.end(); buf = ''; return }
      handleLine(line)
    }
    if (Buffer.byteLength(buf) > MAX_LINE_BYTES) {
      write({ ok: false, error: `request line over ${MAX_LINE_BYTES} bytes` })
      socket.end()
      buf = ''
    }
  })
  const handleLine = (line: string): void => {
    let req: unknown
    try { req = JSON.parse(line) } catch { write({ ok: false, error: 'request is not JSON' }); return }
    if (req === null || typeof req !== 'object' || Array.isArray(req)) { write({ ok: false, error: 'request is not a JSON object' }); return }
    const { id, op, ...args } = req as Record<string, unknown>
    const rid = typeof id === 'number' || typeof id === 'string' ? id : null
    if (typeof op !== 'string') { write({ id: rid, ok: false, error: 'request without an op' }); return }
    if (op === 'listen') {
      unsubscribe ??= handler.subscribe((event) => { write({ event }) })
      write({ id: rid, ok: true, result: {} })
      return
    }
    if (inflight >= MAX_INFLIGHT) { write({ id: rid, ok: false, error: `more than ${MAX_INFLIGHT} requests in flight` }); return }
    inflight++
    handler.request(op, args).then(
      (result) => { write({ id: rid, ok: true, result }) },
      (err: unknown) => {
        if (err instanceof UmbraError) write({ id: rid, ok: false, error: err.message })
        else {
          log.warn('chat API request failed', { op: op.slice(0, 32), error: err instanceof Error ? err.message : String(err) })
          write({ id: rid, ok: false, error: 'internal error' })
        }
      }
    ).finally(() => { inflight-- })
  }
}
