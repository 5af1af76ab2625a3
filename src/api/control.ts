/**
 * The JSON control API: a small read-only HTTP server for `umbra status`, scripts and (later)
 * the web console. It binds to loopback only (it has no authentication) unless the caller
 * passes `allowRemote`, and refuses requests whose Host header names anything but loopback,
 * so that a web page cannot read it through DNS rebinding.
 *
 * | request             | answer                                          |
 * |---------------------|-------------------------------------------------|
 * | `GET /api/status`   | the router's {@link RouterStatus}               |
 * | `GET /api/health`   | `{"ok":true}`                                   |
 * | `GET /api/info`     | `{"info":"<base64 RouterInfo>"}` (when `info` is given) |
 * | `GET /api/<name>`   | `extra[name]()` as JSON                         |
 *
 * Every answer is JSON (`Content-Type: application/json`), errors too: `{"error": "..."}`
 * with 400 (bad request line), 403 (foreign Host), 404 (unknown path), 405 (a method other
 * than GET/HEAD), 413 (a request with a body; none is accepted) or 500 (a callback threw).
 * Requests are bounded: headers 8 KiB, 5 s to send a request, 64 connections.
 */
import { chmod } from 'node:fs/promises'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { RouterStatus } from '../router/status.ts'
import { formatControlAddress } from '../router/config.ts'
import { clearStaleSocket, isLoopbackHost } from '../util/net.ts'
import { ConfigError } from '../util/errors.ts'
import { silentLogger, type Logger } from '../util/log.ts'

/** Options of {@link startControlApi}. */
export interface ControlApiOptions {
  /** Address to bind. Default `127.0.0.1`; non-loopback only with `allowRemote`. */
  host?: string
  /** Port; 0 picks a free one (see {@link ControlApi.url}). Default 7657. */
  port?: number
  /**
   * Listen on this Unix socket (absolute path; made 0600) instead of host and port, e.g. to be
   * reached from outside the router's network namespace. A stale socket file is replaced; a
   * live one is refused. The URL is then `unix:<path>`.
   */
  path?: string
  /** The router's state, served at `/api/status`. */
  status: () => RouterStatus
  /** The router's signed RouterInfo bytes, served base64 at `/api/info`. */
  info?: () => Uint8Array
  /** More read-only endpoints: `GET /api/<name>` answers `extra[name]()` as JSON. */
  extra?: Record<string, () => unknown>
  /** Request log (debug) and callback failures (warn). */
  log?: Logger
  /** Bind a non-loopback address and accept any Host header. Off by default: there is no authentication. */
  allowRemote?: boolean
  /** Time a client has to send its request (ms). Default 5000. */
  requestTimeoutMs?: number
}

/** A running control API. */
export interface ControlApi {
  /** Base URL, e.g. `http://127.0.0.1:7657` (the real port when 0 was asked), or `unix:/path`. */
  readonly url: string
  /** Stops listening and closes every connection. Idempotent. */
  close (): Promise<void>
}

const MAX_CONNECTIONS = 64
const MAX_HEADER_BYTES = 8 * 1024
const NAME = /^[a-z][a-z0-9-]{0,31}$/

