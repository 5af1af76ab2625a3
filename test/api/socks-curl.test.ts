// curl, unmodified, through the SOCKS5 proxy of router 0 to a web server published by a server
// tunnel on router 1 (an in-process testnet over real TCP/UDP/HTTP links on 127.0.0.1):
// a 10 MB file arrives intact. Unknown destinations and clearnet names get the right SOCKS
// reply codes, seen by curl's own error messages.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { startNetwork } from '../tunnel/fixtures.ts'
import { startLocalApis } from '../../src/api/local.ts'
import { routerHost } from '../../src/api/host.ts'
import { silentLogger } from '../../src/util/log.ts'

const HAVE_CURL = await new Promise<boolean>((resolve) => { execFile('curl', ['--version'], (err) => { resolve(err === null) }) })

async function curl (args: string[], ms = 120_000): Promise<{ code: number, out: Buffer, err: string }> {
  return await new Promise((resolve) => {
    execFile('curl', ['--silent', '--show-error', '--max-time', String(ms / 1000), ...args], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: ms + 5000 }, (err, out, stderr) => {
      resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : -1), out, err: stderr.toString() })
    })
  })
}

t.test('curl through SOCKS5 to a server tunnel on another router', { skip: HAVE_CURL ? false : 'curl is not installed' }, async (t) => {
  const routers = await startNetwork(t, 4, { pool: { length: 1, quantity: 2 } })
  const body = randomBytes(10 * 1024 * 1024)
  const web = http.createServer((req, res) => {
    if (req.url !== '/file.bin') { res.writeHead(404).end('no'); return }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body)
  })
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { web.close(); web.closeAllConnections() })

  const server = await startLocalApis(routerHost(routers[1]!), { dataDir: t.testdirName, sam: null, socks: null, serverTunnels: [{ name: 'web', host: '127.0.0.1', port: (web.address() as AddressInfo).port }] }, silentLogger)
  t.teardown(async () => { await server.close() })
  const client = await startLocalApis(routerHost(routers[0]!), { dataDir: t.testdirName, sam: null, socks: { host: '127.0.0.1', port: 0 }, serverTunnels: [] }, silentLogger)
  t.teardown(async () => { await client.close() })
  const tunnel = server.tunnels[0]!
  await tunnel.ready
  const proxy = `127.0.0.1:${client.socks!.port}`

  const r = await curl(['--socks5-hostname', proxy, `http://${tunnel.address}/file.bin`])
  t.equal(r.code, 0, `curl succeeded ${r.err}`)
  t.equal(r.out.length, body.length, '10 MB arrived')
  t.equal(createHash('sha256').update(r.out).digest('hex'), createHash('sha256').update(body).digest('hex'), 'intact')
  const i2p = await curl(['--socks5-hostname', proxy, `http://${tunnel.address.replace(/\.umbra$/, '.i2p')}/nothing`])
  t.equal(i2p.out.toString(), 'no', 'the .b32.i2p name reaches the same service (its 404 page)')

  const unknown = await curl(['--socks5-hostname', proxy, 'http://' + 'a'.repeat(52) + '.b32.umbra/'])
  t.not(unknown.code, 0)
  t.match(unknown.err, /SOCKS5.*(unreachable|\(4\))/i, `an unknown destination: host unreachable (${unknown.err.trim()})`)
  const clearnet = await curl(['--socks5-hostname', proxy, 'http://example.com/'])
  t.not(clearnet.code, 0)
  t.match(clearnet.err, /SOCKS5.*(not allowed|\(2\))/i, `no clearnet exit: not allowed by ruleset (${clearnet.err.trim()})`)
  t.ok(tunnel.stats.relayed >= 2, 'the server tunnel relayed the requests')
})
