/**
 * One client connection to the SAM bridge: HELLO first, then commands one at a time (pipelined
 * input is buffered, bounded, and served in order). A connection is a control socket (it may
 * create one session and then lives as long as it), or it turns into a stream (CONNECT, ACCEPT)
 * or stays open as a FORWARD registration. Every reply is one line in one write. A malformed
 * line gets an I2P_ERROR reply; only an overlong line (framing lost) or a failed HELLO closes
 * the connection. Commands: `commands.ts`; byte formats: `docs/sam.md`.
 */
import type { Socket } from 'node:net'
import type { StreamSocket } from '../../streaming/socket.ts'
import { splice } from '../splice.ts'
import { formatLine, LineSplitter, parseLine, SamSyntaxError, type SamLine } from './line.ts'
import { messageOf, resultOf, SamRequestError } from './result.ts'
import type { ControlSink, SamSession } from './session.ts'
import { atLeast } from './version.ts'
import type { BridgeContext } from './context.ts'
import { runCommand, replyWords } from './commands.ts'

/** What a connection is doing. */
type Mode = 'control' | 'pipe' | 'accept' | 'forward' | 'closed'

/** A reply line: its words and pairs. */
export type Reply = readonly [readonly string[], ReadonlyArray<readonly [string, string | number | undefined]>]

/** Bytes a waiting (ACCEPT, FORWARD) connection may send before it is paused. */
const MAX_WAITING_BYTES = 64 * 1024

/** One client connection (see module doc). */
export class SamConnection implements ControlSink {
  /** The negotiated version ('' before HELLO). */
  version = ''
  /** The session this connection created (its control socket), if any. */
  session: SamSession | undefined
  /** Aborts a SESSION CREATE in progress when the connection goes. */
  creating: AbortController | undefined
  private mode: Mode = 'control'
  private readonly splitter = new LineSplitter()
  private busy = false
  private timer: NodeJS.Timeout | undefined
  /** Called when the connection closes (a waiter removes itself, a session closes). */
  private readonly cleanups: Array<() => void> = []
  private readonly onData = (chunk: Buffer): void => {
    this.splitter.push(chunk)
    if (this.mode === 'control') { void this.pump(); return }
    if (this.splitter.buffered > MAX_WAITING_BYTES) this.socket.pause()
  }

  constructor (readonly socket: Socket, readonly ctx: BridgeContext) {
    socket.setNoDelay(true)
    socket.on('data', this.onData)
    socket.on('error', () => {})
    socket.on('end', this.onEnd)
    socket.once('close', () => { this.closed() })
    this.arm(ctx.limits.helloTimeoutMs, () => {
      this.send([['HELLO', 'REPLY'], [['RESULT', 'I2P_ERROR'], ['MESSAGE', 'no HELLO in time']]])
      this.close()
    })
  }

  // ---- ControlSink ----
  get ports (): boolean { return atLeast(this.version, 2) }
  get backlog (): number { return this.socket.writableLength }
  write (bytes: Uint8Array | string): void { if (!this.socket.destroyed && this.mode !== 'closed') this.socket.write(bytes) }

  /** Sends one reply line. */
  send (r: Reply): void { this.write(formatLine(r[0], r[1])) }

  /** Ends the connection after what was written. */
  close (): void {
    if (this.mode === 'closed') return
    this.socket.end()
    const t = setTimeout(() => { this.socket.destroy() }, 2000)
    t.unref()
  }

  /** Runs `fn` when the connection closes. */
  onClosed (fn: () => void): void { this.cleanups.push(fn) }

