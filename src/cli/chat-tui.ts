/**
 * `umbra chat` without a verb: a line-based terminal UI for chat's local API
 * (src/apps/chat/local-api.ts). One scrolling log of room messages, direct messages and
 * delivery notes above a readline prompt that names the current target (`[#room] > ` or
 * `[@nick] > `); a plain line goes to that target, `/commands` do the rest (`/help`).
 *
 * Messages are shown from the service's events only (your own posts come back as events with
 * `self`), so each appears once, in the order the service stored them. An event that arrives
 * while you type is printed above the prompt, which is then redrawn with the half-typed line.
 * Everything a peer controls (nicknames, texts, room names) is untrusted: escape sequences and
 * control characters are removed before printing, and continuation lines of a multi-line
 * message are indented so a peer cannot fake other lines. Request errors are printed as
 * `!! message` and never end the UI.
 */
import * as readline from 'node:readline'
import { ChatClient } from '../apps/chat/local-client.ts'
import { failure } from './args.ts'

/** What the UI needs of a {@link ChatClient} (tests pass a fake). */
export type ChatTuiClient = Pick<ChatClient, 'request' | 'listen' | 'on' | 'close'>

/** Settings of {@link runChatTui}. */
export interface ChatTuiOptions {
  /** A connected client; closed when the UI ends. */
  client: ChatTuiClient
  input: NodeJS.ReadableStream
  output: NodeJS.WritableStream
  /** Whether `input`/`output` are a terminal (prompt, line editing); default `input.isTTY`. */
  terminal?: boolean
}

/** Messages shown when switching to a room or a person, and at start. */
const HISTORY_LINES = 20
/** Message ids remembered to show each message once (history at start vs. live events). */
const SEEN_IDS = 2000

const HELP = `Commands (a line without / is sent to the current room or person; //text sends /text):
  /help                 this text
  /join INVITE          join a room from its invite (umbra://chat/room/...)
  /create NAME          create a room and print its invite
  /room NAME|ID         switch to a room and show its last messages
  /msg TO TEXT          send a direct message (TO: .b32.umbra address or nickname; #room posts)
  /query TO             talk to a person: plain lines go to them
  /nick NAME            change your nickname (the first one creates your chat identity)
  /invite [ROOM]        print a room's invite (whoever has it can read and post: share carefully)
  /leave [ROOM]         leave a room
  /rooms                rooms you are in
  /members [ROOM]       who is in a room
  /history [N]          the last N messages here (default ${HISTORY_LINES})
  /status               the chat node's state
  /quit                 leave (Ctrl-C and Ctrl-D too)`

interface RoomInfo { id: string, name: string }
type Target = { kind: 'room', id: string, name: string } | { kind: 'dm', to: string, nick: string } | undefined
type Answer = Record<string, unknown>

/**
 * Runs the interactive UI on `input`/`output` until /quit, the end of input (pending requests
 * are finished first) or the client's connection closing (a line says so). Never rejects for a
 * failed request: those are printed as `!!` lines. Closes the client at the end.
 */
