/**
 * The SAM datagram port (UDP, default 127.0.0.1:7655): one packet per datagram,
 * `3.x <ID> <destination>[ FROM_PORT=n TO_PORT=n PROTOCOL=n …]\n<payload>`. The ID names a
 * DATAGRAM or RAW session (or subsession); the destination is base64 (padding optional) or a
 * b32 address. There is no reply channel: bad packets are counted and logged at debug level.
 */
import * as dgram from 'node:dgram'
import { parseLine, SamSyntaxError } from './line.ts'
import { sendDatagram } from './commands.ts'
import type { BridgeContext } from './context.ts'
import { messageOf } from './result.ts'

/** Longest header line of a datagram packet. */
const MAX_HEADER = 4096

/** Counters of the datagram port. */
export interface UdpStats { received: number, sent: number, malformed: number, unknownId: number, failed: number }

/** A bound datagram port. */
export interface SamUdp {
  readonly port: number
  readonly stats: UdpStats
  close (): Promise<void>
}

/** Binds the datagram port. */
export async function startSamUdp (ctx: BridgeContext, host: string, port: number): Promise<SamUdp> {
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4')
  const stats: UdpStats = { received: 0, sent: 0, malformed: 0, unknownId: 0, failed: 0 }
  sock.on('message', (msg) => {
    stats.received++
    const nl = msg.subarray(0, MAX_HEADER).indexOf(10)
    if (nl < 0) { stats.malformed++; return }
    const payload = msg.subarray(nl + 1)
    let words: string[]
    let args: ReadonlyMap<string, string>
    try {
      const header = msg.subarray(0, nl).toString('utf8')
      // `3.x ID DEST [pairs]`: the first three words are positional.
      const m = /^\s*(3(?:\.\d{1,3})?)\s+(\S+)\s+(\S+)(.*)$/.exec(header)
      if (m === null) throw new SamSyntaxError('header is not "3.x ID DESTINATION [options]"')
      words = [m[2]!, m[3]!]
      args = parseLine(`X${m[4] ?? ''}`).args
    } catch (err) {
      stats.malformed++
      ctx.log.debug('sam datagram: bad header', { error: messageOf(err) })
      return
    }
    if (payload.length < 1 || payload.length > ctx.limits.maxDatagramBytes) { stats.malformed++; return }
    const sub = ctx.registry.subs.get(words[0]!)
    if (sub === undefined || sub.spec.style === 'STREAM' || sub.session.isClosed) { stats.unknownId++; return }
    sendDatagram(sub, words[1]!, Buffer.from(payload), args).then(() => { stats.sent++ }, (err: unknown) => {
      stats.failed++
      ctx.log.debug('sam datagram: not sent', { id: words[0], error: messageOf(err) })
    })
  })
  sock.on('error', (err) => { ctx.log.warn('sam datagram port error', { error: messageOf(err) }) })
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject)
    sock.bind(port, host, () => { sock.off('error', reject); resolve() })
  })
  return {
    port: sock.address().port,
    stats,
    close: async () => { await new Promise<void>((resolve) => { try { sock.close(() => { resolve() }) } catch { resolve() } }) }
  }
}
