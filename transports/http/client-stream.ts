/**
 * Client side, stream mode: one Conn carried by two long HTTP/1.1 requests, a chunked
 * `POST <prefix>/<sid>/up` (client→server bytes as the request body) and a
 * `GET <prefix>/<sid>/down` (server→client bytes as the chunked response body). The Conn is
 * up when the down response's headers arrive, which the server sends once both halves are in.
 * Needs a path that streams request and response bodies; poll mode is for paths that buffer.
 */
import http from 'node:http'
import { ClosedError, LimitError, TransportError } from '../../src/util/errors.ts'
import { raceSignal } from '../../src/util/abort.ts'
import { HttpConnBase } from './conn-base.ts'
import { formatHttpAddr, newSessionId, type HttpAddr } from './wire.ts'

const noop = (): void => {}

/** A stream-mode client Conn. */
export class StreamClientConn extends HttpConnBase {
  constructor (
    private readonly up: http.ClientRequest,
    private readonly downReq: http.ClientRequest,
    private readonly down: http.IncomingMessage,
    remote: string,
    private readonly maxBuffered: number
  ) {
    super(remote, maxBuffered)
    up.on('drain', () => { this.drained() })
    up.on('error', (err) => { this.close(new TransportError('upload failed', { cause: err })) })
    up.on('response', (res) => {
      // The server answers the upload only when the session ends; the download says how.
      res.resume()
      if (res.statusCode !== 204 && res.statusCode !== 200) this.close(new TransportError(`upload answered ${res.statusCode ?? 0}`))
    })
    down.on('data', (d: Buffer) => { this.deliver(d) })
    down.on('end', () => { this.close() })
    down.on('error', noop)
    down.on('close', () => { if (!down.complete) this.close(new TransportError('download cut short')) })
  }

  get bufferedAmount (): number {
    return this.closed ? 0 : this.up.writableLength
  }

  send (data: Uint8Array): boolean {
    if (this.closed) throw new ClosedError('http conn is closed')
    if (data.byteLength === 0) return true // an empty write would end the chunked body
    if (this.up.writableLength + data.byteLength > this.maxBuffered) {
      const err = new LimitError(`more than ${this.maxBuffered} bytes queued for the server`)
      this.close(err)
      throw err
    }
    const ok = this.up.write(Buffer.from(data)) // copy: the caller may reuse data
    if (!ok) this.needDrain = true
    return ok
  }

  protected teardown (err?: Error): void {
    if (err !== undefined || this.down.complete) {
      this.up.destroy()
      this.downReq.destroy()
      return
    }
    // Graceful: finish the upload (the server then ends the download), and stop waiting
    // for that after a few seconds.
    this.up.end()
    const timer = setTimeout(() => { this.up.destroy(); this.downReq.destroy() }, 5000)
    timer.unref()
    this.down.once('end', () => { clearTimeout(timer); this.up.destroy(); this.downReq.destroy() })
    this.down.resume()
  }
}

/** TCP keepalive on a long request's socket, so that a vanished server is noticed. */
const keepAlive = (req: http.ClientRequest): void => { req.on('socket', s => { s.setKeepAlive(true, 30_000) }) }

/** Opens a stream-mode session to `a`. Rejects with TransportError, AbortError or TimeoutError. */
export async function dialStream (a: HttpAddr, agent: http.Agent, signal: AbortSignal, maxBuffered: number): Promise<StreamClientConn> {
  const base = `${a.prefix}/${newSessionId()}`
  const common = { host: a.host, port: a.port, agent, setHost: true }
  const up = http.request({
    ...common,
    method: 'POST',
    path: `${base}/up`,
    headers: { 'Content-Type': 'application/octet-stream', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-store' }
  })
  const downReq = http.request({ ...common, method: 'GET', path: `${base}/down`, headers: { 'Cache-Control': 'no-store' } })
  keepAlive(up)
  keepAlive(downReq)
  up.setNoDelay(true)
  up.flushHeaders()
  downReq.end()
  const kill = (): void => { up.destroy(); downReq.destroy() }
  const opened = new Promise<http.IncomingMessage>((resolve, reject) => {
    const fail = (err: Error): void => { kill(); reject(new TransportError(`http dial failed: ${err.message}`, { cause: err })) }
    up.once('error', fail)
    downReq.once('error', fail)
    up.once('response', (res) => { res.resume(); fail(new Error(`upload answered ${res.statusCode ?? 0}`)) })
    downReq.once('response', (res) => {
      if (res.statusCode === 200) { resolve(res); return }
      res.resume()
      fail(new Error(`download answered ${res.statusCode ?? 0}`))
    })
  })
  opened.catch(noop)
  const down = await raceSignal(opened, signal, kill)
  up.removeAllListeners('error').removeAllListeners('response')
  downReq.removeAllListeners('error').removeAllListeners('response')
  downReq.on('error', noop)
  return new StreamClientConn(up, downReq, down, formatHttpAddr(a.host, a.port, a.prefix), maxBuffered)
}