export async function runChatTui (opts: ChatTuiOptions): Promise<void> {
  const { client, input, output } = opts
  const terminal = opts.terminal ?? (input as { isTTY?: boolean }).isTTY === true
  const rl = readline.createInterface({ input, output, terminal, prompt: '[no room] > ', historySize: 200 })

  let done = false
  let finish: () => void = () => {}
  const finished = new Promise<void>((resolve) => { finish = resolve })
  /** Events that arrive before the first history is shown wait here (so they come after it). */
  let held: Answer[] | undefined = []
  let initialized = true
  let selfAddress = ''
  let selfNick = ''
  let target: Target
  let rooms: RoomInfo[] = []
  /** address → last nickname seen (for /msg NICK and the prompt). */
  const nicks = new Map<string, string>()
  const seen = new Set<string>()

  // ---- output ----

  /** Erases the prompt and the input after it (which may wrap over several rows). */
  const clearPrompt = (): void => {
    const { rows } = rl.getCursorPos()
    readline.moveCursor(output, 0, -rows)
    readline.cursorTo(output, 0)
    readline.clearScreenDown(output)
  }
  /** Prints lines above the prompt, keeping what the user has typed so far. */
  const print = (...lines: string[]): void => {
    if (done) return
    if (terminal) clearPrompt()
    output.write(lines.join('\n') + '\n')
    if (terminal) rl.prompt(true)
  }
  const fail = (err: unknown, prefix = ''): void => {
    const msg = err instanceof Error ? err.message : String(err)
    print(`!! ${prefix}${sanitize(msg.split('\n')[0] ?? '')}`)
  }
  const setTarget = (t: Target): void => {
    target = t
    rl.setPrompt(t === undefined ? '[no room] > ' : t.kind === 'room' ? `[#${sanitizeLine(t.name)}] > ` : `[@${sanitizeLine(t.nick)}] > `)
    if (terminal && !done) rl.prompt(true)
  }
  const nickOf = (address: string): string => nicks.get(address) ?? shortAddress(address)
  const roomLabel = (r: RoomInfo): string => `#${sanitizeLine(r.name)}`

  // ---- events ----

  const learn = (ev: Answer): void => {
    if (ev.type !== 'message') return
    if (typeof ev.from === 'string' && typeof ev.nick === 'string' && ev.nick !== '' && ev.from !== selfAddress) nicks.set(ev.from, ev.nick)
    if (ev.kind !== 'leave' && typeof ev.room === 'string' && typeof ev.roomName === 'string' && !rooms.some(r => r.id === ev.room)) {
      rooms.push({ id: ev.room, name: ev.roomName })
      if (target === undefined) setTarget({ kind: 'room', id: ev.room, name: ev.roomName })
    }
  }
  const remember = (id: unknown): boolean => {
    if (typeof id !== 'string') return true
    if (seen.has(id)) return false
    seen.add(id)
    if (seen.size > SEEN_IDS) seen.delete(seen.values().next().value as string)
    return true
  }
  const show = (ev: Answer): void => {
    learn(ev)
    if (ev.type === 'message' && !remember(ev.id)) return
    print(formatEvent(ev, { nickOf, roomName: id => rooms.find(r => r.id === id)?.name }))
  }
  client.on('event', (ev) => {
    if (done) return
    if (held !== undefined) held.push(ev)
    else show(ev)
  })
  client.on('close', () => {
    if (done) return
    print('-- the chat service closed the connection (did the router stop?)')
    end()
  })

  // ---- requests ----

  const request = async (op: string, args: Answer = {}, timeoutMs?: number): Promise<Answer> => await client.request(op, args, timeoutMs)
  /** The `rooms` answer's list; also updates the known rooms and members' nicknames. */
  const refreshRooms = async (): Promise<Answer[]> => {
    const list = asArray((await request('rooms')).rooms)
    rooms = list.map(x => ({ id: str(x.id), name: str(x.name) }))
    for (const room of list) {
      for (const m of asArray(room.members)) {
        if (m.self !== true && typeof m.address === 'string' && typeof m.nick === 'string' && m.nick !== '') nicks.set(m.address, m.nick)
      }
    }
    return list
  }
  /** A room by `#name`, name, id or id prefix (6+), among those known (refreshed if not found). */
  const findRoom = async (ref: string): Promise<RoomInfo> => {
    const r = ref.startsWith('#') ? ref.slice(1) : ref
    const pick = (): RoomInfo | undefined => {
      const byId = rooms.find(x => x.id === r.toLowerCase())
      if (byId !== undefined) return byId
      const named = rooms.filter(x => x.name === r)
      if (named.length > 1) throw new Error(`${named.length} rooms are called '${r}': use the id (/rooms shows them)`)
      if (named.length === 1) return named[0]
      const prefixed = r.length >= 6 ? rooms.filter(x => x.id.startsWith(r.toLowerCase())) : []
      return prefixed.length === 1 ? prefixed[0] : undefined
    }
    let found = pick()
    if (found === undefined) {
      await refreshRooms()
      found = pick()
    }
    if (found === undefined) throw new Error(`you are not in a room '${r}' (/rooms lists yours)`)
    return found
  }
  /** The room named by `ref`, or the current one. */
  const roomOrCurrent = async (ref: string): Promise<RoomInfo> => {
    if (ref !== '') return await findRoom(ref)
    if (target?.kind === 'room') return { id: target.id, name: target.name }
    throw new Error('name a room (you are not in one now)')
  }
  /** An address for a nickname (or address) someone used; undefined if unknown. */
  const resolvePerson = (who: string): string | undefined => {
    if (/\.b32\.(umbra|i2p)$/i.test(who)) return who
    const matches = [...nicks].filter(([, n]) => n === who).map(([a]) => a)
    if (matches.length > 1) throw new Error(`${matches.length} people are called '${who}': use an address (/members shows them)`)
    return matches[0]
  }
  const showHistory = async (t: Target, limit: number): Promise<void> => {
    if (t === undefined) { print('-- no room or person selected'); return }
    const ref = t.kind === 'room' ? t.id : resolvePerson(t.to)
    const label = t.kind === 'room' ? `#${sanitizeLine(t.name)}` : `@${sanitizeLine(t.nick)}`
    if (ref === undefined) { print(`-- no messages with ${label} yet`); return }
    const msgs = asArray((await request('history', { ref, limit })).messages)
    if (msgs.length === 0) { print(`-- no messages with ${label} yet`); return }
    for (const m of msgs) { learn(m); remember(m.id) }
    print(`-- last ${msgs.length} message${msgs.length === 1 ? '' : 's'} in ${label}:`, ...msgs.map(m => formatEvent(m, { nickOf, roomName: id => rooms.find(x => x.id === id)?.name })))
  }
  const showHeader = (status: Answer): void => {
    selfAddress = str(status.address)
    selfNick = str(status.nick)
    rooms = asArray(status.rooms).map(x => ({ id: str(x.id), name: str(x.name) }))
    const roomList = asArray(status.rooms).map(r => `#${sanitizeLine(str(r.name))} (${num(r.members)} member${num(r.members) === 1 ? '' : 's'})`)
    print(
      `umbra chat: you are ${sanitizeLine(selfNick)} at ${sanitizeLine(selfAddress)}`,
      `rooms: ${roomList.length === 0 ? 'none yet (/create NAME or /join INVITE)' : roomList.join(', ')}`,
      ...(status.online === false ? ['!! offline: no connection to the network yet; messages wait and are sent later'] : []),
      'type /help for commands'
    )
  }

  /** Requests still running (sends are not waited for; at the end of input they are). */
  const inflight = new Set<Promise<unknown>>()
  const track = (p: Promise<unknown>): void => {
    inflight.add(p)
    void p.finally(() => { inflight.delete(p) })
  }
  /** Sends `text` to a room or person without waiting for the answer (it arrives as an event). */
  const send = (to: string, text: string): void => {
    track(request('send', { to, text }).then((r) => {
      if (r.state === 'queued') print(`-- ${sanitizeLine(nickOf(str(r.to)))} is not reachable now: message ${str(r.id).slice(0, 8)} queued, it is retried for 7 days`)
      // A nickname the service resolved: the prompt names the person, the target their address.
      if (target?.kind === 'dm' && target.to === to && typeof r.to === 'string' && r.to !== to) setTarget({ kind: 'dm', to: r.to, nick: target.nick })
    }, (err: unknown) => { fail(err, `not sent (${text.length > 40 ? text.slice(0, 40) + '…' : text}): `) }))
  }

  // ---- commands ----

  const command = async (line: string): Promise<void> => {
    const m = /^\/(\S*)\s*(.*)$/s.exec(line)
    const cmd = (m?.[1] ?? '').toLowerCase()
    const arg = (m?.[2] ?? '').trim()
    const needArg = (what: string): void => { if (arg === '') throw new Error(`/${cmd} needs ${what} (see /help)`) }
    if (!initialized && !['nick', 'help', 'quit', 'exit', 'status'].includes(cmd)) {
      print('!! pick a nickname first: /nick NAME')
      return
    }
    switch (cmd) {
      case 'help': print(HELP); return
      case 'quit': case 'exit': end(); return
      case 'nick': {
        needArg('a nickname')
        if (!initialized) {
          const r = await request('init', { nick: arg })
          initialized = true
          print(`-- your chat identity is ready; give your address to friends: ${sanitizeLine(str(r.address))}`)
          await start()
          return
        }
        const r = await request('nick', { nick: arg })
        selfNick = str(r.nick)
        print(`-- you are now ${sanitizeLine(selfNick)}`)
        return
      }
      case 'join': {
        needArg('an invite')
        print('-- joining (waiting up to 30 s for a member to answer)…')
        const r = await request('join', { invite: arg })
        const room = { id: str(r.room), name: str(r.name) }
        if (!rooms.some(x => x.id === room.id)) rooms.push(room)
        print(r.connected === true ? `-- joined ${roomLabel(room)}` : `-- joined ${roomLabel(room)}; no member reachable yet (it keeps trying)`)
        setTarget({ kind: 'room', ...room })
        return
      }
      case 'create': {
        needArg('a room name')
        const r = await request('create', { name: arg })
        const room = { id: str(r.room), name: arg }
        if (!rooms.some(x => x.id === room.id)) rooms.push(room)
        print(`-- created ${roomLabel(room)}; its invite (whoever has it can read and post):`, sanitizeLine(str(r.invite)))
        setTarget({ kind: 'room', ...room })
        return
      }
      case 'room': case 'r': {
        needArg('a room name or id')
        const room = await findRoom(arg)
        setTarget({ kind: 'room', ...room })
        await showHistory(target, HISTORY_LINES)
        return
      }
      case 'msg': case 'm': {
        const mm = /^(\S+)\s+(.+)$/s.exec(arg)
        if (mm === null) throw new Error('/msg needs TO and TEXT (see /help)')
        const to = mm[1]!
        const text = mm[2]!
        if (to.startsWith('#')) { send((await findRoom(to)).id, text); return }
        const address = resolvePerson(to)
        if (address === undefined && rooms.some(r => r.name === to)) throw new Error(`'${to}' is a room: write #${to}, or an address for a person`)
        send(address ?? to, text)
        return
      }
      case 'query': case 'q': {
        needArg('an address or nickname')
        if (arg.startsWith('#')) { setTarget({ kind: 'room', ...await findRoom(arg) }); await showHistory(target, HISTORY_LINES); return }
        const address = resolvePerson(arg)
        setTarget({ kind: 'dm', to: address ?? arg, nick: address === arg ? nickOf(address) : arg })
        if (address !== undefined) await showHistory(target, HISTORY_LINES)
        else print(`-- talking to ${sanitizeLine(arg)} (the chat node resolves the nickname when you send)`)
        return
      }
      case 'invite': {
        const room = await roomOrCurrent(arg)
        const r = await request('invite', { room: room.id })
        print(`-- invite to ${roomLabel(room)} (whoever has it can read and post):`, sanitizeLine(str(r.invite)))
        return
      }
      case 'leave': case 'part': {
        const room = await roomOrCurrent(arg)
        await request('leave', { room: room.id })
        rooms = rooms.filter(x => x.id !== room.id)
        print(`-- left ${roomLabel(room)}`)
        if (target?.kind === 'room' && target.id === room.id) {
          const next = rooms[0]
          setTarget(next === undefined ? undefined : { kind: 'room', ...next })
        }
        return
      }
      case 'rooms': {
        const list = await refreshRooms()
        if (list.length === 0) { print('-- no rooms yet (/create NAME or /join INVITE)'); return }
        print('-- your rooms:', ...list.map((x) => {
          const members = asArray(x.members).length
          const cur = target?.kind === 'room' && target.id === x.id ? '*' : ' '
          return ` ${cur} #${sanitizeLine(str(x.name))}  ${str(x.id).slice(0, 12)}  ${members} member${members === 1 ? '' : 's'}, ${num(x.links)} link${num(x.links) === 1 ? '' : 's'}`
        }))
        return
      }
      case 'members': case 'who': case 'names': {
        const room = await roomOrCurrent(arg)
        const found = (await refreshRooms()).find(x => x.id === room.id)
        if (found === undefined) throw new Error(`you are not in ${roomLabel(room)} any more`)
        const members = asArray(found.members)
        print(`-- ${members.length} member${members.length === 1 ? '' : 's'} of ${roomLabel(room)}:`, ...members.map(mb =>
          `   ${sanitizeLine(str(mb.nick) === '' ? '?' : str(mb.nick))}${mb.self === true ? ' (you)' : ''}  ${sanitizeLine(str(mb.address))}${typeof mb.seen === 'number' && mb.seen > 0 ? `  seen ${clock(mb.seen)}` : ''}`))
        return
      }
      case 'history': {
        const n = arg === '' ? HISTORY_LINES : Number(arg)
        if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error('/history N: N is a number from 1 to 1000')
        await showHistory(target, n)
        return
      }
      case 'status': {
        const r = await request('status')
        const s = (r.status ?? {}) as Answer
        if (s.initialized === false) { print('-- no chat identity yet: pick a nickname with /nick NAME'); return }
        const counts = Object.entries((s.counts ?? {}) as Answer).map(([k, v]) => `${k} ${num(v)}`).join(', ')
        const dropped = Object.entries((s.dropped ?? {}) as Answer).map(([k, v]) => `${k} ${num(v)}`).join(', ')
        print(
          `-- ${s.online === true ? 'online' : 'offline'} as ${sanitizeLine(str(s.nick))} at ${sanitizeLine(str(s.address))}`,
          `   rooms ${asArray(s.rooms).length}, links ${num(s.links)}, outbox ${num(s.outbox)} (messages waiting for delivery)`,
          `   counts: ${counts === '' ? '-' : sanitizeLine(counts)}`,
          `   dropped: ${dropped === '' ? 'none' : sanitizeLine(dropped)}`
        )
        return
      }
      default:
        print(`!! unknown command /${sanitizeLine(cmd).slice(0, 32)}: /help lists them (to send a line starting with /, write //)`)
    }
  }

  const handle = async (line: string): Promise<void> => {
    if (line.trim() === '') return
    try {
      if (line.startsWith('/') && !line.startsWith('//')) { await command(line); return }
      const text = line.startsWith('//') ? line.slice(1) : line
      if (!initialized) { print('!! pick a nickname first: /nick NAME'); return }
      if (target === undefined) { print('!! no room or person selected: /create NAME, /join INVITE, /room NAME or /query TO'); return }
      send(target.kind === 'room' ? target.id : target.to, text)
    } catch (err) {
      fail(err)
    }
  }

  // ---- lifecycle ----

  /** Shows who you are and the first room's last messages; then live events flow. */
  const start = async (): Promise<void> => {
    const r = await request('status')
    const status = (r.status ?? {}) as Answer
    if (status.initialized === false) {
      initialized = false
      print('umbra chat: you have no chat identity yet. Pick a nickname with /nick NAME (you can change it later).', 'type /help for commands')
      return
    }
    initialized = true
    showHeader(status)
    const first = rooms[0]
    setTarget(first === undefined ? undefined : { kind: 'room', ...first })
    try {
      await client.listen()
      if (first !== undefined) await showHistory(target, HISTORY_LINES)
    } finally {
      const waiting = held ?? []
      held = undefined
      for (const ev of waiting) show(ev)
    }
  }

  let chain: Promise<void> = Promise.resolve()
  rl.on('line', (line) => {
    if (done) return
    chain = chain.then(async () => { await handle(line) })
    if (terminal) rl.prompt()
  })
  rl.on('SIGINT', () => { end() })
  rl.on('close', () => {
    if (done) return
    // End of input: finish what was asked (a script piping commands), then stop.
    void chain.then(async () => { await Promise.allSettled([...inflight]) }).then(() => { end() })
  })
  function end (): void {
    if (done) return
    done = true
    if (terminal) clearPrompt()
    rl.close()
    client.close()
    finish()
  }

  chain = chain.then(async () => {
    try { await start() } catch (err) {
      held = undefined
      fail(err)
    }
  })
  if (terminal) rl.prompt()
  await finished
}

