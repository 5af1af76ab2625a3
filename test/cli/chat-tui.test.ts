/**
 * The interactive chat UI (src/cli/chat-tui.ts) as a user sees it: tmux runs it in a real
 * terminal against a fake chat service on a Unix socket (the real local API server with a
 * scripted handler), keys are typed with `send-keys` and the screen read with `capture-pane`.
 * Also: the non-terminal mode in-process (no identity yet, the service going away), and the
 * pure formatting of events and untrusted text.
 */
import t, { type Test } from 'tap'
import { execFile, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { startChatApi, type ChatApi } from '../../src/apps/chat/local-api.ts'
import { ChatClient } from '../../src/apps/chat/local-client.ts'
import { ConfigError } from '../../src/util/errors.ts'
import { formatEvent, runChatTui, sanitize, sanitizeLine } from '../../src/cli/chat-tui.ts'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../', import.meta.url))
const b32 = (c: string): string => c.repeat(52) + '.b32.umbra'
const ALICE = b32('a')
const BOB = b32('b')
const LOBBY = 'ab'.repeat(32)
const hex = (n: number): string => randomBytes(n).toString('hex')

// ---- a fake chat service ----

interface Req { op: string, args: Record<string, unknown> }
interface FakeRoom { id: string, name: string }

/** The local API server with a handler that answers like the chat node and records requests. */
class FakeChat {
  readonly requests: Req[] = []
  readonly subscribers = new Set<(e: unknown) => void>()
  readonly rooms: FakeRoom[] = [{ id: LOBBY, name: 'lobby' }]
  nick = 'alice'
  api!: ChatApi

  constructor (public initialized = true) {}

  static async start (t: Test, path: string, initialized = true): Promise<FakeChat> {
    const f = new FakeChat(initialized)
    f.api = await startChatApi(path, {
      request: async (op, args) => { f.requests.push({ op, args }); return await f.answer(op, args) },
      subscribe: (fn) => { f.subscribers.add(fn); return () => { f.subscribers.delete(fn) } }
    })
    t.teardown(async () => { await f.api.close() })
    return f
  }

  /** Pushes an event to every listening connection. */
  emit (ev: Record<string, unknown>): void {
    for (const fn of this.subscribers) fn(ev)
  }

  /** A live room message event. */
  say (from: string, nick: string, text: string, room = this.rooms[0]!): Record<string, unknown> {
    return { type: 'message', id: hex(16), kind: 'say', room: room.id, roomName: room.name, from, nick, ts: Date.now(), text, self: from === ALICE, history: false }
  }

  sent (text: string): Req | undefined {
    return this.requests.find(r => r.op === 'send' && r.args.text === text)
  }

  private async answer (op: string, a: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (op === 'status') {
      if (!this.initialized) return { status: { initialized: false } }
      return { status: { initialized: true, online: true, address: ALICE, nick: this.nick, rooms: this.rooms.map(r => ({ id: r.id, name: r.name, links: 1, members: 2 })), links: 1, outbox: 0, counts: { roomSent: 0 }, dropped: {} } }
    }
    if (op === 'init') { this.initialized = true; this.nick = String(a.nick); return { address: ALICE, nick: this.nick } }
    if (!this.initialized) throw new ConfigError('no chat identity yet: choose a nickname first')
    const room = (ref: unknown): FakeRoom => {
      const r = String(ref).replace(/^#/, '')
      const found = this.rooms.find(x => x.id === r || x.name === r)
      if (found === undefined) throw new ConfigError(`no room '${r}'`)
      return found
    }
    switch (op) {
      case 'nick': this.nick = String(a.nick); return { nick: this.nick }
      case 'send': {
        const to = String(a.to)
        const text = String(a.text)
        if (to.endsWith('.b32.umbra')) {
          const id = hex(16)
          this.emit({ type: 'message', id, kind: 'dm', from: ALICE, nick: this.nick, to, ts: Date.now(), text, self: true, history: false })
          return { id, to, state: 'queued' }
        }
        const r = room(to)
        const ev = this.say(ALICE, this.nick, text, r)
        this.emit(ev)
        return { id: ev.id, room: r.id }
      }
      case 'create': {
        const r = { id: hex(32), name: String(a.name) }
        this.rooms.push(r)
        return { room: r.id, invite: `umbra://chat/room/${'q'.repeat(52)}?name=${r.name}&via=${ALICE}` }
      }
      case 'join': {
        if (!String(a.invite).startsWith('umbra://chat/room/')) throw new ConfigError('an invite starts with umbra://chat/room/')
        const r = { id: hex(32), name: 'joined' }
        this.rooms.push(r)
        return { room: r.id, name: r.name, connected: true }
      }
      case 'leave': { const r = room(a.room); this.rooms.splice(this.rooms.indexOf(r), 1); return {} }
      case 'invite': return { invite: `umbra://chat/room/${'z'.repeat(52)}?name=${room(a.room).name}` }
      case 'rooms': return { rooms: this.rooms.map(r => ({ id: r.id, name: r.name, links: 1, members: [{ address: ALICE, nick: this.nick, seen: Date.now(), self: true }, { address: BOB, nick: 'bob', seen: Date.now(), self: false }] })) }
      case 'history': {
        if (String(a.ref) !== LOBBY) return { messages: [] }
        const ts = Date.now() - 60_000
        return {
          messages: [
            { type: 'message', id: '01'.repeat(16), kind: 'say', room: LOBBY, roomName: 'lobby', from: BOB, nick: 'bob', ts, text: 'welcome to the lobby', self: false, history: true },
            { type: 'message', id: '02'.repeat(16), kind: 'say', room: LOBBY, roomName: 'lobby', from: ALICE, nick: 'alice', ts: ts + 1000, text: 'thanks bob', self: true, history: true }
          ]
        }
      }
      default: throw new ConfigError(`unknown request '${op}'`)
    }
  }
}

/** A fresh short temp dir (Unix socket paths must stay under 108 bytes). */
async function tempDir (t: Test): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ctui-'))
  t.teardown(async () => { await rm(d, { recursive: true, force: true }) })
  return d
}

/** Polls `check` every 100 ms until it returns a value (bounded). */
async function poll<T> (check: () => Promise<T | undefined> | T | undefined, what: string, ms: number, detail: () => Promise<string> | string = () => ''): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${await detail()}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

// ---- tmux ----

const tmuxMissing = spawnSync('tmux', ['-V']).error !== undefined
const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/** A tmux server of its own (`-L`) with one session running the UI in a 120x40 terminal. */
class Term {
  readonly name = `ctui-${process.pid}-${hex(4)}`
  /** The server's socket file (kill-server leaves it behind). */
  private socketPath = join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid?.() ?? 0}`, this.name)
  constructor (readonly errFile: string) {}

  async tmux (...args: string[]): Promise<string> {
    const { stdout } = await run('tmux', ['-L', this.name, '-f', '/dev/null', ...args], { cwd: root })
    return stdout
  }

  async start (t: Test, socket: string): Promise<void> {
    const url = (p: string): string => pathToFileURL(join(root, p)).href
    const code = `import { runChatTuiAt } from '${url('src/cli/chat-tui.ts')}'; process.exitCode = await runChatTuiAt(process.argv[1])`
    const cmd = `${shq(process.execPath)} --import tsx --input-type=module -e ${shq(code)} ${shq(socket)} 2>${shq(this.errFile)}`
    t.teardown(async () => {
      await this.tmux('kill-server').catch(() => {})
      await rm(this.socketPath, { force: true })
    })
    await this.tmux('new-session', '-d', '-s', 'chat', '-x', '120', '-y', '40', '-c', root, cmd)
    this.socketPath = (await this.tmux('display-message', '-p', '#{socket_path}')).trim() || this.socketPath
  }

  /** The visible screen, trailing blank lines removed. */
  async screen (escapes = false): Promise<string> {
    return (await this.tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', 'chat')).replace(/\s+$/, '')
  }

  /** Everything printed so far: scrollback and screen. */
  async all (): Promise<string> {
    return await this.tmux('capture-pane', '-p', '-S', '-', '-t', 'chat')
  }

  async lastLine (): Promise<string> {
    return (await this.screen()).split('\n').pop() ?? ''
  }

  async keys (...keys: string[]): Promise<void> { await this.tmux('send-keys', '-t', 'chat', ...keys) }
  /** Types `text` literally (no key names). */
  async type (text: string): Promise<void> { await this.tmux('send-keys', '-t', 'chat', '-l', text) }
  async line (text: string): Promise<void> { await this.type(text); await this.keys('Enter') }

  async alive (): Promise<boolean> {
    return await this.tmux('has-session', '-t', 'chat').then(() => true, () => false)
  }

  /** Waits until the screen satisfies `pred`; returns it. */
  async until (pred: (screen: string) => boolean, what: string, ms = 15_000): Promise<string> {
    return await poll(async () => {
      const s = await this.screen()
      return pred(s) ? s : undefined
    }, what, ms, async () => `screen:\n${await this.screen().catch(() => '(gone)')}\nstderr:\n${await readFile(this.errFile, 'utf8').catch(() => '')}`)
  }
}

t.test('the chat UI in a real terminal (tmux)', async (t) => {
  if (tmuxMissing) {
    t.fail('tmux is not on PATH: this test drives the UI in a real terminal with tmux (apt-get install tmux)')
    return
  }
  const dir = await tempDir(t)
  const sock = join(dir, 'c.sock')
  const fake = await FakeChat.start(t, sock)
  const term = new Term(join(dir, 'stderr.log'))
  await term.start(t, sock)

  // Start: header with nick and address, the lobby's history, the prompt naming the room.
  let screen = await term.until(s => s.includes('thanks bob') && s.endsWith('[#lobby] >'), 'the header and history', 30_000)
  t.match(screen, `you are alice at ${ALICE}`, 'header shows nick and address')
  t.match(screen, '#lobby', 'header lists the room')
  t.match(screen, /\d\d:\d\d #lobby <bob> welcome to the lobby/, 'history line from bob')
  t.match(screen, /\d\d:\d\d #lobby <alice> thanks bob/, 'own history line')
  t.same(fake.requests.find(r => r.op === 'history')?.args, { ref: LOBBY, limit: 20 }, 'history of the current room, 20 lines')
  await poll(() => fake.subscribers.size > 0 ? true : undefined, 'the UI to listen', 15_000)

  // A plain line goes to the current room; it is shown once, from the service's event.
  await term.line('hello room')
  const send = await poll(() => fake.sent('hello room'), 'the send request', 15_000)
  t.same(send.args, { to: LOBBY, text: 'hello room' }, 'sent to the current room')
  await term.until(s => /\d\d:\d\d #lobby <alice> hello room/.test(s), 'own message rendered')

  // An event while the user is typing: printed above, the half-typed line kept.
  await term.type('half typed')
  await term.until(s => s.endsWith('[#lobby] > half typed'), 'partial input on the prompt')
  fake.emit(fake.say(BOB, 'bob', 'incoming while typing'))
  // The UI redraws in several writes: wait for the prompt as well, not a capture between them.
  screen = await term.until(s => s.includes('<bob> incoming while typing') && s.endsWith('[#lobby] > half typed'), 'the incoming message, then the prompt')
  const lines = screen.split('\n')
  t.equal(lines.at(-1), '[#lobby] > half typed', 'prompt redrawn with the partial input')
  t.ok(lines.findIndex(l => l.includes('<bob> incoming while typing')) < lines.length - 1, 'message above the prompt')
  await term.keys('Enter')
  t.same((await poll(() => fake.sent('half typed'), 'the partial line sent', 15_000)).args, { to: LOBBY, text: 'half typed' }, 'the kept input is still the line readline sends')

  // The same with input wrapped over two rows: both are redrawn below the message, none left above.
  const long = 'w'.repeat(150)
  await term.type(long)
  await term.until(s => s.replace(/\n/g, '').endsWith('[#lobby] > ' + long), 'long partial input')
  fake.emit(fake.say(BOB, 'bob', 'second while typing'))
  screen = await term.until(s => s.includes('<bob> second while typing') && s.replace(/\n/g, '').endsWith('[#lobby] > ' + long), 'the second incoming message, then the input')
  t.same(screen.split('\n').slice(-2), [`[#lobby] > ${'w'.repeat(109)}`, 'w'.repeat(41)], 'wrapped input redrawn')
  t.match(screen.split('\n').at(-3), '<bob> second while typing', 'message right above the input')
  t.equal(screen.split('\n').filter(l => l.includes('www')).length, 2, 'no stale rows of the input')
  await term.keys('C-u')
  await term.until(s => s.endsWith('[#lobby] >'), 'input cleared')

  // Escape sequences from a peer are removed: no screen clear, no colour, no title change.
  fake.emit(fake.say(b32('m'), 'm\u001b[31mallory', 'evil\u001b[2J\u001b[Hscreen\u001b]2;pwned\u0007 \u009b2Jdone'))
  screen = await term.until(s => s.includes('<mallory> evilscreen done'), 'the hostile message, cleaned')
  t.match(screen, `you are alice at ${ALICE}`, 'the screen was not cleared')
  t.notMatch(await term.screen(true), '\u001b[31m', 'no colour from the peer')
  t.not((await term.tmux('display-message', '-p', '-t', 'chat', '#{pane_title}')).trim(), 'pwned', 'title not set by the peer')

  // /create prints the invite and switches to the new room.
  await term.line('/create myroom')
  screen = await term.until(s => s.endsWith('[#myroom] >'), 'the new room as target')
  t.match(screen, `umbra://chat/room/${'q'.repeat(52)}?name=myroom`, 'invite printed')
  t.same(fake.requests.find(r => r.op === 'create')?.args, { name: 'myroom' })
  const myroom = fake.rooms.find(r => r.name === 'myroom')!

  // An error from the service is a `!!` line; the UI keeps working.
  await term.line('/join not-an-invite')
  await term.until(s => s.includes('!! an invite starts with umbra://chat/room/'), 'the error line')
  await term.line('still alive')
  t.same((await poll(() => fake.sent('still alive'), 'send after the error', 15_000)).args, { to: myroom.id, text: 'still alive' }, 'sent to the new room')
  await term.until(s => /\d\d:\d\d #myroom <alice> still alive/.test(s), 'message after the error')

  // Unknown commands get help; local errors too.
  await term.line('/frobnicate')
  await term.until(s => s.includes('!! unknown command /frobnicate'), 'unknown command line')
  await term.line('/room nowhere')
  await term.until(s => s.includes("!! you are not in a room 'nowhere'"), 'unknown room line')

  // /room switches back and shows the history; /msg to a member by nickname is a DM to their address.
  await term.line('/room lobby')
  await term.until(s => s.endsWith('[#lobby] >') && s.includes('-- last 2 messages in #lobby'), 'back in the lobby')
  await term.line('/msg bob psst')
  t.same((await poll(() => fake.sent('psst'), 'the DM', 15_000)).args, { to: BOB, text: 'psst' }, 'nickname resolved to the address')
  await term.until(s => /\d\d:\d\d -> bob psst/.test(s), 'own DM rendered')

  // Each message appeared once (the typed line is echoed by the prompt, not rendered again).
  const all = await term.all()
  t.equal(all.split('\n').filter(l => l.includes('<alice> hello room')).length, 1, 'own message rendered once')
  t.equal(all.split('\n').filter(l => l.includes('<bob> incoming while typing')).length, 1, 'incoming message rendered once')

  // /quit ends the process, and with it the tmux session.
  await term.line('/quit')
  await poll(async () => await term.alive() ? undefined : true, 'the session to end', 15_000, async () => await term.screen().catch(() => ''))
  t.equal((await readFile(term.errFile, 'utf8')).trim(), '', 'nothing on stderr')
})

t.test('without a terminal: no identity yet, then /nick creates it', async (t) => {
  const dir = await tempDir(t)
  const sock = join(dir, 'c.sock')
  const fake = await FakeChat.start(t, sock, false)
  const client = await ChatClient.connect(sock)
  const input = new PassThrough()
  const output = new PassThrough()
  let out = ''
  output.on('data', (d: Buffer) => { out += d.toString() })
  const done = runChatTui({ client, input, output })
  await poll(() => out.includes('/nick NAME') ? true : undefined, 'the hint', 10_000, () => out)
  input.write('hello?\n')
  input.write('/nick alice\n')
  input.end('/rooms\n')
  await done
  t.match(out, '!! pick a nickname first: /nick NAME', 'a line before /nick is refused')
  t.same(fake.requests.filter(r => r.op === 'init').map(r => r.args), [{ nick: 'alice' }], '/nick calls init')
  t.match(out, `you are alice at ${ALICE}`, 'header after init')
  t.match(out, '<bob> welcome to the lobby', 'history after init')
  t.match(out, /\* #lobby {2}(ab){6}/, '/rooms ran after init, at the end of input')
  t.notMatch(out, '[#lobby] >', 'no prompt without a terminal')
  t.notOk(fake.requests.some(r => r.op === 'send'), 'nothing sent')
})

t.test('without a terminal: the service going away ends the UI', async (t) => {
  const dir = await tempDir(t)
  const sock = join(dir, 'c.sock')
  const fake = await FakeChat.start(t, sock)
  const client = await ChatClient.connect(sock)
  const input = new PassThrough()
  let out = ''
  const output = new PassThrough()
  output.on('data', (d: Buffer) => { out += d.toString() })
  const done = runChatTui({ client, input, output })
  await poll(() => out.includes('thanks bob') && fake.subscribers.size > 0 ? true : undefined, 'the start', 10_000, () => out)
  fake.emit({ type: 'status', online: false })
  await poll(() => out.includes('!! offline') ? true : undefined, 'the status line', 10_000, () => out)
  await fake.api.close()
  await done
  t.match(out, 'closed the connection', 'says why it ended')
  input.end()
})

t.test('formatting events and untrusted text', async (t) => {
  const ts = new Date(2024, 0, 2, 9, 5).getTime()
  const names = { nickOf: (a: string) => a === BOB ? 'bob' : 'someone' }
  t.equal(formatEvent({ type: 'message', kind: 'say', room: LOBBY, roomName: 'lobby', from: BOB, nick: 'bob', ts, text: 'hi' }), '09:05 #lobby <bob> hi')
  t.equal(formatEvent({ type: 'message', kind: 'say', room: LOBBY, from: BOB, nick: 'bob', ts, text: 'hi' }, { roomName: () => 'named' }), '09:05 #named <bob> hi', 'room name looked up by id')
  t.equal(formatEvent({ type: 'message', kind: 'dm', from: BOB, nick: 'bob', to: ALICE, ts, text: 'psst', self: false }), '09:05 *bob* psst')
  t.equal(formatEvent({ type: 'message', kind: 'dm', from: ALICE, nick: 'alice', to: BOB, ts, text: 'psst', self: true }, names), '09:05 -> bob psst')
  t.equal(formatEvent({ type: 'message', kind: 'dm', from: ALICE, nick: 'alice', to: BOB, ts, text: 'x', self: true }), '09:05 -> bbbbbbbb….b32.umbra x', 'unknown peer: short address')
  t.equal(formatEvent({ type: 'message', kind: 'join', room: LOBBY, roomName: 'lobby', from: BOB, nick: 'bob', ts, text: '' }), '09:05 -- bob joined #lobby')
  t.equal(formatEvent({ type: 'message', kind: 'leave', room: LOBBY, roomName: 'lobby', from: BOB, nick: 'bob', ts, text: '' }), '09:05 -- bob left #lobby')
  t.equal(formatEvent({ type: 'delivered', id: 'abcdef0123456789', to: BOB }, names), '-- delivered (abcdef01) to bob')
  t.match(formatEvent({ type: 'expired', id: 'abcdef0123456789', to: BOB }, names), /^!! not delivered, gave up: message abcdef01 to bob/)
  t.match(formatEvent({ type: 'status', online: true }), /^-- online/)
  t.match(formatEvent({ type: 'status', online: false }), /^!! offline/)
  t.equal(formatEvent({ type: 'message', kind: 'say', roomName: 'lobby', nick: 'bob', ts, text: 'one\n09:06 #lobby <alice> fake' }), '09:05 #lobby <bob> one\n        09:06 #lobby <alice> fake', 'continuation lines indented: no faked lines')
  t.equal(formatEvent({ type: 'message', kind: 'say', roomName: 'lo\nbby', nick: 'b\u001b[2Job', ts: 'x', text: 'a\tb' }), '--:-- #lo bby <bob> a b', 'one-line fields, bad time')

  t.equal(sanitize('a\u001b[2Jb\u001b[1;31mc\u001b[0m'), 'abc', 'CSI')
  t.equal(sanitize('a\u001b]0;title\u0007b\u001b]8;;http://x\u001b\\c'), 'abc', 'OSC with BEL and ST')
  t.equal(sanitize('a\u009b2Jb\u009d0;t\u0007c'), 'abc', '8-bit CSI and OSC')
  t.equal(sanitize('a\u001bPdcs\u001b\\b\u001bcc\u001b(Bd'), 'abcd', 'DCS, RIS, charset')
  t.equal(sanitize('a\u0000b\u0007c\u007fd\u0085e\r\nf'), 'abcde\nf', 'C0/C1 controls dropped, CRLF a newline')
  t.equal(sanitize('ab\u202ecd\u2066e'), 'abcde', 'bidi controls dropped')
  t.equal(sanitize('👩\u200d💻'), '👩\u200d💻', 'zero-width joiner kept')
  t.equal(sanitizeLine('a\nb\u2028c'), 'a b c')
})
