/**
 * The SAM commands, one handler each, run by a connection (conn.ts) for one parsed line:
 * HELLO, SESSION CREATE/ADD/REMOVE, STREAM CONNECT/ACCEPT/FORWARD, NAMING LOOKUP,
 * DEST GENERATE, DATAGRAM/RAW SEND, PING/PONG, QUIT/STOP/EXIT, HELP and AUTH. A handler replies
 * itself on success and throws SamRequestError (or a typed error that `resultOf` maps) on
 * failure; the connection turns that into the error reply.
 */
import { timingSafeEqual, createHash } from 'node:crypto'
import {
  destinationFromPrivate, destinationHash, destinationToBase64, generateDestination, isB32Address, parseB32Address,
  parseDestination, privateKeyToBase64, type DestinationKeys
} from '../../identity/destination.ts'
import type { StreamSocket } from '../../streaming/socket.ts'
import { toHex } from '../../util/bytes.ts'
import type { SamLine } from './line.ts'
import { boolArg, checkRawProtocol, intArg, localDeliveryFromOptions, parseStyle, parseSubSpec, poolFromOptions, type DataStyle } from './options.ts'
import { SamRequestError } from './result.ts'
import { peerLine, SamSession, Sub } from './session.ts'
import { negotiate, atLeast } from './version.ts'
import type { SamConnection } from './conn.ts'

/** The reply words for a command verb (unknown verbs are answered as SESSION STATUS). */
export function replyWords (verb: string): string[] {
  switch (verb) {
    case 'HELLO': return ['HELLO', 'REPLY']
    case 'NAMING': return ['NAMING', 'REPLY']
    case 'DEST': return ['DEST', 'REPLY']
    case 'STREAM': return ['STREAM', 'STATUS']
    case 'DATAGRAM': return ['DATAGRAM', 'STATUS']
    case 'RAW': return ['RAW', 'STATUS']
    case 'AUTH': return ['AUTH', 'STATUS']
    case 'HELP': return ['HELP', 'REPLY']
    default: return ['SESSION', 'STATUS']
  }
}

const HELP_TEXT = 'commands: HELLO VERSION, SESSION CREATE|ADD|REMOVE, STREAM CONNECT|ACCEPT|FORWARD, ' +
  'NAMING LOOKUP, DEST GENERATE, DATAGRAM SEND, RAW SEND, PING, QUIT; see docs/sam.md'