/**
 * Connects to the chat API at `socketPath` and runs {@link runChatTui} on this process's
 * stdin/stdout. Returns the exit code (1 if the service cannot be reached).
 */
export async function runChatTuiAt (socketPath: string): Promise<number> {
  let client: ChatClient
  try { client = await ChatClient.connect(socketPath) } catch (err) { return failure('chat', err) }
  await runChatTui({ client, input: process.stdin, output: process.stdout })
  return 0
}

// ---- formatting (pure) ----

/** How {@link formatEvent} names people and rooms it only has ids of. */
export interface EventNames {
  nickOf?: (address: string) => string
  roomName?: (id: string) => string | undefined
}

/**
 * One event as printed: `HH:MM #room <nick> text`, `HH:MM *nick* text` (a DM to you),
 * `HH:MM -> nick text` (yours), `HH:MM -- nick joined #room`, delivery notes. Untrusted fields
 * are {@link sanitize}d; continuation lines of a multi-line text are indented.
 */
export function formatEvent (ev: Record<string, unknown>, names: EventNames = {}): string {
  const nickOf = (a: string): string => names.nickOf?.(a) ?? shortAddress(a)
  switch (ev.type) {
    case 'message': {
      const time = clock(ev.ts)
      const nick = sanitizeLine(str(ev.nick) === '' ? shortAddress(str(ev.from)) : str(ev.nick))
      const text = sanitize(str(ev.text)).split('\n').join('\n' + ' '.repeat(8))
      if (ev.kind === 'dm') {
        return ev.self === true ? `${time} -> ${sanitizeLine(nickOf(str(ev.to)))} ${text}` : `${time} *${nick}* ${text}`
      }
      const roomId = str(ev.room)
      const room = `#${sanitizeLine(typeof ev.roomName === 'string' ? ev.roomName : names.roomName?.(roomId) ?? roomId.slice(0, 12))}`
      if (ev.kind === 'join') return `${time} -- ${nick} joined ${room}`
      if (ev.kind === 'leave') return `${time} -- ${nick} left ${room}`
      return `${time} ${room} <${nick}> ${text}`
    }
    case 'delivered': return `-- delivered (${sanitizeLine(str(ev.id).slice(0, 8))}) to ${sanitizeLine(nickOf(str(ev.to)))}`
    case 'expired': return `!! not delivered, gave up: message ${sanitizeLine(str(ev.id).slice(0, 8))} to ${sanitizeLine(nickOf(str(ev.to)))} (unreachable for 7 days)`
    case 'status': return ev.online === true ? '-- online: connected to the network' : '!! offline: lost the network session; messages wait and are sent later'
    default: return `-- event ${sanitizeLine(str(ev.type)).slice(0, 32)}`
  }
}

