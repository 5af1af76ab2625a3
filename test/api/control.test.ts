/**
 * The control API over real HTTP on 127.0.0.1, in front of a real router: status fields,
 * health and info, and every refusal (404, 405, 413, 403 foreign Host, non-loopback bind,
 * port in use, slow clients).
 */
import t, { type Test } from 'tap'
import * as http from 'node:http'
import * as net from 'node:net'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { existsSync, renameSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startControlApi, type ControlApi, type ControlApiOptions } from '../../src/api/control.ts'
import { controlGet } from '../../src/api/control-client.ts'
import { startRouter } from '../router/fixtures.ts'

interface Reply { status: number, headers: http.IncomingHttpHeaders, body: string }

async function request (url: string, opts: { method?: string, headers?: Record<string, string>, body?: string, chunked?: boolean } = {}): Promise<Reply> {
  return await new Promise((resolve, reject) => {
    const headers = { ...(opts.body !== undefined ? { 'Content-Length': String(Buffer.byteLength(opts.body)) } : {}), ...opts.headers }
    const req = http.request(url, { method: opts.method ?? 'GET', headers, agent: false }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode!, headers: res.headers, body }) })
      res.on('error', reject)
    })
    req.setTimeout(5000, () => { req.destroy(new Error('request timed out')) })
    req.on('error', reject)
    if (opts.chunked === true) { req.write('abc'); req.end() } else req.end(opts.body)
  })
}

async function start (t: Test, opts: Omit<ControlApiOptions, 'status'> & { status?: ControlApiOptions['status'] }): Promise<ControlApi> {
  const api = await startControlApi({ status: () => { throw new Error('no status here') }, host: '127.0.0.1', port: 0, ...opts })
  t.teardown(async () => { await api.close() })
  return api
}

t.test('serves a real router\'s status, health and info as JSON', async t => {
  const router = await startRouter(t)
  const api = await start(t, { status: () => router.status(), info: () => router.info.raw, extra: { answer: () => ({ n: 42 }) } })
  t.match(api.url, /^http:\/\/127\.0\.0\.1:\d+$/, 'the real port is in the URL')
  t.not(new URL(api.url).port, '0')

  const r = await request(`${api.url}/api/status`)
  t.equal(r.status, 200)
  t.match(r.headers['content-type'], /^application\/json/)
  t.equal(r.headers['cache-control'], 'no-store')
  const s = JSON.parse(r.body) as Record<string, unknown>
  t.equal(s.id, router.idHex)
  t.equal(s.network, 'test')
  t.equal(s.version, '0.1.0')
  t.same(s.addresses, router.addresses)
  t.equal(s.peers, 0)
  t.same(s.links, { udp: 0, tcp: 0, http: 0, memory: 0 })
  t.type((s.netdb as Record<string, unknown>).routerInfos, 'number')
  t.type(s.uptimeMs, 'number')
  t.ok((s.uptimeMs as number) >= 0)

  t.same(JSON.parse((await request(`${api.url}/api/health`)).body), { ok: true })
  const info = JSON.parse((await request(`${api.url}/api/info`)).body) as { info: string }
  t.same(new Uint8Array(Buffer.from(info.info, 'base64')), router.info.raw, '/api/info is the signed RouterInfo')
  t.same(JSON.parse((await request(`${api.url}/api/answer`)).body), { n: 42 }, 'extra endpoints')
  t.same(JSON.parse((await request(`${api.url}/api/status?x=1`)).body).id, router.idHex, 'a query string is ignored')
  t.same(await controlGet(api.url, '/api/health'), { ok: true }, 'the client reads it too')

  const head = await request(`${api.url}/api/status`, { method: 'HEAD' })
  t.equal(head.status, 200)
  t.equal(head.body, '', 'HEAD has no body')
})

