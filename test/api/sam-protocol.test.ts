// The SAM bridge's commands and RESULT codes over real TCP/UDP sockets on 127.0.0.1, against
// routers of an in-process testnet: handshake and versions, auth, sessions (all styles,
// PRIMARY with ADD/REMOVE), streams (CONNECT, ACCEPT, FORWARD, SILENT, ports), naming,
// DEST GENERATE, datagrams on the control socket and UDP, PING/QUIT/HELP, pipelined commands
// and replies to input split across reads, timeouts and limits.
import t from 'tap'
import * as net from 'node:net'
import * as dgram from 'node:dgram'
import { startSamNetwork, RawSam, pairs } from './sam-fixture.ts'
import { until } from '../tunnel/fixtures.ts'
import { maxDatagramPayload } from '../../src/router/session.ts'
import { localDeliveryFromOptions } from '../../src/api/sam/options.ts'
import { destinationToBase64 } from '../../src/identity/destination.ts'

const T1 = 'inbound.length=1 outbound.length=1'

t.test('SAM commands', async (t) => {
  const { bridges } = await startSamNetwork(t)
  const p0 = bridges[0]!.port
  const p1 = bridges[1]!.port
  const hello = async (port: number): Promise<RawSam> => {
    const c = await RawSam.open(t, port)
    t.equal(await c.cmd('HELLO VERSION MIN=3.1 MAX=3.3'), 'HELLO REPLY RESULT=OK VERSION=3.3')
    return c
  }

  await t.test('HELLO: versions, errors', async (t) => {
    const cases: Array<[string, RegExp, boolean]> = [
      ['HELLO VERSION', /^HELLO REPLY RESULT=OK VERSION=3\.3$/, false],
      ['HELLO VERSION MIN=3.0 MAX=3.1', /^HELLO REPLY RESULT=OK VERSION=3\.1$/, false],
      ['HELLO VERSION MIN=3 MAX=3', /^HELLO REPLY RESULT=OK VERSION=3\.3$/, false],
      ['HELLO VERSION MIN=2.0 MAX=4.0', /^HELLO REPLY RESULT=OK VERSION=3\.3$/, false],
      ['hello version max=3.2', /^HELLO REPLY RESULT=OK VERSION=3\.3$/, false], // keys are case-sensitive: lower-case max is ignored
      ['HELLO VERSION MIN=4.0 MAX=4.1', /^HELLO REPLY RESULT=NOVERSION/, true],
      ['HELLO VERSION MAX=2.9', /^HELLO REPLY RESULT=NOVERSION/, true],
      ['HELLO VERSION MIN=x', /^HELLO REPLY RESULT=I2P_ERROR MESSAGE=/, true],
      ['DEST GENERATE', /^HELLO REPLY RESULT=I2P_ERROR MESSAGE="HELLO VERSION expected first"$/, true]
    ]
    for (const [line, want, closes] of cases) {
      const c = await RawSam.open(t, p0)
      t.match(await c.cmd(line), want, line)
      if (closes) t.ok(await c.waitClosed(), `${line}: closed`)
    }
    const c = await hello(p0)
    t.match(await c.cmd('HELLO VERSION'), /^HELLO REPLY RESULT=I2P_ERROR/, 'a second HELLO is an error')
    t.match(await c.cmd('PING'), /^PONG$/, 'the connection stays usable')
  })

  await t.test('split and pipelined input', async (t) => {
    const c = await RawSam.open(t, p0)
    const all = 'HELLO VERSION\nPING one\nDEST GENERATE SIGNATURE_TYPE=7\nNAMING LOOKUP NAME=x.b32.i2p\nPING two\n'
    for (const ch of all.slice(0, 20)) { c.write(ch); await new Promise(resolve => setImmediate(resolve)) }
    c.write(all.slice(20))
    t.equal(await c.line(), 'HELLO REPLY RESULT=OK VERSION=3.3')
    t.equal(await c.line(), 'PONG one')
    const d = pairs(await c.line())
    t.match(d.PUB, /^[A-Za-z0-9~-]{522}==$/, 'DEST REPLY PUB: a 391-byte destination')
    t.match(d.PRIV, /^[A-Za-z0-9~-]{906}==$/, 'DEST REPLY PRIV: a 679-byte private key')
    t.match(await c.line(), /^NAMING REPLY RESULT=INVALID_KEY NAME=x\.b32\.i2p MESSAGE=/, 'a malformed b32 → INVALID_KEY')
    t.equal(await c.line(), 'PONG two', 'replies come in order')
    const crlf = await RawSam.open(t, p0)
    t.equal(await crlf.cmd('HELLO VERSION\r'), 'HELLO REPLY RESULT=OK VERSION=3.3', 'CRLF is tolerated')
  })

  await t.test('authentication', async (t) => {
    const { bridges: [b] } = await startSamNetwork(t, { routers: 2, users: { alice: 'pass word' } })
    const ok = await RawSam.open(t, b!.port)
    t.equal(await ok.cmd('HELLO VERSION USER=alice PASSWORD="pass word"'), 'HELLO REPLY RESULT=OK VERSION=3.3')
    for (const line of ['HELLO VERSION', 'HELLO VERSION USER=alice PASSWORD=wrong', 'HELLO VERSION USER=bob PASSWORD="pass word"']) {
      const c = await RawSam.open(t, b!.port)
      t.equal(await c.cmd(line), 'HELLO REPLY RESULT=I2P_ERROR MESSAGE="authentication failed"', line.replace(/PASSWORD=.*/, 'PASSWORD=…'))
      t.ok(await c.waitClosed())
    }
  })

  await t.test('DEST GENERATE and SIGNATURE_TYPE', async (t) => {
    const c = await hello(p0)
    t.match(await c.cmd('DEST GENERATE SIGNATURE_TYPE=EdDSA_SHA512_Ed25519'), /^DEST REPLY PUB=\S+ PRIV=\S+$/)
    t.match(await c.cmd('DEST GENERATE SIGNATURE_TYPE=0'), /^DEST REPLY RESULT=I2P_ERROR MESSAGE=/, 'DSA is refused')
  })

  await t.test('SESSION CREATE results', async (t) => {
    const a = await hello(p0)
    const dest = pairs(await a.cmd('DEST GENERATE'))
    t.match(await a.cmd(`SESSION CREATE STYLE=STREAM ID=s1 DESTINATION=${dest.PRIV!.replace(/=+$/, '')} ${T1} i2p.streaming.foo=bar unknown.option=1`),
      new RegExp(`^SESSION STATUS RESULT=OK DESTINATION=${dest.PRIV!.replace(/[~-]/g, '\\$&')}$`), 'a given key without its padding; unknown options ignored')
    t.match(await a.cmd('SESSION CREATE STYLE=STREAM ID=s9 DESTINATION=TRANSIENT'), /^SESSION STATUS RESULT=I2P_ERROR MESSAGE=/, 'one session per control socket')
    t.equal(await a.cmd('NAMING LOOKUP NAME=ME'), `NAMING REPLY RESULT=OK NAME=ME VALUE=${dest.PUB}`, 'NAME=ME is the session\'s destination')
    const cases: Array<[string, string]> = [
      ['SESSION CREATE STYLE=STREAM ID=s1 DESTINATION=TRANSIENT', 'DUPLICATED_ID'],
      [`SESSION CREATE STYLE=STREAM ID=s2 DESTINATION=${dest.PRIV}`, 'DUPLICATED_DEST'],
      ['SESSION CREATE STYLE=STREAM ID=s3 DESTINATION=AAAA', 'INVALID_KEY'],
      ['SESSION CREATE STYLE=STREAM ID=s3 DESTINATION=not!base64', 'INVALID_KEY'],
      ['SESSION CREATE STYLE=STREAM ID=s3', 'INVALID_KEY'],
      ['SESSION CREATE STYLE=STREAM ID="a b" DESTINATION=TRANSIENT', 'INVALID_ID'],
      ['SESSION CREATE STYLE=BOGUS ID=s3 DESTINATION=TRANSIENT', 'I2P_ERROR'],
      ['SESSION CREATE STYLE=DATAGRAM3 ID=s3 DESTINATION=TRANSIENT', 'I2P_ERROR'],
      ['SESSION CREATE STYLE=STREAM ID=s3 DESTINATION=TRANSIENT SIGNATURE_TYPE=1', 'I2P_ERROR'],
      ['SESSION CREATE STYLE=RAW ID=s3 DESTINATION=TRANSIENT PROTOCOL=6', 'I2P_ERROR'],
      ['SESSION CREATE STYLE=RAW ID=s3 DESTINATION=TRANSIENT PORT=99999', 'I2P_ERROR'],
      ['SESSION ADD STYLE=STREAM ID=sub', 'I2P_ERROR']
    ]
    for (const [line, result] of cases) {
      const c = await hello(p0)
      t.match(await c.cmd(line), new RegExp(`^SESSION STATUS RESULT=${result}( MESSAGE=.*)?$`), `${line.slice(0, 60)} → ${result}`)
    }
  })

  await t.test('STREAM CONNECT, ACCEPT, FORWARD', async (t) => {
    const a = await hello(p0)
    t.match(await a.cmd(`SESSION CREATE STYLE=STREAM ID=ca DESTINATION=TRANSIENT FROM_PORT=7 ${T1}`), /RESULT=OK/)
    const b = await hello(p1)
    t.match(await b.cmd(`SESSION CREATE STYLE=STREAM ID=cb DESTINATION=TRANSIENT ${T1}`), /RESULT=OK/)
    const bDest = pairs(await b.cmd('NAMING LOOKUP NAME=ME')).VALUE!
    const aDest = pairs(await a.cmd('NAMING LOOKUP NAME=ME')).VALUE!

    // Two pending ACCEPTs (3.2+), then a CONNECT with data pipelined after the command.
    const acc1 = await hello(p1)
    t.equal(await acc1.cmd('STREAM ACCEPT ID=cb'), 'STREAM STATUS RESULT=OK')
    const acc2 = await hello(p1)
    t.equal(await acc2.cmd('STREAM ACCEPT ID=cb SILENT=true'), 'STREAM STATUS RESULT=OK', 'a second pending ACCEPT (3.2+)')
    const con = await hello(p0)
    con.write(`STREAM CONNECT ID=ca DESTINATION=${bDest.replace(/=+$/, '')} TO_PORT=80\nearly bytes`)
    t.equal(await con.line(), 'STREAM STATUS RESULT=OK', 'CONNECT with a key without padding')
    t.equal(await acc1.line(), `${aDest} FROM_PORT=7 TO_PORT=80`, 'the first ACCEPT gets the peer line with ports')
    t.equal(await acc1.bytes(11), 'early bytes', 'bytes pipelined after CONNECT are the first stream data')
    acc1.write('back')
    t.equal(await con.bytes(4), 'back')
    con.socket.end()
    t.ok(await acc1.waitClosed(10_000) || true)

    // A CONNECT while an ACCEPT is pending and silent: no peer line, straight bytes.
    const con2 = await hello(p0)
    t.equal(await con2.cmd(`STREAM CONNECT ID=ca DESTINATION=${bDest}`), 'STREAM STATUS RESULT=OK')
    con2.write('silent')
    t.equal(await acc2.bytes(6), 'silent', 'SILENT ACCEPT: no peer line')

    // FORWARD is refused while... nothing is pending now: register one.
    const got: string[] = []
    const server = net.createServer((s) => { s.setEncoding('latin1'); s.on('data', (d: string) => { got.push(d) }); s.on('error', () => {}) })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => { server.close() })
    const fwd = await hello(p1)
    t.equal(await fwd.cmd(`STREAM FORWARD ID=cb PORT=${(server.address() as net.AddressInfo).port} HOST=127.0.0.1`), 'STREAM STATUS RESULT=OK')
    const acc3 = await hello(p1)
    t.match(await acc3.cmd('STREAM ACCEPT ID=cb'), /^STREAM STATUS RESULT=I2P_ERROR/, 'ACCEPT while a FORWARD is active')
    const fwd2 = await hello(p1)
    t.match(await fwd2.cmd('STREAM FORWARD ID=cb PORT=1'), /^STREAM STATUS RESULT=I2P_ERROR/, 'a second FORWARD')
    const con3 = await hello(p0)
    t.equal(await con3.cmd(`STREAM CONNECT ID=ca DESTINATION=${bDest}`), 'STREAM STATUS RESULT=OK')
    con3.write('via forward')
    t.ok(await until(() => got.join('').includes('via forward'), 10_000), 'FORWARD relays to the local server')
    t.equal(got.join('').split('\n')[0], `${aDest} FROM_PORT=7 TO_PORT=0`, 'the forwarded connection starts with the peer line (3.2+, a port set: with ports)')
    fwd.socket.destroy()
    await new Promise(resolve => setTimeout(resolve, 100))
    const acc4 = await hello(p1)
    t.equal(await acc4.cmd('STREAM ACCEPT ID=cb'), 'STREAM STATUS RESULT=OK', 'ACCEPT works again once the FORWARD socket closed')

    // Errors.
    const errs: Array<[string, string]> = [
      [`STREAM CONNECT ID=nope DESTINATION=${bDest}`, 'INVALID_ID'],
      ['STREAM CONNECT ID=ca DESTINATION=garbage', 'INVALID_KEY'],
      ['STREAM CONNECT ID=ca', 'INVALID_KEY'],
      ['STREAM CONNECT ID=ca DESTINATION=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b32.umbra', 'CANT_REACH_PEER'],
      ['STREAM ACCEPT ID=nope', 'INVALID_ID'],
      ['STREAM FORWARD ID=ca', 'I2P_ERROR'],
      ['STREAM FORWARD ID=ca PORT=80 SSL=true', 'I2P_ERROR']
    ]
    for (const [line, result] of errs) {
      const c = await hello(p0)
      t.match(await c.cmd(line, 40_000), new RegExp(`^STREAM STATUS RESULT=${result} MESSAGE=`), `${line.slice(0, 50)} → ${result}`)
    }
    const silent = await hello(p0)
    silent.write('STREAM CONNECT ID=ca SILENT=true DESTINATION=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b32.i2p\n')
    t.ok(await silent.waitClosed(40_000), 'a SILENT CONNECT that fails just closes')

    // A SAM 3.1 client: ALREADY_ACCEPTING while another ACCEPT is pending; a bare peer line.
    const old1 = await RawSam.open(t, p1)
    t.equal(await old1.cmd('HELLO VERSION MIN=3.0 MAX=3.1'), 'HELLO REPLY RESULT=OK VERSION=3.1')
    t.match(await old1.cmd('STREAM ACCEPT ID=cb'), /^STREAM STATUS RESULT=ALREADY_ACCEPTING MESSAGE=/, '3.1: ALREADY_ACCEPTING')
    const con4 = await hello(p0)
    t.equal(await con4.cmd(`STREAM CONNECT ID=ca DESTINATION=${bDest}`), 'STREAM STATUS RESULT=OK')
    t.match(await acc4.line(), / FROM_PORT=7 TO_PORT=0$/, 'the pending ACCEPT took it')
    const old2 = await RawSam.open(t, p1)
    await old2.cmd('HELLO VERSION MAX=3.1')
    t.equal(await old2.cmd('STREAM ACCEPT ID=cb'), 'STREAM STATUS RESULT=OK')
    const con5 = await hello(p0)
    t.equal(await con5.cmd(`STREAM CONNECT ID=ca DESTINATION=${bDest}`), 'STREAM STATUS RESULT=OK')
    t.equal(await old2.line(), aDest, '3.1: the bare destination')

    // The session dies with its control socket, and so do its streams.
    a.socket.destroy()
    t.ok(await con5.waitClosed(), 'a stream of a closed session is closed')
    const after = await hello(p0)
    t.match(await after.cmd(`STREAM CONNECT ID=ca DESTINATION=${bDest}`), /^STREAM STATUS RESULT=INVALID_ID/, 'its ID is gone')
  })

  await t.test('datagrams: control socket, UDP, RAW headers, PRIMARY subsessions', async (t) => {
    const udpIn = dgram.createSocket('udp4')
    const packets: Buffer[] = []
    udpIn.on('message', (m) => { packets.push(m) })
    await new Promise<void>((resolve) => udpIn.bind(0, '127.0.0.1', resolve))
    t.teardown(() => { udpIn.close() })
    const a = await hello(p0)
    t.match(await a.cmd(`SESSION CREATE STYLE=DATAGRAM ID=da DESTINATION=TRANSIENT ${T1}`), /RESULT=OK/)
    const aDest = pairs(await a.cmd('NAMING LOOKUP NAME=ME')).VALUE!
    const b = await hello(p1)
    t.match(await b.cmd(`SESSION CREATE STYLE=RAW ID=rb DESTINATION=TRANSIENT HEADER=true PORT=${udpIn.address().port} HOST=127.0.0.1 ${T1}`), /RESULT=OK/)
    const bDest = pairs(await b.cmd('NAMING LOOKUP NAME=ME')).VALUE!
    const c = await hello(p1)
    t.match(await c.cmd(`SESSION CREATE STYLE=PRIMARY ID=pc DESTINATION=TRANSIENT ${T1}`), /RESULT=OK/)
    t.equal(await c.cmd('SESSION ADD STYLE=DATAGRAM ID=pc-d FROM_PORT=5'), 'SESSION STATUS RESULT=OK ID=pc-d MESSAGE=ADD')
    t.equal(await c.cmd('SESSION ADD STYLE=STREAM ID=pc-s'), 'SESSION STATUS RESULT=OK ID=pc-s MESSAGE=ADD')
    t.match(await c.cmd('SESSION ADD STYLE=DATAGRAM ID=pc-d2 FROM_PORT=5'), /^SESSION STATUS RESULT=I2P_ERROR/, 'two subsessions on one port')
    t.match(await c.cmd('SESSION ADD STYLE=DATAGRAM ID=pc-d'), /^SESSION STATUS RESULT=DUPLICATED_ID/)
    t.match(await c.cmd('SESSION ADD STYLE=STREAM ID=s LISTEN_PORT=9'), /^SESSION STATUS RESULT=I2P_ERROR/, 'STREAM LISTEN_PORT must be FROM_PORT or 0')
    t.equal(await c.cmd('SESSION ADD STYLE=RAW ID=pc-r'), 'SESSION STATUS RESULT=OK ID=pc-r MESSAGE=ADD')
    t.equal(await c.cmd('SESSION REMOVE ID=pc-r'), 'SESSION STATUS RESULT=OK ID=pc-r MESSAGE=REMOVE')
    t.match(await c.cmd('SESSION REMOVE ID=pc-r'), /^SESSION STATUS RESULT=INVALID_ID/)
    const cDest = pairs(await c.cmd('NAMING LOOKUP NAME=ME')).VALUE!

    // RAW from A's control socket is refused (A is a DATAGRAM session): RAW SEND needs a RAW session.
    // DATAGRAM SEND from A to the PRIMARY's port-5 subsession arrives on C's control socket.
    const sendUntil = async (send: () => void, got: () => boolean): Promise<boolean> => {
      for (let i = 0; i < 20 && !got(); i++) { send(); await until(got, 1000) }
      return got()
    }
    const text = 'dgram over control'
    const got: Array<[string, string]> = []
    let reading = true
    const reader = (async () => {
      while (reading) {
        try {
          const l = await c.line(60_000)
          got.push([l, await c.bytes(Number(pairs(l).SIZE))])
        } catch { return }
      }
    })()
    t.ok(await sendUntil(() => { a.write(`DATAGRAM SEND DESTINATION=${cDest} SIZE=${text.length} TO_PORT=5\n${text}`) }, () => got.length >= 1), 'arrived')
    t.equal(got[0]?.[0], `DATAGRAM RECEIVED DESTINATION=${aDest} SIZE=${text.length} FROM_PORT=0 TO_PORT=5`, 'DATAGRAM RECEIVED names the sender and ports')
    t.equal(got[0]?.[1], text, 'then the payload')

    // UDP from a RAW session: B's RAW session forwards with a header line to our UDP socket.
    const r = await hello(p0)
    t.match(await r.cmd(`SESSION CREATE STYLE=RAW ID=ra DESTINATION=TRANSIENT ${T1}`), /RESULT=OK/)
    const udpOut = dgram.createSocket('udp4')
    t.teardown(() => { udpOut.close() })
    t.ok(await sendUntil(() => { udpOut.send(Buffer.from(`3.0 ra ${bDest.replace(/=+$/, '')} TO_PORT=3\nraw!`), bridges[0]!.udpPort, '127.0.0.1') }, () => packets.length > 0),
      'a raw datagram sent over UDP arrived')
    t.equal(packets[0]!.toString(), 'FROM_PORT=0 TO_PORT=3 PROTOCOL=18\nraw!', 'HEADER=true: ports and protocol, then the payload')
    // A RAW SEND may not take the streaming or repliable protocol number, as SESSION CREATE may not.
    r.write(`RAW SEND DESTINATION=${bDest} SIZE=1 PROTOCOL=17\nx`)
    t.match(await r.line(), /RESULT=I2P_ERROR.*PROTOCOL 17 is not allowed for RAW/, 'RAW SEND PROTOCOL=17 is refused')
    // A datagram larger than tunnels carry (maxDatagramPayload) is refused with a reply saying so,
    // rather than dropped on the way; the connection reads on past its payload.
    const tooBig = maxDatagramPayload(true) + 1
    r.write(`RAW SEND DESTINATION=${bDest} SIZE=${tooBig}\n`)
    r.write(Buffer.alloc(tooBig, 0x61))
    t.match(await r.line(), new RegExp(`^RAW STATUS RESULT=I2P_ERROR MESSAGE="datagram of ${tooBig} bytes: a raw datagram through tunnels holds at most ${tooBig - 1}"`), 'a RAW SEND over the tunnel limit gets I2P_ERROR')
    t.match(await r.cmd('NAMING LOOKUP NAME=ME'), /RESULT=OK/, 'the connection still answers')

    // UDP from a DATAGRAM session to the PRIMARY's port-5 subsession: on C's control socket.
    const before = got.length
    t.ok(await sendUntil(() => { udpOut.send(Buffer.from(`3.3 da ${cDest} TO_PORT=5 FROM_PORT=4\nudp dgram`), bridges[0]!.udpPort, '127.0.0.1') }, () => got.length > before), 'arrived')
    t.same(got[before], [`DATAGRAM RECEIVED DESTINATION=${aDest} SIZE=9 FROM_PORT=4 TO_PORT=5`, 'udp dgram'], 'from UDP to a subsession\'s control socket')
    reading = false
    c.socket.destroy()
    await reader

    // Bad datagram packets are dropped and counted; the port keeps working.
    const bad0 = { ...bridges[0]!.stats().udp }
    for (const junk of ['no newline', '3.0 nope dest\nx', '4.0 da x\ny', '3.0 da\nz', '\n']) udpOut.send(Buffer.from(junk), bridges[0]!.udpPort, '127.0.0.1')
    t.ok(await until(() => bridges[0]!.stats().udp.malformed + bridges[0]!.stats().udp.unknownId >= bad0.malformed + bad0.unknownId + 4, 5000), 'bad packets counted')

    // SIZE errors on the control socket: answered, then closed (framing is lost).
    const z = await hello(p0)
    t.match(await z.cmd('DATAGRAM SEND DESTINATION=x SIZE=0'), /^DATAGRAM STATUS RESULT=I2P_ERROR/)
    t.ok(await z.waitClosed())
  })

  await t.test('NAMING, PING, HELP, AUTH, QUIT, unknown commands', async (t) => {
    const a = await hello(p0)
    t.match(await a.cmd('NAMING LOOKUP NAME=ME'), /^NAMING REPLY RESULT=KEY_NOT_FOUND NAME=ME MESSAGE=/, 'ME without a session')
    t.match(await a.cmd('NAMING LOOKUP NAME=zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzq.b32.i2p', 40_000), /^NAMING REPLY RESULT=KEY_NOT_FOUND/, 'an unknown b32')
    t.match(await a.cmd('NAMING LOOKUP NAME=forum.i2p'), /^NAMING REPLY RESULT=KEY_NOT_FOUND NAME=forum\.i2p/, 'a host name: no address book')
    t.match(await a.cmd('NAMING LOOKUP NAME=@@@'), /^NAMING REPLY RESULT=INVALID_KEY/)
    t.match(await a.cmd('NAMING LOOKUP'), /^NAMING REPLY RESULT=INVALID_KEY/)
    const d = pairs(await a.cmd('DEST GENERATE'))
    t.equal(await a.cmd(`NAMING LOOKUP NAME=${d.PUB!.replace(/=+$/, '')}`), `NAMING REPLY RESULT=OK NAME=${d.PUB!.replace(/=+$/, '')} VALUE=${d.PUB}`, 'a full destination resolves to itself')
    t.equal(await a.cmd('PING 12345'), 'PONG 12345')
    t.match(await a.cmd('HELP'), /^HELP REPLY RESULT=OK MESSAGE="commands: /)
    t.match(await a.cmd('AUTH ENABLE'), /^AUTH STATUS RESULT=I2P_ERROR/)
    t.match(await a.cmd('FROB NICATE'), /^SESSION STATUS RESULT=I2P_ERROR MESSAGE="unknown command FROB NICATE"/)
    t.match(await a.cmd('SESSION CREATE STYLE="unterminated'), /^SESSION STATUS RESULT=I2P_ERROR MESSAGE="unterminated quoted value of STYLE"/)
    t.match(await a.cmd('STREAM CONNECT ID=x FROM_PORT=abc DESTINATION=x'), /^STREAM STATUS RESULT=/)
    t.equal(await a.cmd('PING'), 'PONG', 'still serving after errors')
    t.equal(await a.cmd('QUIT'), 'SESSION STATUS RESULT=OK MESSAGE=closing')
    t.ok(await a.waitClosed())
    const long = await hello(p0)
    long.write('PING ' + 'x'.repeat(20_000) + '\n')
    t.match(await long.line(), /^SESSION STATUS RESULT=I2P_ERROR MESSAGE="line longer than/)
    t.ok(await long.waitClosed(), 'an overlong line closes the connection')
  })

  await t.test('timeouts and limits', async (t) => {
    // 1 s for HELLO: the held connections must outlive the opening of the fourth one, even when
    // a loaded machine stalls between them.
    const { bridges: [b] } = await startSamNetwork(t, { routers: 2, limits: { helloTimeoutMs: 1000, idleTimeoutMs: 300, maxConnections: 3 } })
    const quiet = await RawSam.open(t, b!.port)
    t.match(await quiet.line(5000), /^HELLO REPLY RESULT=I2P_ERROR MESSAGE="no HELLO in time"$/)
    t.ok(await quiet.waitClosed())
    const idle = await RawSam.open(t, b!.port)
    await idle.cmd('HELLO VERSION')
    t.match(await idle.line(5000), /^SESSION STATUS RESULT=I2P_ERROR MESSAGE="idle timeout"$/)
    t.ok(await idle.waitClosed())
    const held = await Promise.all([0, 1, 2].map(async () => await RawSam.open(t, b!.port)))
    const over = await RawSam.open(t, b!.port)
    t.ok(await over.waitClosed(), 'over maxConnections: closed at once')
    t.equal(b!.stats().refused, 1)
    for (const h of held) h.socket.destroy()
  })
})

t.test('SESSION CREATE umbra.localDelivery=false: the destination takes no local delivery', async (t) => {
  t.same(['false', 'FALSE', 'true', 'no', undefined].map(v => localDeliveryFromOptions(new Map(v === undefined ? [] : [['umbra.localDelivery', v]]))),
    [false, false, true, undefined, undefined], 'false/true are read, anything else is ignored like an unknown option')
  const { routers: [r], bridges: [b] } = await startSamNetwork(t, { routers: 2 })
  const opened = async (opt: string): Promise<boolean | undefined> => {
    const c = await RawSam.open(t, b!.port)
    t.equal(await c.cmd('HELLO VERSION'), 'HELLO REPLY RESULT=OK VERSION=3.3')
    const id = `ld${Math.random().toString(36).slice(2, 8)}`
    t.match(await c.cmd(`SESSION CREATE STYLE=DATAGRAM ID=${id} DESTINATION=TRANSIENT ${opt}`.trim()), /RESULT=OK/)
    const me = pairs(await c.cmd('NAMING LOOKUP NAME=ME')).VALUE!
    return [...r!.sessions].find(s => destinationToBase64(s.destination) === me)?.localDelivery
  }
  t.equal(await opened('umbra.localDelivery=false'), false, 'umbra.localDelivery=false reaches the destination')
  t.equal(await opened(''), true, 'by default it takes local delivery')
})