// eslint-disable-next-line no-control-regex
const ESCAPES = /\u001b\[[0-?]*[ -/]*[@-~]?|\u001b[\]PX^_][^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)?|\u001b[ -/]*[0-~]?|\u009b[0-?]*[ -/]*[@-~]?|[\u009d\u0090\u0098\u009e\u009f][^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)?/g

/**
 * Untrusted text made safe to print: terminal escape sequences (CSI, OSC, DCS…, also their
 * 8-bit forms) removed, tabs turned into spaces, line separators into `\n`, and every other
 * control or format character dropped (bidi overrides included; zero-width joiners kept for
 * emoji). Newlines stay: see {@link sanitizeLine}.
 */
export function sanitize (s: string): string {
  return s
    .replace(ESCAPES, '')
    .replace(/\r\n?|[\u2028\u2029]/g, '\n')
    .replace(/\t/g, ' ')
    .replace(/(?!\n)[\p{Cc}]|(?![\u200c\u200d])\p{Cf}/gu, '')
}

/** {@link sanitize}, and newlines turned into spaces: for nicknames, room names, one-line fields. */
export function sanitizeLine (s: string): string {
  return sanitize(s).replace(/\n/g, ' ')
}

/** `HH:MM` in local time, or `--:--`. */
function clock (ts: unknown): string {
  if (typeof ts !== 'number' || !Number.isFinite(ts)) return '--:--'
  const d = new Date(ts)
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`
}

/** `abcdefgh….b32.umbra` for someone without a known nickname. */
function shortAddress (a: string): string {
  const m = /^([a-z2-7]{8})[a-z2-7]*(\.b32\.\w+)$/i.exec(a)
  return m === null ? a.slice(0, 24) : `${m[1]!}…${m[2]!}`
}

function str (v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : ''
}

function num (v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0
}

function asArray (v: unknown): Answer[] {
  return Array.isArray(v) ? v.filter((x): x is Answer => x !== null && typeof x === 'object') : []
}