  /** (Re)starts the single timer of this connection. */
  arm (ms: number, fn: () => void): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = ms > 0 ? setTimeout(fn, ms) : undefined
    this.timer?.unref()
  }

  private readonly onEnd = (): void => {
    // The client finished sending: serve what it sent, then close (unless it became a stream).
    if (this.mode === 'control' && !this.busy) this.close()
  }

  private closed (): void {
    this.mode = 'closed'
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.creating?.abort()
    for (const fn of this.cleanups.splice(0)) fn()
  }

  /** Serves buffered lines in order, one command at a time. */
  private async pump (): Promise<void> {
    if (this.busy) return
    this.busy = true
    try {
      while (this.mode === 'control') {
        let line: string | undefined
        try {
          line = this.splitter.nextLine()
        } catch (err) {
          this.send([[...(this.version === '' ? ['HELLO', 'REPLY'] : ['SESSION', 'STATUS'])], [['RESULT', 'I2P_ERROR'], ['MESSAGE', messageOf(err)]]])
          this.close()
          return
        }
        if (line === undefined) break
        if (line.trim() === '') continue
        this.socket.pause()
        try {
          await this.handle(line)
        } finally {
          if (this.mode === 'control') this.socket.resume()
        }
      }
    } finally {
      this.busy = false
    }
    if (this.mode === 'control' && this.socket.readableEnded) this.close()
  }

  private async handle (text: string): Promise<void> {
    let cmd: SamLine
    try {
      cmd = parseLine(text)
    } catch (err) {
      if (!(err instanceof SamSyntaxError)) throw err
      if (this.version === '') { this.send([['HELLO', 'REPLY'], [['RESULT', 'I2P_ERROR'], ['MESSAGE', err.message]]]); this.close(); return }
      const verb = /^\s*(\S+)/.exec(text)?.[1]?.toUpperCase() ?? ''
      this.send([replyWords(verb), [['RESULT', 'I2P_ERROR'], ['MESSAGE', err.message]]])
      return
    }
    try {
      await runCommand(this, cmd)
    } catch (err) {
      if (this.mode === 'closed') return
      const result = resultOf(err)
      if (!(err instanceof SamRequestError) && result === 'I2P_ERROR') this.ctx.log.warn('sam command failed', { verb: cmd.verb, sub: cmd.sub, error: messageOf(err) })
      const pairs: Array<readonly [string, string | undefined]> = [['RESULT', result]]
      if (cmd.verb === 'NAMING') pairs.push(['NAME', cmd.args.get('NAME')])
      pairs.push(['MESSAGE', messageOf(err)])
      this.send([replyWords(cmd.verb), pairs])
    }
  }

  /** The payload of a `SIZE=n` command: waits until n bytes arrived (bounded by the caller). */
  async payload (n: number): Promise<Buffer> {
    for (;;) {
      const b = this.splitter.nextBytes(n)
      if (b !== undefined) return b
      if (this.mode !== 'control' || this.socket.readableEnded) throw new SamRequestError('I2P_ERROR', 'connection ended inside a payload')
      await new Promise<void>((resolve) => {
        const go = (): void => { this.socket.off('data', go); this.socket.off('close', go); this.socket.off('end', go); resolve() }
        this.socket.on('data', go)
        this.socket.once('close', go)
        this.socket.once('end', go)
        this.socket.resume()
      })
      this.socket.pause()
    }
  }

  // ---- turning into a stream ----

  /** The connection becomes a byte pipe to `stream` (after CONNECT, or when an ACCEPT is served). */
  pipeTo (stream: StreamSocket, firstLine?: string): void {
    if (this.mode === 'closed') { stream.destroy(); return }
    this.mode = 'pipe'
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.socket.off('data', this.onData)
    this.socket.off('end', this.onEnd)
    if (firstLine !== undefined) this.socket.write(firstLine)
    const head = this.splitter.takeRest()
    splice(this.socket, stream, { headA: head })
  }

  /** The connection waits for a stream (ACCEPT) or stays open for a FORWARD. */
  wait (mode: 'accept' | 'forward'): void {
    this.mode = mode
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.socket.off('end', this.onEnd)
    this.socket.once('end', () => { if (this.mode === mode) this.socket.destroy() })
    this.socket.resume()
  }
}
