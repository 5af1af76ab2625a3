/**
 * Client side, poll mode: one Conn carried by short, complete HTTP requests, for paths whose
 * proxies buffer whole bodies. Bytes up go as sequenced POSTs (one in flight, each holding
 * what queued since the last, at most `postBytes`); bytes down come from long-polled GETs that
 * ack every byte received so far (see wire.ts). A failed request is retried with the same
 * seq/ack, which the server makes idempotent. Uses the transport's keep-alive agent.
 */
import http from 'node:http'
import { ClosedError, LimitError, TimeoutError, TransportError } from '../../src/util/errors.ts'
import { raceSignal } from '../../src/util/abort.ts'
import { HttpConnBase } from './conn-base.ts'
import { ByteQueue } from './byte-queue.ts'
import { H_FIN, H_OFFSET, formatHttpAddr, newSessionId, readBody, type HttpAddr } from './wire.ts'

/** Client-side poll limits (see HttpTransportOptions). */
export interface PollClientOptions {
  postBytes: number
  pollTimeoutMs: number
  retries: number
  highWater: number
  maxBufferedBytes: number
  maxResponseBytes: number
}

interface Answer { status: number, headers: http.IncomingHttpHeaders, body: Buffer }

/** One request/response, whole bodies; `track` learns the live request (to abort it). */
async function exchange (a: HttpAddr, agent: http.Agent, method: string, path: string, body: Buffer | undefined,
  timeoutMs: number, maxBody: number, track: (r: http.ClientRequest | undefined) => void): Promise<Answer> {
  return await new Promise<Answer>((resolve, reject) => {
    const headers: Record<string, string> = { 'Cache-Control': 'no-store' }
    if (body !== undefined) {
      headers['Content-Type'] = 'application/octet-stream'
      headers['Content-Length'] = String(body.length)
    }
    const req = http.request({ host: a.host, port: a.port, agent, method, path, headers })
    track(req)
    req.setTimeout(timeoutMs, () => { req.destroy(new TimeoutError('http request timed out')) })
    req.on('error', (err) => { track(undefined); reject(err) })
    req.on('response', (res) => {
      readBody(res, maxBody).then(
        b => { track(undefined); resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }) },
        err => { track(undefined); reject(err) })
    })
    req.end(body)
  })
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms).unref()) }
const backoff = (n: number): number => Math.min(2000, 50 * 2 ** n)
/** Statuses a proxy gives for a hiccup upstream: worth another try. */
const transient = (status: number): boolean => status === 502 || status === 504

/** A poll-mode client Conn. */
export class PollClientConn extends HttpConnBase {
  private readonly queue = new ByteQueue()
  private inflight = 0
  private posting = false
  private flushScheduled = false
  private closing = false
  private remoteClosed = false
  private nextSeq = 1
  private offset = 0
  private pollReq: http.ClientRequest | undefined
  private postReq: http.ClientRequest | undefined
  private settle: () => void = () => {}
  /** Resolves when, after close, no request of this Conn is left (the fin was sent or given up). */
  readonly settled = new Promise<void>(resolve => { this.settle = resolve })

  constructor (private readonly a: HttpAddr, private readonly base: string, private readonly agent: http.Agent,
    private readonly opts: PollClientOptions) {
    super(formatHttpAddr(a.host, a.port, a.prefix), opts.maxBufferedBytes)
  }

  get bufferedAmount (): number {
    return this.closed ? 0 : this.queue.length + this.inflight
  }

  /** Starts the long-poll loop. */
  start (): void {
    void this.pollLoop()
  }

  send (data: Uint8Array): boolean {
    if (this.closed) throw new ClosedError('http conn is closed')
    if (this.bufferedAmount + data.byteLength > this.opts.maxBufferedBytes) {
      const err = new LimitError(`more than ${this.opts.maxBufferedBytes} bytes queued for the server`)
      this.close(err)
      throw err
    }
    this.queue.push(data)
    this.scheduleFlush()
    const ok = this.bufferedAmount < this.opts.highWater
    if (!ok) this.needDrain = true
    return ok
  }