/** Nicknames: no whitespace or quotes, at most 64 characters. */
const ID_RE = /^[^\s"=]{1,64}$/
/** Signature types accepted (Umbra destinations are Ed25519 only). */
const SIG_TYPES = new Set(['7', 'EdDSA_SHA512_Ed25519'])

/** Runs one command on `c` (see module doc). */
export async function runCommand (c: SamConnection, cmd: SamLine): Promise<void> {
  if (c.version === '') { hello(c, cmd); return }
  if (c.session === undefined) c.arm(c.ctx.limits.idleTimeoutMs, () => { idle(c) })
  const key = cmd.sub === '' ? cmd.verb : `${cmd.verb} ${cmd.sub}`
  switch (key) {
    case 'HELLO VERSION': throw new SamRequestError('I2P_ERROR', 'HELLO was already done')
    case 'SESSION CREATE': await sessionCreate(c, cmd); return
    case 'SESSION ADD': sessionAdd(c, cmd); return
    case 'SESSION REMOVE': sessionRemove(c, cmd); return
    case 'STREAM CONNECT': await streamConnect(c, cmd); return
    case 'STREAM ACCEPT': streamAccept(c, cmd); return
    case 'STREAM FORWARD': streamForward(c, cmd); return
    case 'NAMING LOOKUP': await namingLookup(c, cmd); return
    case 'DEST GENERATE': destGenerate(c, cmd); return
    case 'DATAGRAM SEND': await datagramSend(c, cmd, 'DATAGRAM'); return
    case 'RAW SEND': await datagramSend(c, cmd, 'RAW'); return
    case 'PING': c.write(cmd.text === '' ? 'PONG\n' : `PONG ${cmd.text}\n`); return
    case 'PONG': return
    case 'QUIT': case 'STOP': case 'EXIT':
      c.send([['SESSION', 'STATUS'], [['RESULT', 'OK'], ['MESSAGE', 'closing']]])
      c.close()
      return
    case 'HELP': c.send([['HELP', 'REPLY'], [['RESULT', 'OK'], ['MESSAGE', HELP_TEXT]]]); return
    default:
      if (cmd.verb === 'AUTH') throw new SamRequestError('I2P_ERROR', 'AUTH commands are not supported; set users in the router config (docs/sam.md)')
      throw new SamRequestError('I2P_ERROR', `unknown command ${key.slice(0, 40)}`)
  }
}

/** The ID= of SESSION CREATE/ADD; INVALID_ID unless 1-64 characters without spaces, quotes or '='. */
function idArg (cmd: SamLine): string {
  const id = cmd.args.get('ID')
  if (id === undefined || !ID_RE.test(id)) throw new SamRequestError('INVALID_ID', 'ID must be 1-64 characters without spaces, quotes or =')
  return id
}

function idle (c: SamConnection): void {
  c.send([['SESSION', 'STATUS'], [['RESULT', 'I2P_ERROR'], ['MESSAGE', 'idle timeout']]])
  c.close()
}

// ---- HELLO ----

function hello (c: SamConnection, cmd: SamLine): void {
  const fail = (result: string, message: string): void => {
    c.send([['HELLO', 'REPLY'], [['RESULT', result], ['MESSAGE', message]]])
    c.close()
  }
  if (cmd.verb !== 'HELLO' || cmd.sub !== 'VERSION') { fail('I2P_ERROR', 'HELLO VERSION expected first'); return }
  const v = negotiate(cmd.args.get('MIN'), cmd.args.get('MAX'))
  if (v === 'bad') { fail('I2P_ERROR', 'malformed MIN or MAX'); return }
  if (v === undefined) { fail('NOVERSION', 'this bridge speaks SAM 3.0 to 3.3'); return }
  const users = c.ctx.users
  if (users !== undefined) {
    const user = cmd.args.get('USER') ?? ''
    const want = users.get(user)
    if (want === undefined || !sameSecret(want, cmd.args.get('PASSWORD') ?? '')) { fail('I2P_ERROR', 'authentication failed'); return }
  }
  c.version = v
  c.arm(c.ctx.limits.idleTimeoutMs, () => { idle(c) })
  c.send([['HELLO', 'REPLY'], [['RESULT', 'OK'], ['VERSION', v]]])
}

/** Constant-time comparison of two secrets (through fixed-size digests). */
function sameSecret (a: string, b: string): boolean {
  const h = (s: string): Buffer => createHash('sha256').update(s).digest()
  return timingSafeEqual(h(a), h(b))
}

// ---- SESSION ----

async function sessionCreate (c: SamConnection, cmd: SamLine): Promise<void> {
  const { registry, limits, host } = c.ctx
  if (c.session !== undefined || c.creating !== undefined) throw new SamRequestError('I2P_ERROR', 'this connection already has a session')
  const style = parseStyle(cmd.args.get('STYLE'), true)
  const id = idArg(cmd)
  if (registry.hasId(id)) throw new SamRequestError('DUPLICATED_ID', `ID ${id} is in use`)
  const keys = sessionKeys(c, cmd)
  const hex = toHex(destinationHash(host.crypto, keys.destination.bytes))
  if (registry.hasDest(hex)) throw new SamRequestError('DUPLICATED_DEST', 'this destination already has a session')
  const spec = style === 'PRIMARY' ? undefined : parseSubSpec(style, cmd.args)
  if (registry.size >= limits.maxSessions) throw new SamRequestError('I2P_ERROR', `too many sessions (${limits.maxSessions})`)
  const pool = poolFromOptions(cmd.args)
  const length = pool.length ?? host.defaultPool.length
  if (pool.variance !== undefined) pool.variance = Math.min(pool.variance, 7 - length)
  registry.reserve(id, hex)
  const abort = new AbortController()
  c.creating = abort
  let dest
  try {
    const localDelivery = localDeliveryFromOptions(cmd.args)
    dest = await host.createDestination({ keys, pool, ...(localDelivery !== undefined ? { localDelivery } : {}), signal: AbortSignal.any([abort.signal, AbortSignal.timeout(limits.createTimeoutMs)]) })
  } catch (err) {
    registry.release(id, hex)
    if (abort.signal.aborted) return
    throw err instanceof Error && err.name === 'AbortError' ? new SamRequestError('I2P_ERROR', 'tunnels not ready in time') : err
  } finally {
    c.creating = undefined
  }
  const session = new SamSession(id, style === 'PRIMARY', dest, c, limits, c.ctx.log)
  if (abort.signal.aborted || c.socket.destroyed) {
    registry.release(id, hex)
    await host.closeDestination(dest)
    return
  }
  c.session = session
  registry.sessions.set(id, session)
  if (spec !== undefined) {
    const sub = new Sub(id, spec, session)
    session.subs.set(id, sub)
    registry.subs.set(id, sub)
  }
  c.arm(0, () => {})
  c.onClosed(() => {
    session.close()
    for (const subId of session.subs.keys()) registry.release(subId)
    registry.release(id, hex)
    host.closeDestination(dest).catch(() => {})
  })
  c.send([['SESSION', 'STATUS'], [['RESULT', 'OK'], ['DESTINATION', session.privateB64]]])
}

/** The keys named by DESTINATION= (TRANSIENT or a private key) and SIGNATURE_TYPE=. */
function sessionKeys (c: SamConnection, cmd: SamLine): DestinationKeys {
  const d = cmd.args.get('DESTINATION')
  if (d === undefined || d === '') throw new SamRequestError('INVALID_KEY', 'DESTINATION (TRANSIENT or a private key) is required')
  if (d.toUpperCase() === 'TRANSIENT') {
    checkSigType(cmd.args.get('SIGNATURE_TYPE'))
    return generateDestination(c.ctx.host.crypto)
  }
  try {
    return destinationFromPrivate(c.ctx.host.crypto, d)
  } catch (err) {
    throw new SamRequestError('INVALID_KEY', err instanceof Error ? err.message : 'bad private key')
  }
}

function checkSigType (t: string | undefined): void {
  if (t === undefined || t === '' || SIG_TYPES.has(t)) return
  throw new SamRequestError('I2P_ERROR', `SIGNATURE_TYPE ${t} is not supported (only 7, EdDSA_SHA512_Ed25519)`)
}

function primaryOf (c: SamConnection): SamSession {
  const s = c.session
  if (s === undefined || !s.primary) throw new SamRequestError('I2P_ERROR', 'SESSION ADD and REMOVE need a PRIMARY session on this connection')
  return s
}

function sessionAdd (c: SamConnection, cmd: SamLine): void {
  const session = primaryOf(c)
  const style = parseStyle(cmd.args.get('STYLE'), false) as DataStyle
  const id = idArg(cmd)
  if (cmd.args.has('DESTINATION')) throw new SamRequestError('I2P_ERROR', 'SESSION ADD takes no DESTINATION')
  if (c.ctx.registry.hasId(id)) throw new SamRequestError('DUPLICATED_ID', `ID ${id} is in use`)
  const spec = parseSubSpec(style, cmd.args)
  for (const s of session.subs.values()) {
    if (s.spec.style === style && s.spec.listenPort === spec.listenPort && (style !== 'RAW' || s.spec.listenProtocol === spec.listenProtocol)) {
      throw new SamRequestError('I2P_ERROR', `subsession ${s.id} already listens on port ${spec.listenPort}`)
    }
  }
  const sub = new Sub(id, spec, session)
  c.ctx.registry.reserve(id)
  c.ctx.registry.subs.set(id, sub)
  session.subs.set(id, sub)
  c.send([['SESSION', 'STATUS'], [['RESULT', 'OK'], ['ID', id], ['MESSAGE', 'ADD']]])
}

function sessionRemove (c: SamConnection, cmd: SamLine): void {
  const session = primaryOf(c)
  const id = cmd.args.get('ID') ?? ''
  const sub = session.subs.get(id)
  if (sub === undefined) throw new SamRequestError('INVALID_ID', `no subsession ${id}`)
  session.subs.delete(id)
  c.ctx.registry.release(id)
  sub.close()
  c.send([['SESSION', 'STATUS'], [['RESULT', 'OK'], ['ID', id], ['MESSAGE', 'REMOVE']]])
}

// ---- STREAM ----

/** The STREAM sub named by ID=. */
function streamSub (c: SamConnection, cmd: SamLine): Sub {
  const id = cmd.args.get('ID') ?? ''
  const sub = c.ctx.registry.subs.get(id)
  if (sub === undefined || sub.session.isClosed) throw new SamRequestError('INVALID_ID', `no session ${id}`)
  if (sub.spec.style !== 'STREAM') throw new SamRequestError('I2P_ERROR', `session ${id} is not a STREAM session`)
  return sub
}

/** Ties a stream connection to its session: it dies with it. */
function attach (c: SamConnection, s: SamSession): void {
  const handle = { destroy: () => { c.socket.destroy() } }
  s.attached.add(handle)
  c.onClosed(() => { s.attached.delete(handle) })
}

async function streamConnect (c: SamConnection, cmd: SamLine): Promise<void> {
  const sub = streamSub(c, cmd)
  const silent = boolArg(cmd.args, 'SILENT', false)
  const to = cmd.args.get('DESTINATION')
  if (to === undefined || to === '') throw new SamRequestError('INVALID_KEY', 'DESTINATION is required')
  checkDestinationSyntax(to)
  const fromPort = intArg(cmd.args, 'FROM_PORT', sub.spec.fromPort, 0, 65535)
  const toPort = intArg(cmd.args, 'TO_PORT', sub.spec.toPort, 0, 65535)
  attach(c, sub.session)
  const abort = new AbortController()
  c.onClosed(() => { abort.abort() })
  let stream
  try {
    stream = await sub.session.dest.connect(to, { fromPort, toPort, timeoutMs: c.ctx.limits.connectTimeoutMs, signal: abort.signal })
  } catch (err) {
    if (silent) { c.socket.destroy(); return }
    throw err
  }
  if (c.socket.destroyed) { stream.destroy(); return }
  // STATUS alone in its write, before any stream byte (clients read it as one whole reply).
  c.pipeTo(stream, silent ? undefined : 'STREAM STATUS RESULT=OK\n')
}

/** INVALID_KEY for a DESTINATION that is neither a b32 address nor a destination. */
function checkDestinationSyntax (to: string): void {
  try {
    if (isB32Address(to)) parseB32Address(to)
    else parseDestination(to)
  } catch (err) {
    throw new SamRequestError('INVALID_KEY', `not a destination or b32 address: ${err instanceof Error ? err.message : ''}`)
  }
}

function streamAccept (c: SamConnection, cmd: SamLine): void {
  const sub = streamSub(c, cmd)
  const silent = boolArg(cmd.args, 'SILENT', false)
  if (sub.forward !== undefined) throw new SamRequestError('I2P_ERROR', 'a FORWARD is active on this session')
  if (!atLeast(c.version, 2) && sub.accepts.length > 0) throw new SamRequestError('ALREADY_ACCEPTING', 'an ACCEPT is pending (several need SAM 3.2)')
  let pending = 0
  for (const s of sub.session.subs.values()) pending += s.accepts.length
  if (pending >= c.ctx.limits.maxPendingAccepts) throw new SamRequestError('I2P_ERROR', `too many pending ACCEPTs (${c.ctx.limits.maxPendingAccepts})`)
  attach(c, sub.session)
  // The STATUS goes out even with SILENT=true (as for FORWARD); SILENT drops the peer line.
  c.send([['STREAM', 'STATUS'], [['RESULT', 'OK']]])
  const ports = atLeast(c.version, 2)
  const serve = (stream: StreamSocket, peer: string): void => {
    c.pipeTo(stream, silent ? undefined : peerLine(peer, stream, ports))
  }
  const queued = sub.session.takeQueued(sub)
  if (queued !== undefined) { c.wait('accept'); serve(queued.stream, queued.peer); return }
  const waiter = { deliver: serve }
  sub.accepts.push(waiter)
  c.wait('accept')
  c.onClosed(() => {
    const i = sub.accepts.indexOf(waiter)
    if (i >= 0) sub.accepts.splice(i, 1)
  })
}

function streamForward (c: SamConnection, cmd: SamLine): void {
  const sub = streamSub(c, cmd)
  if (sub.accepts.length > 0) throw new SamRequestError('I2P_ERROR', 'an ACCEPT is pending on this session')
  if (sub.forward !== undefined) throw new SamRequestError('I2P_ERROR', 'a FORWARD is already active on this session')
  const port = intArg(cmd.args, 'PORT', 0, 0, 65535)
  if (port < 1) throw new SamRequestError('I2P_ERROR', 'PORT (1-65535) is required')
  if (boolArg(cmd.args, 'SSL', false)) throw new SamRequestError('I2P_ERROR', 'SSL=true is not supported')
  const host = cmd.args.get('HOST') ?? c.socket.remoteAddress ?? '127.0.0.1'
  const target = { host: host === '' ? '127.0.0.1' : host, port, silent: boolArg(cmd.args, 'SILENT', false), version32: atLeast(c.version, 2) }
  sub.forward = target
  attach(c, sub.session)
  c.send([['STREAM', 'STATUS'], [['RESULT', 'OK']]])
  c.wait('forward')
  c.onClosed(() => { if (sub.forward === target) sub.forward = undefined })
}

// ---- NAMING, DEST ----

async function namingLookup (c: SamConnection, cmd: SamLine): Promise<void> {
  const name = cmd.args.get('NAME')
  if (name === undefined || name === '') throw new SamRequestError('INVALID_KEY', 'NAME is required')
  const ok = (value: string): void => { c.send([['NAMING', 'REPLY'], [['RESULT', 'OK'], ['NAME', name], ['VALUE', value]]]) }
  if (name === 'ME') {
    if (c.session === undefined) throw new SamRequestError('KEY_NOT_FOUND', 'NAME=ME needs a session on this connection')
    ok(c.session.publicB64)
    return
  }
  if (isB32Address(name)) {
    let hash
    try { hash = parseB32Address(name) } catch (err) { throw new SamRequestError('INVALID_KEY', err instanceof Error ? err.message : 'bad b32 address') }
    const signal = AbortSignal.timeout(c.ctx.limits.lookupTimeoutMs)
    try {
      const d = c.session !== undefined ? await c.session.dest.lookup(name, signal) : await c.ctx.host.findDestination(hash, signal)
      ok(destinationToBase64(d))
    } catch (err) {
      if (err instanceof Error && (err.name === 'NotFoundError' || err.name === 'AbortError' || err.name === 'TimeoutError')) {
        throw new SamRequestError('KEY_NOT_FOUND', `no LeaseSet found for ${name}`)
      }
      throw err
    }
    return
  }
  if (/\.(i2p|umbra)$/i.test(name)) throw new SamRequestError('KEY_NOT_FOUND', 'host names need an address book; Umbra resolves b32 addresses and destinations only')
  try {
    ok(destinationToBase64(parseDestination(name)))
  } catch (err) {
    throw new SamRequestError('INVALID_KEY', `not a name, b32 address or destination: ${err instanceof Error ? err.message : ''}`)
  }
}

function destGenerate (c: SamConnection, cmd: SamLine): void {
  checkSigType(cmd.args.get('SIGNATURE_TYPE'))
  const k = generateDestination(c.ctx.host.crypto)
  c.send([['DEST', 'REPLY'], [['PUB', destinationToBase64(k.destination)], ['PRIV', privateKeyToBase64(k)]]])
}

// ---- DATAGRAM SEND, RAW SEND (control socket) ----

async function datagramSend (c: SamConnection, cmd: SamLine, style: 'DATAGRAM' | 'RAW'): Promise<void> {
  const sizeText = cmd.args.get('SIZE') ?? ''
  const size = /^\d{1,6}$/.test(sizeText) ? Number(sizeText) : -1
  if (size < 1 || size > c.ctx.limits.maxDatagramBytes) {
    // The payload's extent is unknown: the byte stream cannot be resynchronised.
    c.send([[style, 'STATUS'], [['RESULT', 'I2P_ERROR'], ['MESSAGE', `SIZE must be 1..${c.ctx.limits.maxDatagramBytes}`]]])
    c.close()
    return
  }
  const payload = await c.payload(size)
  const id = cmd.args.get('ID')
  const sub = id !== undefined ? c.ctx.registry.subs.get(id) : [...(c.session?.subs.values() ?? [])].find(s => s.spec.style === style)
  if (sub === undefined || sub.spec.style !== style) throw new SamRequestError('INVALID_ID', `no ${style} session ${id ?? 'on this connection'}`)
  const to = cmd.args.get('DESTINATION') ?? ''
  checkDestinationSyntax(to)
  await sendDatagram(sub, to, payload, cmd.args)
}

/** Sends one datagram from `sub` (shared with the UDP port). */
export async function sendDatagram (sub: Sub, to: string, payload: Uint8Array, args: ReadonlyMap<string, string>): Promise<void> {
  const fromPort = intArg(args, 'FROM_PORT', sub.spec.fromPort, 0, 65535)
  const toPort = intArg(args, 'TO_PORT', sub.spec.toPort, 0, 65535)
  if (sub.spec.style === 'RAW') {
    const protocol = intArg(args, 'PROTOCOL', sub.spec.protocol, 0, 255)
    checkRawProtocol(protocol)
    await sub.session.dest.sendDatagram(to, payload, { raw: true, protocol, fromPort, toPort })
  } else {
    await sub.session.dest.sendDatagram(to, payload, { fromPort, toPort })
  }
}
