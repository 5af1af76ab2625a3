/**
 * `umbra router`: runs one router until SIGINT/SIGTERM. Prints its ID, bound addresses and
 * signed RouterInfo (base64) so another router can link to it with `--peer`, and one line per
 * link event. Shuts down cleanly: links are closed with a CLOSE frame, listeners released.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { Router } from '../router/router.ts'
import { parse, untilStopped } from './args.ts'

const HELP = `Usage: umbra router [options]

Runs one router. It prints its RouterInfo (base64); give that to another router's --peer.

Options:
  --data-dir DIR     keys and state (default: $XDG_DATA_HOME/umbra or ~/.local/share/umbra)
  --listen ADDR      address to listen on; repeatable (default: udp, tcp and http on 127.0.0.1, free ports)
                     e.g. udp://127.0.0.1:7001  tcp://127.0.0.1:7002  http://127.0.0.1:7003/umbra
  --peer INFO        a peer's RouterInfo (base64) to link to; repeatable
  --network NAME     network name; routers of different networks never link (default: umbra)
  -h, --help         show this text
`

/** Default data directory: XDG data home. */
export function defaultDataDir (): string {
  return join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'umbra')
}

export async function runRouter (argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    'data-dir': { type: 'string' },
    listen: { type: 'string', multiple: true },
    peer: { type: 'string', multiple: true },
    network: { type: 'string' },
    help: { type: 'boolean', short: 'h' }
  })
  if (values.help === true) { process.stdout.write(HELP); return 0 }
  const router = await Router.start({
    dataDir: values['data-dir'] ?? defaultDataDir(),
    listen: values.listen ?? ['udp://127.0.0.1:0', 'tcp://127.0.0.1:0', 'http://127.0.0.1:0/umbra'],
    network: values.network ?? 'umbra'
  })
  const short = (id: Uint8Array): string => Buffer.from(id).toString('hex').slice(0, 12)
  router.links.onLinkOpen = (l) => { console.log(`link up    ${short(l.peer!.id)} over ${l.transport} (${l.initiator ? 'outbound' : 'inbound'})`) }
  router.links.onLinkClosed = (l, err) => { console.log(`link down  ${short(l.peer!.id)} over ${l.transport}${err !== undefined ? `: ${err.message}` : ''}`) }
  console.log(`router     ${router.idHex}`)
  for (const a of router.addresses) console.log(`listening  ${a}`)
  console.log(`info       ${Buffer.from(router.info.raw).toString('base64')}`)
  for (const p of values.peer ?? []) {
    router.connectInfo(new Uint8Array(Buffer.from(p, 'base64')), AbortSignal.timeout(30_000))
      .catch((err: unknown) => { console.log(`link failed: ${err instanceof Error ? err.message : String(err)}`) })
  }
  const why = await untilStopped()
  console.log(`stopping (${why})`)
  await router.stop()
  return 0
}