/** Starts the control API; rejects with ConfigError on a refused or unusable address. */
export async function startControlApi (opts: ControlApiOptions): Promise<ControlApi> {
  const host = opts.host ?? '127.0.0.1'
  const port = opts.port ?? 7657
  const allowRemote = opts.allowRemote === true
  const log = opts.log ?? silentLogger
  const timeoutMs = opts.requestTimeoutMs ?? 5000
  const path = opts.path
  if (path !== undefined) await clearStaleSocket(path, 'control API')
  else if (!allowRemote && !isLoopbackHost(host)) {
    throw new ConfigError(`control API: refusing to bind non-loopback address '${host}' (it has no authentication)`)
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`control API: port must be 0..65535, got ${port}`)

  const routes = new Map<string, () => unknown>([
    ['/api/status', opts.status],
    ['/api/health', () => ({ ok: true })]
  ])
  if (opts.info !== undefined) {
    const info = opts.info
    routes.set('/api/info', () => ({ info: Buffer.from(info()).toString('base64') }))
  }
  for (const [name, fn] of Object.entries(opts.extra ?? {})) {
    if (!NAME.test(name) || routes.has(`/api/${name}`)) throw new ConfigError(`control API: bad or duplicate endpoint name '${name}'`)
    routes.set(`/api/${name}`, fn)
  }

  const server = http.createServer({
    maxHeaderSize: MAX_HEADER_BYTES,
    requestTimeout: timeoutMs,
    headersTimeout: timeoutMs,
    keepAliveTimeout: 5000,
    connectionsCheckingInterval: Math.min(1000, timeoutMs)
  }, (req, res) => {
    const started = performance.now()
    const { status, body } = answer(req, routes, allowRemote, log)
    const text = JSON.stringify(body)
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      ...(status === 405 ? { Allow: 'GET, HEAD' } : {}),
      // A body we refuse is never read: close rather than drain it.
      ...(status === 413 ? { Connection: 'close' } : {})
    })
    res.end(text)
    log.debug('control request', { method: req.method, path: safePath(req.url), status, ms: Math.round(performance.now() - started) })
  })
  server.maxConnections = MAX_CONNECTIONS
  server.setTimeout(2 * timeoutMs, (socket) => { socket.destroy() })
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: 25\r\n\r\n{"error":"bad request"}\r\n')
    else socket.destroy()
  })

  const where = path !== undefined ? `unix:${path}` : formatControlAddress({ host, port })
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new ConfigError(`control API cannot listen on ${where}: ${err.code === 'EADDRINUSE' ? 'address in use (choose another with --control HOST:PORT, or --control off)' : err.code ?? err.message}`, { cause: err }))
    }
    server.once('error', onError)
    server.listen(path !== undefined ? { path } : { host, port }, () => { server.off('error', onError); resolve() })
  })
  server.on('error', (err) => { log.warn('control API error', { error: err.message }) })
  let url: string
  if (path !== undefined) {
    await chmod(path, 0o600)
    url = `unix:${path}`
  } else {
    const addr = server.address() as AddressInfo
    url = `http://${formatControlAddress({ host: addr.address, port: addr.port })}`
  }
  let closing: Promise<void> | undefined
  return {
    url,
    close: async () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => { resolve() })
        server.closeAllConnections()
      })
      await closing
    }
  }
}

interface Answer { status: number, body: unknown }

/** The answer to one request (no I/O). */
function answer (req: http.IncomingMessage, routes: Map<string, () => unknown>, allowRemote: boolean, log: Logger): Answer {
  const len = req.headers['content-length']
  if ((len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined) {
    return { status: 413, body: { error: 'request bodies are not accepted' } }
  }
  if (!allowRemote && !loopbackHostHeader(req.headers.host)) return { status: 403, body: { error: 'forbidden Host header' } }
  if (req.method !== 'GET' && req.method !== 'HEAD') return { status: 405, body: { error: `method ${req.method ?? '?'} not allowed; use GET` } }
  let path: string
  try {
    path = new URL(req.url ?? '', 'http://localhost').pathname
  } catch {
    return { status: 400, body: { error: 'bad request target' } }
  }
  const fn = routes.get(path)
  if (fn === undefined) return { status: 404, body: { error: `no such endpoint: ${safePath(path)}`, endpoints: [...routes.keys()] } }
  try {
    const body = fn()
    // Check it serializes now, so a bad value is a 500 and not a thrown write.
    JSON.stringify(body)
    return { status: 200, body }
  } catch (err) {
    log.warn('control endpoint failed', { path, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) })
    return { status: 500, body: { error: 'internal error' } }
  }
}

/** Whether a Host header names loopback (absent counts: only HTTP/1.0 tools omit it, never browsers). */
function loopbackHostHeader (host: string | undefined): boolean {
  if (host === undefined) return true
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::\d+)?$/.exec(host.trim())
  return m !== null && isLoopbackHost((m[1] ?? m[2])!)
}

function safePath (p: string | undefined): string {
  return (p ?? '').slice(0, 200)
}
