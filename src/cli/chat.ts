/**
 * `umbra chat`: the interactive chat UI, and verbs for scripts. Every form is a client of the
 * chat node that `umbra router` runs for its data directory (`<data dir>/chat/chat.sock`, see
 * src/apps/chat/node.ts); nothing here touches the network itself.
 */
import { loadConfig } from '../router/config.ts'
import { ConfigError } from '../util/errors.ts'
import { ChatClient } from '../apps/chat/local-client.ts'
import { failure, parse, positiveInt, untilStopped } from './args.ts'
import { chatSocket } from './chat-node.ts'
import { formatEvent, runChatTui } from './chat-tui.ts'

const HELP = `Usage: umbra chat [VERB ARGS...] [options]

Anonymous chat: rooms and direct messages, through the chat node of a running router
(\`umbra router\` runs one for its data directory). Without a verb: the interactive UI
(/help inside it lists its commands).

Verbs:
  init NICK             create your chat identity (once), with a nickname
  nick NICK             change your nickname
  whoami                your address and nickname (give the address to friends)
  send TO TEXT...       send TEXT to a room (#name or id) or a person (.b32.umbra address
                        or a known nickname); waits up to --wait seconds for delivery,
                        else the message stays queued and is retried for 7 days
  listen                print messages as they arrive (--history N: the last N first)
  create NAME           create a room; prints its invite
  join INVITE           join a room from its invite (umbra://chat/room/...)
  invite ROOM           print a room's invite (share it like a password)
  leave ROOM            leave a room
  rooms                 rooms and their members
  history REF           stored messages of a room or with a person (--limit N)
  status                the chat node's state: links, outbox, dropped input by reason

Options:
  --data-dir DIR        the router's data directory (default as for umbra router)
                        [UMBRA_DATA_DIR]
  --config FILE         the router's config file
  --socket PATH         the chat node's socket (default <data dir>/chat/chat.sock)
  --wait S              send, join: seconds to wait for delivery / a member (default 30)
  --history N           listen: print the last N messages of each room first (default 0)
  --limit N             history: how many (default 50)
  --json                machine-readable output (JSON lines)
  -h, --help            show this text

Exit status: 0 ok (send: delivered, or posted to a room), 3 send: queued, not yet
delivered; 2 bad arguments or refused; 1 the chat node could not be reached.
`

/** `umbra chat`. */
export async function runChat (argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parse(argv, {
      'data-dir': { type: 'string' },
      config: { type: 'string' },
      socket: { type: 'string' },
      wait: { type: 'string' },
      history: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' }
    })
    if (values.help === true) { process.stdout.write(HELP); return 0 }
    const socket = values.socket ?? chatSocket((await loadConfig({ ...(values['data-dir'] !== undefined ? { 'data-dir': values['data-dir'] } : {}), ...(values.config !== undefined ? { config: values.config } : {}) }, process.env)).dataDir)
    const [verb, ...args] = positionals
    const json = values.json === true
    const waitMs = positiveInt('wait', values.wait, 30, 120) * 1000
    const client = await ChatClient.connect(socket)
    try {
      const out = (human: string, obj: unknown): void => { console.log(json ? JSON.stringify(obj) : human) }
      const need = (n: number, what: string): void => {
        if (args.length < n) throw new ConfigError(`umbra chat ${verb ?? ''}: give ${what} (see umbra chat --help)`)
      }
      switch (verb) {
        case undefined: {
          await runChatTui({ client, input: process.stdin, output: process.stdout })
          return 0
        }
        case 'init': case 'nick': {
          need(1, 'a nickname')
          const r = await client.request(verb, { nick: args.join(' ') })
          out(verb === 'init' ? `you are ${String(r.nick)} at ${String(r.address)}` : `nickname: ${String(r.nick)}`, r)
          return 0
        }
        case 'whoami': {
          const { status } = await client.request('status') as { status: Record<string, unknown> }
          if (status.initialized === false) throw new ConfigError('no chat identity yet: run umbra chat init NICK')
          out(`${String(status.nick)} ${String(status.address)}`, { nick: status.nick, address: status.address })
          return 0
        }
        case 'send': {
          need(2, 'TO and TEXT')
          const r = await client.request('send', { to: args[0], text: args.slice(1).join(' '), wait: waitMs }, waitMs + 60_000)
          if (r.state === 'queued') {
            out(`queued (not delivered yet; retried for up to 7 days while the router runs): ${String(r.id)}`, r)
            return 3
          }
          out(r.state === 'delivered' ? `delivered to ${String(r.to)}` : `posted in room ${String(r.room).slice(0, 12)}`, r)
          return 0
        }
        case 'create': {
          need(1, 'a room name')
          const r = await client.request('create', { name: args.join(' ') })
          out(String(r.invite), r)
          return 0
        }
        case 'join': {
          need(1, 'an invite')
          const r = await client.request('join', { invite: args[0], wait: waitMs }, waitMs + 60_000)
          out(r.connected === true ? `joined #${String(r.name)}` : `joined #${String(r.name)}; no member reachable yet (it keeps trying)`, r)
          return 0
        }
        case 'invite': case 'leave': {
          need(1, 'a room')
          const r = await client.request(verb, { room: args[0] })
          out(verb === 'invite' ? String(r.invite) : `left ${args[0]!}`, r)
          return 0
        }
        case 'rooms': {
          const r = await client.request('rooms') as { rooms: Array<{ id: string, name: string, links: number, members: Array<{ address: string, nick: string, self: boolean }> }> }
          if (json) { for (const room of r.rooms) console.log(JSON.stringify(room)); return 0 }
          for (const room of r.rooms) {
            console.log(`#${room.name} (${room.id.slice(0, 12)}) ${room.links} link${room.links === 1 ? '' : 's'}`)
            for (const m of room.members) console.log(`  ${m.nick === '' ? '?' : m.nick}${m.self ? ' (you)' : ''} ${m.address}`)
          }
          return 0
        }
        case 'history': {
          need(1, 'a room or an address')
          const r = await client.request('history', { ref: args[0], limit: positiveInt('limit', values.limit, 50, 1000) }) as { messages: Array<Record<string, unknown>> }
          for (const m of r.messages) console.log(json ? JSON.stringify(m) : formatEvent(m))
          return 0
        }
        case 'status': {
          const { status } = await client.request('status')
          out(JSON.stringify(status, null, 2), status)
          return 0
        }
        case 'listen': {
          const n = values.history === undefined ? 0 : positiveInt('history', values.history, 0, 1000)
          await client.listen()
          client.on('event', (e) => { console.log(json ? JSON.stringify(e) : formatEvent(e)) })
          if (n > 0) {
            const { rooms } = await client.request('rooms') as { rooms: Array<{ id: string }> }
            for (const room of rooms) {
              const r = await client.request('history', { ref: room.id, limit: n }) as { messages: Array<Record<string, unknown>> }
              for (const m of r.messages) console.log(json ? JSON.stringify(m) : formatEvent(m))
            }
          }
          const closed = new Promise<string>(resolve => { client.once('close', () => { resolve('closed') }) })
          const why = await Promise.race([untilStopped(), closed])
          if (why === 'closed') { process.stderr.write('umbra chat: the chat node went away\n'); return 1 }
          return 0
        }
        default:
          throw new ConfigError(`umbra chat: unknown verb '${verb.slice(0, 32)}' (see umbra chat --help)`)
      }
    } finally {
      client.close()
    }
  } catch (err) {
    return failure('chat', err)
  }
}
