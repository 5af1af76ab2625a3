/**
 * Requests and answers over one stream between two file-sharing nodes (framing in
 * messages.ts). {@link RpcClient} is the asking side: pipelined requests, each with its own
 * deadline, at most `maxInFlight` outstanding. {@link serveStream} is the answering side: it
 * expects `hello` first, answers requests one at a time in order, and closes the stream on a
 * protocol error, after an idle period, or when too many requests queue up. A bad peer costs
 * one stream, never the node.
 */
import type { Duplex } from 'node:stream'
import { ClosedError, DecodeError, TimeoutError, UmbraError } from '../../util/errors.ts'
import { raceSignal } from '../../util/abort.ts'
import {
  FrameReader, PROTOCOL_VERSION, decodeRequest, decodeResponse, encodeFrame, requestRecord, responseRecord,
  type Request, type Response
} from './messages.ts'

/** Options of an {@link RpcClient}. */
export interface RpcClientOptions {
  /** Requests outstanding at once (default 32); more wait in line. */
  maxInFlight?: number
  /** Default deadline of a request in ms (default 20 000). */
  timeoutMs?: number
}

interface Pending {
  resolve: (r: Response) => void
  reject: (e: Error) => void
}

/** The asking side of a stream. Sends `hello` at once. */
export class RpcClient {
  private readonly reader = new FrameReader()
  private readonly pending = new Map<number, Pending>()
  private readonly waiting: Array<() => void> = []
  private nextId = 1
  private closedWith: Error | undefined
  private readonly maxInFlight: number
  private readonly timeoutMs: number
  /** Called once when the stream ends for any reason. */
  onClose: (err: Error) => void = () => {}

  constructor (private readonly socket: Duplex, isNode: boolean, opts: RpcClientOptions = {}) {
    this.maxInFlight = opts.maxInFlight ?? 32
    this.timeoutMs = opts.timeoutMs ?? 20_000
    socket.on('data', (chunk: Buffer) => { this.onData(chunk) })
    socket.on('error', (err) => { this.close(new ClosedError(`stream failed: ${err.message}`, { cause: err })) })
    socket.on('close', () => { this.close(new ClosedError('stream closed')) })
    socket.on('end', () => { this.close(new ClosedError('stream ended by peer')) })
    socket.write(encodeFrame(0, requestRecord({ op: 'hello', v: PROTOCOL_VERSION, node: isNode })))
  }

  /** Whether the stream is gone. */
  get closed (): boolean { return this.closedWith !== undefined }

  /** Requests outstanding. */
  get inFlight (): number { return this.pending.size }

  /**
   * Sends `req` and resolves with the answer. Throws TimeoutError, AbortError, ClosedError,
   * or the RemoteError-like UmbraError when the node answered `error`.
   */
  async request (req: Request, opts: { timeoutMs?: number, signal?: AbortSignal } = {}): Promise<Response> {
    const ms = opts.timeoutMs ?? this.timeoutMs
    // The deadline is a plain timer, cleared when the answer comes: an AbortSignal.timeout (and
    // AbortSignal.any with the caller's signal) per request cost more than the request itself.
    let timer: ReturnType<typeof setTimeout> | undefined
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new TimeoutError(`no answer to ${req.op} within ${ms} ms`)) }, ms)
      timer.unref() // as AbortSignal.timeout's was: a request left running never keeps a process alive
    })
    expired.catch(() => {}) // handled by the races below; never left unhandled
    try {
      while (this.pending.size >= this.maxInFlight && this.closedWith === undefined) {
        let turn!: () => void
        const waited = new Promise<void>(resolve => { turn = resolve; this.waiting.push(resolve) })
        try {
          await raceSignal(Promise.race([waited, expired]), opts.signal)
        } catch (err) {
          // Giving up in line (deadline or abort): leave the line, else a later wake-up is spent
          // on us and the request behind waits for a slot that is already free.
          const at = this.waiting.indexOf(turn)
          if (at >= 0) this.waiting.splice(at, 1)
          else this.waiting.shift()?.()
          throw err
        }
      }
      if (this.closedWith !== undefined) throw this.closedWith
      const id = this.nextId
      this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1
      const answer = new Promise<Response>((resolve, reject) => { this.pending.set(id, { resolve, reject }) })
      this.socket.write(encodeFrame(id, requestRecord(req)))
      try {
        const r = await raceSignal(Promise.race([answer, expired]), opts.signal)
        if (r.error !== undefined) throw new UmbraError(`node refused ${req.op}: ${r.error}`)
        return r
      } finally {
        this.pending.delete(id)
        this.waiting.shift()?.()
      }
    } finally {
      clearTimeout(timer)
    }
  }

  /** Ends the stream; outstanding requests reject with `err`. */
  close (err: Error = new ClosedError('closed')): void {
    if (this.closedWith !== undefined) return
    this.closedWith = err
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
    for (const w of this.waiting.splice(0)) w()
    this.socket.destroy()
    this.onClose(err)
  }

  private onData (chunk: Uint8Array): void {
    let frames
    try {
      frames = this.reader.push(chunk)
    } catch (err) {
      this.close(err instanceof Error ? err : new DecodeError(String(err)))
      return
    }
    for (const f of frames) {
      const p = this.pending.get(f.id)
      if (p === undefined) continue
      try {
        p.resolve(decodeResponse(f.record))
      } catch (err) {
        p.reject(err instanceof Error ? err : new DecodeError(String(err)))
      }
    }
  }
}

