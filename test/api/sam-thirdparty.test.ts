// An unmodified third-party SAM client library from npm (@diva.exchange/i2p-sam) against SAM
// bridges on two routers of an in-process testnet (real TCP/UDP/HTTP links on 127.0.0.1):
// destinations, names, CONNECT, FORWARD, repliable and raw datagrams. The library cuts the
// base64 '=' padding off every key and reads each TCP chunk as one whole reply.
import t from 'tap'
import * as net from 'node:net'
import { createDatagram, createForward, createLocalDestination, createRaw, createStream, lookup, toB32 } from '@diva.exchange/i2p-sam'
import { startSamNetwork } from './sam-fixture.ts'
import { until } from '../tunnel/fixtures.ts'

const OPTIONS = 'inbound.length=1 outbound.length=1 inbound.quantity=1 outbound.quantity=1 i2cp.leaseSetEncType=4,0'

t.test('@diva.exchange/i2p-sam against the bridge', async (t) => {
  const { bridges } = await startSamNetwork(t, { routers: 4 })
  const sam0 = { host: '127.0.0.1', portTCP: bridges[0]!.port, portUDP: bridges[0]!.udpPort }
  const sam1 = { host: '127.0.0.1', portTCP: bridges[1]!.port, portUDP: bridges[1]!.udpPort }

  await t.test('destinations and names', async (t) => {
    const d = await createLocalDestination({ sam: sam0 })
    t.match(d.address, /^[a-z2-7]{52}\.b32\.i2p$/, 'a b32 address computed by the library')
    t.match(d.public, /^[A-Za-z0-9~-]{520,524}$/, 'a public destination (the library cut its padding)')
    t.equal(toB32(d.public) + '.b32.i2p', d.address, 'the library hashes what the bridge gave')
  })

  await t.test('FORWARD and CONNECT: data both ways', async (t) => {
    const got: Buffer[] = []
    const server = net.createServer((c) => {
      c.on('data', (b: Buffer) => { got.push(b); if (Buffer.concat(got).includes('Hi Server!')) c.write('Hello Client!\n') })
      c.on('error', () => {})
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => { server.close() })
    const port = (server.address() as net.AddressInfo).port
    const fwd = await createForward({ sam: sam1, forward: { host: '127.0.0.1', port }, session: { options: OPTIONS } })
    t.teardown(() => { fwd.close() })
    const client = await createStream({ sam: sam0, stream: { destination: fwd.getPublicKey() }, session: { options: OPTIONS } })
    t.teardown(() => { client.close() })
    const answers: Buffer[] = []
    client.on('data', (b: Buffer) => { answers.push(b) })
    client.stream(Buffer.from('Hi Server!\n'))
    t.ok(await until(() => Buffer.concat(answers).toString().includes('Hello Client!'), 20_000), 'the client got the server\'s answer')
    const first = Buffer.concat(got).toString()
    const nl = first.indexOf('\n')
    t.equal(first.slice(0, nl), client.getPublicKey().replace(/=+$/, '') + '==', 'the forwarded connection starts with the peer destination alone')
    t.equal(first.slice(nl + 1), 'Hi Server!\n', 'then the stream bytes')
  })

  await t.test('CONNECT to a b32 address found through the network', async (t) => {
    const server = net.createServer((c) => { c.on('error', () => {}); c.pipe(c) })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => { server.close() })
    const fwd = await createForward({ sam: sam1, forward: { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, silent: true }, session: { options: OPTIONS } })
    t.teardown(() => { fwd.close() })
    const name = fwd.getB32Address()
    t.equal(await lookup({ sam: sam0 }, name), fwd.getPublicKey(), 'NAMING LOOKUP of the b32 from another router (as the library cuts it)')
    const client = await createStream({ sam: sam0, stream: { destination: name }, session: { options: OPTIONS } })
    t.teardown(() => { client.close() })
    const echoed: Buffer[] = []
    client.on('data', (b: Buffer) => { echoed.push(b) })
    client.stream(Buffer.from('echo me'))
    t.ok(await until(() => Buffer.concat(echoed).toString() === 'echo me', 20_000), 'echoed through a SILENT forward')
  })

  await t.test('repliable datagrams, and a reply to the sender', async (t) => {
    const a = await createDatagram({ sam: sam0, listen: { address: '127.0.0.1', port: 20301 }, session: { options: OPTIONS } })
    t.teardown(() => { a.close() })
    const b = await createDatagram({ sam: sam1, listen: { address: '127.0.0.1', port: 20302 }, session: { options: OPTIONS } })
    t.teardown(() => { b.close() })
    const atB: Array<[string, string]> = []
    const atA: Array<[string, string]> = []
    b.on('data', (m: Buffer, from: string) => { atB.push([m.toString(), from]); b.send(from, Buffer.from('pong')) })
    a.on('data', (m: Buffer, from: string) => { atA.push([m.toString(), from]) })
    // Datagrams are unreliable: resend until one gets through (bounded).
    for (let i = 0; i < 20 && atA.length === 0; i++) {
      a.send(b.getPublicKey(), Buffer.from('ping'))
      await until(() => atA.length > 0, 1000)
    }
    t.ok(atB.length > 0, 'B received')
    t.equal(atB[0]![0], 'ping')
    t.equal(toB32(atB[0]![1]), toB32(a.getPublicKey()), 'B sees A as the sender')
    t.equal(atA[0]?.[0], 'pong', 'A got the reply sent to the sender B saw')
  })

  await t.test('raw datagrams', async (t) => {
    const a = await createRaw({ sam: sam0, listen: { address: '127.0.0.1', port: 20303 }, session: { options: OPTIONS } })
    t.teardown(() => { a.close() })
    const b = await createRaw({ sam: sam1, listen: { address: '127.0.0.1', port: 20304 }, session: { options: OPTIONS } })
    t.teardown(() => { b.close() })
    const atB: string[] = []
    b.on('data', (m: Buffer) => { atB.push(m.toString()) })
    for (let i = 0; i < 20 && atB.length === 0; i++) {
      a.send(b.getB32Address(), Buffer.from('raw hello'))
      await until(() => atB.length > 0, 1000)
    }
    t.equal(atB[0], 'raw hello', 'the raw payload, as is')
  })
})