t.test('refusals are JSON too: 404, 405, 413, 403, 500', async t => {
  const api = await start(t, { status: () => { throw new Error('broken') } })
  const nf = await request(`${api.url}/api/nope`)
  t.equal(nf.status, 404)
  t.match(nf.headers['content-type'], /^application\/json/)
  t.match(JSON.parse(nf.body), { error: /no such endpoint: \/api\/nope/ })
  t.equal((await request(`${api.url}/`)).status, 404)
  t.equal((await request(`${api.url}/api/health/`)).status, 404, 'paths match exactly')

  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    const r = await request(`${api.url}/api/health`, { method })
    t.equal(r.status, 405, method)
    t.equal(r.headers.allow, 'GET, HEAD')
    t.match(JSON.parse(r.body), { error: /not allowed/ })
  }

  const withBody = await request(`${api.url}/api/health`, { body: 'hello' })
  t.equal(withBody.status, 413, 'a GET with a body')
  t.match(JSON.parse(withBody.body), { error: /bodies are not accepted/ })
  t.equal((await request(`${api.url}/api/health`, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } })).status, 413)
  t.equal((await request(`${api.url}/api/health`, { chunked: true, headers: { 'Transfer-Encoding': 'chunked' } })).status, 413, 'a chunked body')
  t.equal((await request(`${api.url}/api/health`, { headers: { 'Content-Length': '0' } })).status, 200, 'an empty body is no body')

  for (const host of ['evil.example', 'evil.example:7657', '192.168.0.1:80', '[::2]:1']) {
    const r = await request(`${api.url}/api/health`, { headers: { Host: host } })
    t.equal(r.status, 403, `Host: ${host} (DNS rebinding)`)
  }
  for (const host of ['localhost', 'localhost:7657', '127.0.0.1', '[::1]:7657']) {
    t.equal((await request(`${api.url}/api/health`, { headers: { Host: host } })).status, 200, `Host: ${host}`)
  }

  const err = await request(`${api.url}/api/status`)
  t.equal(err.status, 500, 'a callback that throws')
  t.same(JSON.parse(err.body), { error: 'internal error' }, 'without leaking the error')
  await t.rejects(controlGet(api.url, '/api/nope'), { name: 'TransportError', message: /HTTP 404: no such endpoint/ })
})

t.test('binds loopback only, unless allowRemote', async t => {
  for (const host of ['0.0.0.0', '::', '192.0.2.1', 'example.com']) {
    await t.rejects(startControlApi({ host, port: 0, status: () => { throw new Error('x') } }), { name: 'ConfigError', message: /refusing to bind non-loopback/ }, host)
  }
  await t.rejects(startControlApi({ port: 70000, status: () => { throw new Error('x') } }), { name: 'ConfigError', message: /port must be/ })
  await t.rejects(startControlApi({ port: 0, status: () => { throw new Error('x') }, extra: { status: () => 1 } }), { name: 'ConfigError', message: /duplicate endpoint/ })
  await t.rejects(startControlApi({ port: 0, status: () => { throw new Error('x') }, extra: { '../x': () => 1 } }), { name: 'ConfigError' })

  const first = await start(t, {})
  const port = Number(new URL(first.url).port)
  await t.rejects(startControlApi({ host: '127.0.0.1', port, status: () => { throw new Error('x') } }), { name: 'ConfigError', message: /address in use/ })

  const v6 = await startControlApi({ host: '::1', port: 0, status: () => { throw new Error('x') } }).catch(() => undefined)
  if (v6 !== undefined) {
    t.match(v6.url, /^http:\/\/\[::1\]:\d+$/, 'IPv6 loopback in brackets')
    t.same(await controlGet(v6.url, '/api/health'), { ok: true })
    await v6.close()
  }
})