  protected teardown (err?: Error): void {
    this.pollReq?.destroy()
    if (err !== undefined || this.remoteClosed) {
      this.abort()
      return
    }
    // Graceful: send what is queued and a fin, best effort.
    this.closing = true
    this.scheduleFlush()
  }

  /** Stops a graceful close: drops queued bytes and cuts the request in flight. */
  abort (): void {
    this.closing = false
    this.postReq?.destroy()
    this.settle()
  }

  private scheduleFlush (): void {
    if (this.flushScheduled || this.posting) return
    this.flushScheduled = true
    setImmediate(() => { this.flushScheduled = false; void this.flush() })
  }

  private async flush (): Promise<void> {
    if (this.posting) return
    if (this.closed && !this.closing) { this.settle(); return }
    const fin = this.closing && this.queue.length <= this.opts.postBytes
    if (this.queue.length === 0 && !fin) return
    this.posting = true
    const body = this.queue.take(this.opts.postBytes)
    this.inflight = body.length
    const path = `${this.base}/up?seq=${this.nextSeq}${fin ? '&fin=1' : ''}`
    let status = 0
    let cause: unknown
    for (let attempt = 0; attempt <= this.opts.retries; attempt++) {
      if (this.closed && !this.closing) break
      try {
        status = (await exchange(this.a, this.agent, 'POST', path, body, this.opts.pollTimeoutMs, 4096, r => { this.postReq = r })).status
        if (!transient(status)) break
      } catch (err) {
        cause = err
      }
      await sleep(backoff(attempt))
    }
    this.posting = false
    this.inflight = 0
    if (status !== 200) {
      this.close(new TransportError(status === 0 ? 'upload failed' : `upload answered ${status}`, { cause }))
      this.abort()
      return
    }
    this.nextSeq++
    if (fin) { this.abort(); return }
    if (this.bufferedAmount < this.opts.highWater >>> 1) this.drained()
    if (this.queue.length > 0 || this.closing) void this.flush()
  }

  private async pollLoop (): Promise<void> {
    let failures = 0
    while (!this.closed) {
      let ans: Answer | undefined
      let cause: unknown
      try {
        ans = await exchange(this.a, this.agent, 'GET', `${this.base}/down?ack=${this.offset}`, undefined,
          this.opts.pollTimeoutMs, this.opts.maxResponseBytes, r => { this.pollReq = r })
      } catch (err) {
        cause = err
      }
      if (this.closed) return
      const off = ans?.headers[H_OFFSET]
      if (ans === undefined || transient(ans.status) || (ans.status === 200 && off !== String(this.offset))) {
        // Lost, cut or stale: ask again with the same ack (the server still holds the bytes).
        if (++failures > this.opts.retries) {
          this.close(new TransportError('poll failed', { cause }))
          return
        }
        await sleep(backoff(failures))
        continue
      }
      if (ans.status !== 200) {
        this.close(new TransportError(`poll answered ${ans.status}`))
        return
      }
      failures = 0
      this.offset += ans.body.length
      this.deliver(ans.body)
      if (ans.headers[H_FIN] === '1') {
        this.remoteClosed = true
        this.close()
        return
      }
    }
  }
}

/** Opens a poll-mode session to `a` (POST seq 0). Rejects with TransportError, AbortError or TimeoutError. */
export async function dialPoll (a: HttpAddr, agent: http.Agent, signal: AbortSignal, opts: PollClientOptions): Promise<PollClientConn> {
  const base = `${a.prefix}/${newSessionId()}`
  let req: http.ClientRequest | undefined
  const opened = exchange(a, agent, 'POST', `${base}/up?seq=0`, Buffer.alloc(0), opts.pollTimeoutMs, 4096, r => { req = r })
  let ans: Answer
  try {
    ans = await raceSignal(opened, signal, () => { req?.destroy() })
  } catch (err) {
    if (signal.aborted) throw err
    throw new TransportError(`http dial failed: ${(err as Error).message}`, { cause: err })
  }
  if (ans.status !== 200) throw new TransportError(`http dial answered ${ans.status}`)
  const conn = new PollClientConn(a, base, agent, opts)
  conn.start()
  return conn
}