/** What serves requests: the node's handler. `hello` is handled by {@link serveStream}. */
export type RequestHandler = (req: Exclude<Request, { op: 'hello' }>) => Promise<Response> | Response

/** Limits of {@link serveStream}. */
export interface ServeOptions {
  /** Close the stream after this long without a request (default 120 000 ms). */
  idleMs?: number
  /** Requests queued at most before the stream is closed as abusive (default 64). */
  maxQueued?: number
}

/**
 * Answers requests on an accepted stream until it ends. `onHello` learns whether the peer says
 * it is a node. Resolves when the stream is closed; never rejects.
 */
export async function serveStream (socket: Duplex, handler: RequestHandler, onHello: (isNode: boolean) => void, opts: ServeOptions = {}): Promise<void> {
  const idleMs = opts.idleMs ?? 120_000
  const maxQueued = opts.maxQueued ?? 64
  const reader = new FrameReader()
  const queue: Array<{ id: number, record: Record<string, unknown> }> = []
  let greeted = false
  let busy = false
  let idle: NodeJS.Timeout | undefined
  let done!: () => void
  const finished = new Promise<void>(resolve => { done = resolve })
  const close = (): void => {
    clearTimeout(idle)
    socket.destroy()
    done()
  }
  const arm = (): void => {
    clearTimeout(idle)
    idle = setTimeout(close, idleMs)
    idle.unref()
  }
  const pump = async (): Promise<void> => {
    if (busy) return
    busy = true
    try {
      for (let f = queue.shift(); f !== undefined && !socket.destroyed; f = queue.shift()) {
        let answer: Response
        try {
          const req = decodeRequest(f.record as never)
          if (req.op === 'hello') {
            if (!greeted) onHello(req.node)
            greeted = true
            continue
          }
          if (!greeted) { close(); return }
          answer = await handler(req)
        } catch (err) {
          if (!(err instanceof UmbraError)) { close(); return }
          answer = { error: err.message }
        }
        if (!socket.destroyed && !socket.write(encodeFrame(f.id, responseRecord(answer)))) {
          await new Promise<void>(resolve => {
            const done = (): void => { socket.off('drain', done); socket.off('close', done); resolve() }
            socket.on('drain', done)
            socket.on('close', done)
          })
        }
      }
    } finally {
      busy = false
    }
  }
  socket.on('data', (chunk: Buffer) => {
    arm()
    try {
      for (const f of reader.push(chunk)) queue.push(f)
    } catch (err) {
      void err
      close()
      return
    }
    if (queue.length > maxQueued) { close(); return }
    void pump()
  })
  socket.on('error', close)
  socket.on('close', close)
  socket.on('end', () => { socket.end() })
  arm()
  await finished
}

