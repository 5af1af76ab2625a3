/**
 * The SAM client against a scripted fake bridge, for what a real bridge does not produce on
 * demand: bytes sharing a segment with STATUS lines, PING from the bridge, payloads split
 * across reads, replies that never come, a control socket that drops. The real bridge is in
 * client.test.ts.
 */
import t, { type Test } from 'tap'
import * as net from 'node:net'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createSession, generateDestination, lookupName, SamError, ClosedError, TimeoutError, b32AddressOf } from '../../src/api/client/index.ts'
import { parseLine } from '../../src/api/sam/line.ts'
import { base64I2pEncode } from '../../src/wire/base64i2p.ts'

const DEST_BYTES = Buffer.concat([randomBytes(384), Buffer.from([5, 0, 4, 0, 7, 0, 4])])
const DEST = base64I2pEncode(DEST_BYTES)
const PRIV = base64I2pEncode(Buffer.concat([DEST_BYTES, randomBytes(288)]))

/** Answers each line with what `script` returns (strings are written as they are, in one write). */
type Script = (line: string, sock: net.Socket) => string | undefined
async function fakeBridge (t: Test, script: Script): Promise<{ port: number, lines: string[], socks: net.Socket[] }> {
  const lines: string[] = []
  const socks: net.Socket[] = []
  const server = net.createServer((sock) => {
    socks.push(sock)
    sock.on('error', () => {})
    let buf = ''
    let raw = false
    sock.on('data', (d: Buffer) => {
      if (raw) return
      buf += d.toString('latin1')
      let nl
      while (!raw && (nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        lines.push(line)
        if (line.startsWith('HELLO')) { sock.write('HELLO REPLY RESULT=OK VERSION=3.3\n'); continue }
        const out = script(line, sock)
        if (out !== undefined) sock.write(out)
        if (/^STREAM (CONNECT|ACCEPT)/.test(line)) raw = true
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const s of socks) s.destroy(); server.close() })
  return { port: (server.address() as net.AddressInfo).port, lines, socks }
}

t.test('HELLO asks for 3.1..3.3; NOVERSION is a SamError', async t => {
  const server = net.createServer((s) => { s.once('data', (d) => { t.match(d.toString(), /^HELLO VERSION MIN=3\.1 MAX=3\.3\n$/); s.end('HELLO REPLY RESULT=NOVERSION\n') }) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const err = await generateDestination({ port: (server.address() as net.AddressInfo).port }).catch((e: unknown) => e)
  t.ok(err instanceof SamError)
  t.equal((err as SamError).result, 'NOVERSION')
  t.equal((err as SamError).name, 'SamError')
})

t.test('DEST GENERATE and NAMING LOOKUP without a session', async t => {
  const { port, lines } = await fakeBridge(t, (line) => {
    if (line.startsWith('DEST GENERATE')) return `DEST REPLY PUB=${DEST} PRIV=${PRIV}\n`
    const name = parseLine(line).args.get('NAME')
    return name === 'nope.umbra' ? `NAMING REPLY RESULT=KEY_NOT_FOUND NAME=${name} MESSAGE="not found"\n` : `NAMING REPLY RESULT=OK NAME=${name} VALUE=${DEST}\n`
  })
  const d = await generateDestination({ port })
  t.same(d, { publicKey: DEST, privateKey: PRIV, address: b32AddressOf(DEST) })
  t.match(d.address, /^[a-z2-7]{52}\.b32\.umbra$/)
  t.ok(lines.includes('DEST GENERATE SIGNATURE_TYPE=7'))
  t.equal(await lookupName('x.umbra', { port }), DEST)
  const err = await lookupName('nope.umbra', { port }).catch((e: unknown) => e) as SamError
  t.equal(err.result, 'KEY_NOT_FOUND')
  t.equal(err.bridgeMessage, 'not found')
})

t.test('datagrams on the control socket, PING answered, public key from the private key', async t => {
  let control: net.Socket | undefined
  const { port, lines } = await fakeBridge(t, (line, sock) => {
    if (!line.startsWith('SESSION CREATE')) return undefined
    control = sock
    const payload = Buffer.from('hello world')
    // The status, a datagram, a ping and half of a raw payload in one segment.
    sock.write(Buffer.concat([Buffer.from(`SESSION STATUS RESULT=OK DESTINATION=${PRIV}\nDATAGRAM RECEIVED DESTINATION=${DEST} SIZE=${payload.length} FROM_PORT=5 TO_PORT=6\n`),
      payload, Buffer.from('PING abc\nRAW RECEIVED SIZE=4 PROTOCOL=18\nxy')]))
    setTimeout(() => { sock.write('zw') }, 20)
    return undefined
  })
  const s = await createSession({ port, style: 'DATAGRAM', inboundLength: 1, options: { 'i2cp.x': 'a b' } })
  t.teardown(async () => { await s.close() })
  const got: unknown[] = []
  s.on('datagram', (d) => got.push(d))
  for (let i = 0; i < 100 && got.length < 2; i++) await new Promise(resolve => setTimeout(resolve, 10))
  t.same(got, [{ from: DEST, payload: Buffer.from('hello world'), fromPort: 5, toPort: 6 }, { payload: Buffer.from('xyzw'), fromPort: 0, toPort: 0, protocol: 18 }])
  t.equal(s.destination, DEST)
  t.equal(s.privateKey, PRIV)
  t.equal(s.address, b32AddressOf(DEST))
  const create = parseLine(lines.find(l => l.startsWith('SESSION CREATE'))!)
  t.equal(create.args.get('STYLE'), 'DATAGRAM')
  t.equal(create.args.get('DESTINATION'), 'TRANSIENT')
  t.equal(create.args.get('SIGNATURE_TYPE'), '7')
  t.equal(create.args.get('inbound.length'), '1')
  t.equal(create.args.get('i2cp.x'), 'a b')
  t.notOk(create.args.has('PORT'), 'no PORT: datagrams come on the control socket')
  t.match(create.args.get('ID'), /^[A-Za-z0-9_-]{12}$/)
  for (let i = 0; i < 100 && !lines.includes('PONG abc'); i++) await new Promise(resolve => setTimeout(resolve, 10))
  t.ok(lines.includes('PONG abc'), 'PING from the bridge is answered')
  t.ok(control)
})

t.test('stream bytes in the STATUS segment reach the socket; accept reads the peer line', async t => {
  const { port } = await fakeBridge(t, (line) => {
    if (line.startsWith('SESSION CREATE')) return `SESSION STATUS RESULT=OK DESTINATION=${PRIV}\n`
    if (line.startsWith('STREAM CONNECT')) {
      if (line.includes('DESTINATION=dead.b32.umbra')) return 'STREAM STATUS RESULT=CANT_REACH_PEER MESSAGE="no leaseset"\n'
      return 'STREAM STATUS RESULT=OK\nearly bytes'
    }
    if (line.startsWith('STREAM ACCEPT')) return `STREAM STATUS RESULT=OK\n${DEST} FROM_PORT=3 TO_PORT=4\nfirst`
    return undefined
  })
  const s = await createSession({ port })
  t.teardown(async () => { await s.close() })
  const sock = await s.connect(DEST)
  const [first] = await once(sock, 'data') as [Buffer]
  t.equal(first.toString(), 'early bytes')
  const a = await s.accept()
  t.equal(a.remote, DEST)
  t.equal(a.fromPort, 3)
  t.equal(a.toPort, 4)
  const [data] = await once(a.socket, 'data') as [Buffer]
  t.equal(data.toString(), 'first')
  const err = await s.connect('dead.b32.umbra').catch((e: unknown) => e) as SamError
  t.ok(err instanceof SamError)
  t.equal(err.result, 'CANT_REACH_PEER')
  t.equal(err.retry, true)
  const closed = once(sock, 'close')
  await s.close()
  await closed
  t.ok(sock.destroyed && a.socket.destroyed, 'close() ends the streams')
})

t.test('a timed-out request keeps later replies in step; a lost control socket rejects with ClosedError', async t => {
  let control: net.Socket | undefined
  const held: string[] = []
  const { port } = await fakeBridge(t, (line, sock) => {
    if (line.startsWith('SESSION CREATE')) { control = sock; return `SESSION STATUS RESULT=OK DESTINATION=${PRIV}\n` }
    const name = parseLine(line).args.get('NAME') ?? ''
    if (name === 'slow') { held.push(name); return undefined }
    const out = held.splice(0).map(n => `NAMING REPLY RESULT=OK NAME=${n} VALUE=slow-answer\n`).join('')
    return out + `NAMING REPLY RESULT=OK NAME=${name} VALUE=${DEST}\n`
  })
  // The session's timeout bounds every request, the fast ones too: 1 s, so that only a stall
  // longer than that on a loaded machine could time one of them out.
  const s = await createSession({ port, timeoutMs: 1000 })
  const err = await s.lookup('slow').catch((e: unknown) => e)
  t.ok(err instanceof TimeoutError, 'the lookup times out')
  t.equal(await s.lookup('fast'), DEST, 'the late answer to the first lookup is not taken for the second')
  let closes = 0
  s.on('close', () => { closes++ })
  const pending = s.lookup('slow')
  control!.destroy()
  const lost = await pending.catch((e: unknown) => e)
  t.ok(lost instanceof ClosedError, 'pending call rejected with ClosedError')
  await s.close()
  t.equal(closes, 1, "'close' once, no unhandled 'error'")
  t.ok((await s.connect(DEST).catch((e: unknown) => e)) instanceof ClosedError)
})