t.test('slow and silent clients are cut off; close ends every connection', async t => {
  const api = await start(t, { requestTimeoutMs: 500 })
  const port = Number(new URL(api.url).port)
  const started = Date.now()
  const closedAfter = await new Promise<number>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => { s.write('GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n') })
    s.on('data', () => {})
    s.on('error', () => {})
    s.on('close', () => { resolve(Date.now() - started) })
    setTimeout(() => { s.destroy(); reject(new Error('a half-sent request was not cut off')) }, 5000)
  })
  t.ok(closedAfter < 4000, `a half-sent request is dropped (${closedAfter} ms)`)

  const idle = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve) => idle.once('connect', () => { resolve() }))
  const idleClosed = new Promise<void>((resolve) => { idle.on('close', () => { resolve() }); idle.on('error', () => {}) })
  await api.close()
  await api.close()
  await idleClosed
  t.pass('close() ends open connections and is idempotent')
  await t.rejects(controlGet(api.url, '/api/health', { timeoutMs: 1000 }), { name: 'TransportError', message: /cannot reach/ })
})

t.test('the client is bounded: deadline and answer size', async t => {
  const silent = net.createServer((s) => { s.on('error', () => {}) })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { silent.close() })
  const url = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`
  const t0 = Date.now()
  await t.rejects(controlGet(url, '/api/status', { timeoutMs: 300 }), { name: 'TimeoutError' })
  t.ok(Date.now() - t0 < 2000)

  const big = http.createServer((_req, res) => { res.end('"' + 'x'.repeat(2 * 1024 * 1024) + '"') })
  await new Promise<void>((resolve) => big.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { big.close() })
  await t.rejects(controlGet(`http://127.0.0.1:${(big.address() as net.AddressInfo).port}`, '/'), { name: 'LimitError' })

  const notJson = http.createServer((_req, res) => { res.end('<html>') })
  await new Promise<void>((resolve) => notJson.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { notJson.close() })
  await t.rejects(controlGet(`http://127.0.0.1:${(notJson.address() as net.AddressInfo).port}`, '/'), { name: 'DecodeError' })
  await t.rejects(controlGet('https://127.0.0.1:1', '/'), { name: 'ConfigError' })
})

t.test('a Unix socket: 0600, stale sockets replaced, live ones and other files refused', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'umbra-ctl-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const router = await startRouter(t)
  const path = join(dir, 'control.sock')
  const api = await startControlApi({ path, status: () => router.status() })
  t.equal(api.url, `unix:${path}`)
  t.equal((await stat(path)).mode & 0o777, 0o600, 'only the owner may connect')
  t.match(await controlGet(api.url, '/api/status'), { id: router.idHex })
  await t.rejects(controlGet(api.url, '/api/nope'), { name: 'TransportError', message: /unix:.*control\.sock\/api\/nope answered HTTP 404/ })
  await t.rejects(startControlApi({ path, status: () => router.status() }), { name: 'ConfigError', message: /a process is listening there/ })
  await api.close()
  t.notOk(existsSync(path), 'close removes the socket file')
  await t.rejects(controlGet(api.url, '/api/health', { timeoutMs: 1000 }), { name: 'TransportError', message: /cannot reach unix:/ })

  // A socket file left by a crash: a listener that went away without unlinking it (moved
  // aside while it closes, so Node's unlink-on-close misses it).
  const leftover = net.createServer()
  await new Promise<void>((resolve) => leftover.listen(path, resolve))
  renameSync(path, path + '.keep')
  await new Promise<void>((resolve) => leftover.close(() => { resolve() }))
  renameSync(path + '.keep', path)
  t.ok(existsSync(path), 'a stale socket file is there')
  const again = await startControlApi({ path, status: () => router.status() })
  t.same(await controlGet(again.url, '/api/health'), { ok: true }, 'the stale socket was replaced')
  await again.close()

  const plain = join(dir, 'not-a-socket')
  await writeFile(plain, 'x')
  await t.rejects(startControlApi({ path: plain, status: () => router.status() }), { name: 'ConfigError', message: /exists and is not a socket/ })
  await t.rejects(startControlApi({ path: 'relative.sock', status: () => router.status() }), { name: 'ConfigError', message: /must be absolute/ })
})
