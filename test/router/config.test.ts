/**
 * Router config: defaults, precedence (defaults < file < environment < flags), path
 * resolution, and every refusal naming the field and where the bad value came from.
 */
import t from 'tap'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  defaultDataDir, formatControlAddress, isLoopbackHost, loadConfig, parseControlAddress, resolveConfig, type ConfigFlags, type Env
} from '../../src/router/config.ts'
import { b64, makeInfos } from './seed-fixtures.ts'

const ENV: Env = { HOME: '/home/op' }
const resolve = (o: { file?: unknown, fileName?: string, env?: Env, flags?: ConfigFlags } = {}): ReturnType<typeof resolveConfig> =>
  resolveConfig({ env: { ...ENV, ...o.env }, flags: o.flags ?? {}, cwd: '/work', ...(o.file !== undefined ? { file: o.file } : {}), ...(o.fileName !== undefined ? { fileName: o.fileName } : {}) })

t.test('defaults', async t => {
  t.same(resolve(), {
    dataDir: '/home/op/.local/share/umbra',
    listen: ['udp://127.0.0.1:0', 'tcp://127.0.0.1:0', 'http://127.0.0.1:0/umbra'],
    network: 'umbra',
    control: { host: '127.0.0.1', port: 7657 },
    log: { level: 'info', format: 'text' },
    bandwidth: { inKBps: 0, outKBps: 0 },
    transit: { maxTunnels: 5000, perPeerKBps: 0 },
    seeds: { files: [], infos: [] },
    sam: { host: '127.0.0.1', port: 7656, udpPort: 7655 },
    socks: { host: '127.0.0.1', port: 4447 },
    serverTunnels: [],
    fs: { enabled: true, quotaMB: 1024, seeds: [] },
    chat: { enabled: true },
    cover: { preset: 'off', linkRate: 0, strict: false, loopIntervalMs: 0, destinationRate: 0 },
    configFile: null
  })
  t.equal(defaultDataDir({ HOME: '/h', XDG_DATA_HOME: '/xdg' }), '/xdg/umbra')
  t.equal(defaultDataDir({ HOME: '/h', XDG_DATA_HOME: 'relative' }), '/h/.local/share/umbra', 'a relative XDG_DATA_HOME is ignored (XDG spec)')
  t.equal(defaultDataDir({ HOME: '/h', XDG_DATA_HOME: '' }), '/h/.local/share/umbra')
})

t.test('precedence: defaults < file < environment < flags, field by field', async t => {
  const [info] = await makeInfos(1)
  const file = {
    dataDir: '/f/data',
    listen: ['tcp://127.0.0.1:1'],
    network: 'filenet',
    control: '127.0.0.1:1',
    log: { level: 'warn', format: 'json' },
    bandwidth: { inKBps: 1, outKBps: 2 },
    transit: { maxTunnels: 10, perPeerKBps: 20 },
    seeds: { files: ['/f/seeds.txt'], infos: [b64(info!)] },
    sam: { address: '127.0.0.1:1000', udpPort: 999, users: { u: 'p w' } },
    socks: 'off',
    serverTunnels: [{ name: 'web', target: '127.0.0.1:8080', hops: 2 }], fs: { enabled: true, quotaMB: 1024, seeds: [] }, chat: { enabled: false }, cover: { preset: 'low' }
  }
  const env: Env = {
    UMBRA_DATA_DIR: '/e/data',
    UMBRA_LISTEN: 'udp://127.0.0.1:2, tcp://127.0.0.1:3',
    UMBRA_NETWORK: 'envnet',
    UMBRA_CONTROL: '127.0.0.1:2',
    UMBRA_LOG_LEVEL: 'error',
    UMBRA_LOG_FORMAT: 'text',
    UMBRA_BANDWIDTH_IN: '3',
    UMBRA_BANDWIDTH_OUT: '4',
    UMBRA_MAX_TRANSIT: '30',
    UMBRA_SEED_FILE: '/e/seeds.txt',
    UMBRA_SAM: '127.0.0.1:2000',
    UMBRA_CHAT: 'on',
    UMBRA_COVER_LINK_RATE: '50'
  }
  const flags: ConfigFlags = {
    'data-dir': '/g/data',
    listen: ['http://127.0.0.1:4/x'],
    network: 'flagnet',
    control: 'off',
    'log-level': 'debug',
    'log-format': 'json',
    'bandwidth-in': '5',
    'bandwidth-out': '6',
    'max-transit': '0',
    'transit-peer-kbps': '50',
    'seed-file': ['/g/a.txt', '/g/b.txt'],
    sam: 'off',
    socks: '127.0.0.1:0',
    'server-tunnel': ['b=127.0.0.1:9'],
    chat: 'off',
    cover: 'off'
  }
  const f = resolve({ file, fileName: '/f/umbra.json' })
  t.same(f, {
    dataDir: '/f/data', listen: ['tcp://127.0.0.1:1'], network: 'filenet', control: { host: '127.0.0.1', port: 1 },
    log: { level: 'warn', format: 'json' }, bandwidth: { inKBps: 1, outKBps: 2 }, transit: { maxTunnels: 10, perPeerKBps: 20 },
    seeds: { files: ['/f/seeds.txt'], infos: [b64(info!)] }, configFile: '/f/umbra.json',
    sam: { host: '127.0.0.1', port: 1000, udpPort: 999, users: { u: 'p w' } }, socks: null,
    serverTunnels: [{ name: 'web', host: '127.0.0.1', port: 8080, hops: 2 }], fs: { enabled: true, quotaMB: 1024, seeds: [] }, chat: { enabled: false },
    cover: { preset: 'low', linkRate: 20, strict: false, loopIntervalMs: 5000, destinationRate: 0 }
  }, 'the file over the defaults')
  const e = resolve({ file, fileName: '/f/umbra.json', env })
  t.same(e, {
    dataDir: '/e/data', listen: ['udp://127.0.0.1:2', 'tcp://127.0.0.1:3'], network: 'envnet', control: { host: '127.0.0.1', port: 2 },
    log: { level: 'error', format: 'text' }, bandwidth: { inKBps: 3, outKBps: 4 }, transit: { maxTunnels: 30, perPeerKBps: 20 },
    seeds: { files: ['/e/seeds.txt'], infos: [b64(info!)] }, configFile: '/f/umbra.json',
    sam: { host: '127.0.0.1', port: 2000, udpPort: 1999 }, socks: null,
    serverTunnels: [{ name: 'web', host: '127.0.0.1', port: 8080, hops: 2 }], fs: { enabled: true, quotaMB: 1024, seeds: [] }, chat: { enabled: true },
    cover: { preset: 'low', linkRate: 50, strict: false, loopIntervalMs: 5000, destinationRate: 0 }
  }, 'the environment over the file (seeds.infos has no variable, so the file\'s stays)')
  const g = resolve({ file, fileName: '/f/umbra.json', env, flags })
  t.same(g, {
    dataDir: '/g/data', listen: ['http://127.0.0.1:4/x'], network: 'flagnet', control: null,
    log: { level: 'debug', format: 'json' }, bandwidth: { inKBps: 5, outKBps: 6 }, transit: { maxTunnels: 0, perPeerKBps: 50 },
    seeds: { files: ['/g/a.txt', '/g/b.txt'], infos: [b64(info!)] }, configFile: '/f/umbra.json',
    sam: null, socks: { host: '127.0.0.1', port: 0 }, serverTunnels: [{ name: 'b', host: '127.0.0.1', port: 9 }], fs: { enabled: true, quotaMB: 1024, seeds: [] }, chat: { enabled: false },
    cover: { preset: 'off', linkRate: 0, strict: false, loopIntervalMs: 0, destinationRate: 0 }
  }, 'flags over everything')
  for (const [flags, msg] of [
    [{ sam: '0.0.0.0:7656' }, /--sam: .*loopback/],
    [{ socks: 'nonsense' }, /--socks: /],
    [{ 'server-tunnel': ['web=127.0.0.1:0'] }, /--server-tunnel: port must be 1..65535/],
    [{ 'server-tunnel': ['bad name=127.0.0.1:80'] }, /--server-tunnel: a server tunnel is NAME=HOST:PORT/],
    [{ 'server-tunnel': ['a=127.0.0.1:1', 'a=127.0.0.1:2'] }, /two server tunnels named 'a'/]
  ] as Array<[ConfigFlags, RegExp]>) t.throws(() => resolve({ flags }), msg, JSON.stringify(flags))
  t.throws(() => resolve({ file: { sam: { users: { 'a b': 'x' } } }, fileName: '/f/u.json' }), /sam.users: user names/)
  t.throws(() => resolve({ file: { serverTunnels: [{ name: 'x', target: '127.0.0.1:1', extra: 1 }] }, fileName: '/f/u.json' }), /unknown key 'serverTunnels\[0\].extra'/)

  const partial = resolve({ file: { log: { format: 'json' }, bandwidth: { outKBps: 9 } }, env: { UMBRA_LOG_LEVEL: 'warn' }, flags: { network: 'n' } })
  t.same([partial.log, partial.bandwidth, partial.network, partial.listen.length], [{ level: 'warn', format: 'json' }, { inKBps: 0, outKBps: 9 }, 'n', 3],
    'nested fields merge one by one; untouched fields keep their defaults')
  t.equal(resolve({ env: { UMBRA_NETWORK: '   ', UMBRA_LISTEN: '' } }).network, 'umbra', 'empty variables count as unset')
})

t.test('paths: from the file relative to its folder, from env and flags relative to the working directory', async t => {
  const c = resolve({ file: { dataDir: 'data', seeds: { files: ['s.txt', '/abs/s.txt'] } }, fileName: '/etc/umbra/umbra.json' })
  t.equal(c.dataDir, '/etc/umbra/data')
  t.same(c.seeds.files, ['/etc/umbra/s.txt', '/abs/s.txt'])
  t.equal(resolve({ env: { UMBRA_DATA_DIR: 'd' } }).dataDir, '/work/d')
  t.equal(resolve({ flags: { 'data-dir': '../d', 'seed-file': ['x'] } }).dataDir, '/d')
  t.same(resolve({ flags: { 'seed-file': ['x'] } }).seeds.files, ['/work/x'])
})

t.test('control addresses', async t => {
  t.same(parseControlAddress('127.0.0.1:0', 'x'), { host: '127.0.0.1', port: 0 })
  t.same(parseControlAddress('[::1]:7657', 'x'), { host: '::1', port: 7657 })
  t.same(parseControlAddress('localhost:1', 'x'), { host: 'localhost', port: 1 })
  t.same(parseControlAddress('127.1.2.3:9', 'x'), { host: '127.1.2.3', port: 9 })
  t.equal(parseControlAddress('OFF', 'x'), null)
  t.same(parseControlAddress('unix:/run/umbra/control.sock', 'x'), { path: '/run/umbra/control.sock' })
  t.throws(() => parseControlAddress('unix:relative.sock', '--control'), { name: 'ConfigError', message: /^--control: a Unix socket needs an absolute path/ })
  t.throws(() => parseControlAddress('unix:', 'x'), { name: 'ConfigError', message: /absolute path/ })
  t.throws(() => parseControlAddress('unix:/' + 'x'.repeat(107), 'x'), { name: 'ConfigError', message: /longer than 107 bytes/ })
  t.equal(formatControlAddress({ path: '/a.sock' }), 'unix:/a.sock')
  t.equal(formatControlAddress({ host: '::1', port: 1 }), '[::1]:1')
  for (const [bad, why] of [
    ['0.0.0.0:7657', /binds only to loopback/], ['192.168.1.2:1', /loopback/], ['[::]:1', /loopback/], ['example.com:1', /loopback/],
    ['127.0.0.1', /HOST:PORT/], ['127.0.0.1:', /HOST:PORT/], [':7657', /HOST:PORT/], ['127.0.0.1:70000', /0\.\.65535/],
    ['[nothost]:1', /not an IPv6 address/], ['127.0.0.1:-1', /HOST:PORT/], ['on', /HOST:PORT/]
  ] as const) {
    t.throws(() => parseControlAddress(bad, '--control'), { name: 'ConfigError', message: new RegExp('^--control: .*' + why.source) }, bad)
  }
  t.ok(isLoopbackHost('::ffff:127.0.0.1'))
  t.notOk(isLoopbackHost('128.0.0.1'))
})

t.test('file errors name the file and the field', async t => {
  const F = '/etc/umbra.json'
  const [info] = await makeInfos(1)
  const cases: Array<[unknown, RegExp]> = [
    [[], /^\/etc\/umbra\.json: the config file must hold a JSON object, got an array$/],
    [null, /must hold a JSON object, got null/],
    ['x', /must hold a JSON object, got a string/],
    [{ dataDirectory: '/x' }, /^\/etc\/umbra\.json: unknown key 'dataDirectory' \(known: dataDir, listen/],
    [{ log: { colour: true } }, /unknown key 'log\.colour' \(known: log\.level, log\.format\)/],
    [{ bandwidth: { in: 1 } }, /unknown key 'bandwidth\.in'/],
    [{ seeds: { file: [] } }, /unknown key 'seeds\.file'/],
    [{ dataDir: 5 }, /: dataDir must be a string, got a number/],
    [{ dataDir: '' }, /: dataDir: needs a path/],
    [{ listen: 'tcp://127.0.0.1:1' }, /: listen must be an array of strings, got a string/],
    [{ listen: [] }, /: listen must not be empty/],
    [{ listen: [7001] }, /: listen\[0\] must be a string, got a number/],
    [{ listen: ['memory://x'] }, /: listen: listen address must start with udp:\/\/, tcp:\/\/ or http:\/\//],
    [{ listen: ['tcp://127.0.0.1'] }, /: listen: tcp address needs a port/],
    [{ listen: ['udp://127.0.0.1:1/path'] }, /: listen: udp address takes only host and port/],
    [{ listen: Array.from({ length: 17 }, (_, i) => `tcp://127.0.0.1:${i + 1}`) }, /listen has 17 entries, at most 16/],
    [{ network: 'two words' }, /: network: network name must be 1-32 letters/],
    [{ network: 7 }, /: network must be a string, got a number/],
    [{ control: 7657 }, /: control must be a string, got a number/],
    [{ control: '0.0.0.0:7657' }, /: control: the control API has no authentication and binds only to loopback/],
    [{ log: 'debug' }, /: log must be an object, got a string/],
    [{ log: { level: 'loud' } }, /: log\.level: log level must be one of debug, info, warn, error, got 'loud'/],
    [{ log: { format: 1 } }, /: log\.format must be a string, got a number/],
    [{ bandwidth: [] }, /: bandwidth must be an object, got an array/],
    [{ bandwidth: { inKBps: -1 } }, /: bandwidth\.inKBps must be a whole number of KB\/s from 0 \(unlimited\) to 10000000, got -1/],
    [{ bandwidth: { outKBps: 1.5 } }, /bandwidth\.outKBps must be a whole number/],
    [{ bandwidth: { inKBps: '100' } }, /bandwidth\.inKBps must be a whole number .*got '100'/],
    [{ bandwidth: { inKBps: 10_000_001 } }, /bandwidth\.inKBps must be a whole number/],
    [{ transit: { maxTunnels: -1 } }, /transit\.maxTunnels must be a whole number of tunnels from 0 to 100000, got -1/],
    [{ transit: { maxTunnels: 100_001 } }, /transit\.maxTunnels must be a whole number/],
    [{ transit: { perPeerKBps: 'x' } }, /transit\.perPeerKBps must be a whole number of KB\/s/],
    [{ transit: { max: 1 } }, /unknown key 'transit\.max'/],
    [{ seeds: { files: 'a.txt' } }, /: seeds\.files must be an array of strings/],
    [{ seeds: { files: [''] } }, /: seeds\.files\[0\]: needs a path/],
    [{ seeds: { infos: ['not base64!'] } }, /: seeds\.infos\[0\]: not padded standard base64/],
    [{ seeds: { infos: [b64(info!), 'AAAA'] } }, /: seeds\.infos\[1\]: not a RouterInfo/]
  ]
  for (const [file, msg] of cases) {
    t.throws(() => resolve({ file, fileName: F }), { name: 'ConfigError', message: msg }, JSON.stringify(file).slice(0, 60))
  }
})

t.test('environment errors name the variable', async t => {
  const cases: Array<[Env, RegExp]> = [
    [{ UMBRA_LISTEN: 'ftp://127.0.0.1:1' }, /^UMBRA_LISTEN: listen address must start with udp/],
    [{ UMBRA_LISTEN: ' , ,' }, /^UMBRA_LISTEN: no address given/],
    [{ UMBRA_NETWORK: '-x' }, /^UMBRA_NETWORK: network name/],
    [{ UMBRA_CONTROL: '0.0.0.0:1' }, /^UMBRA_CONTROL: .*loopback/],
    [{ UMBRA_LOG_LEVEL: 'chatty' }, /^UMBRA_LOG_LEVEL: log level must be one of/],
    [{ UMBRA_LOG_FORMAT: 'xml' }, /^UMBRA_LOG_FORMAT: log format must be one of json, text/],
    [{ UMBRA_BANDWIDTH_IN: 'fast' }, /^UMBRA_BANDWIDTH_IN must be a whole number .*got 'fast'/],
    [{ UMBRA_BANDWIDTH_OUT: '-5' }, /^UMBRA_BANDWIDTH_OUT must be a whole number/],
    [{ UMBRA_DATA_DIR: 'a\0b' }, /^UMBRA_DATA_DIR: path contains a NUL byte/]
  ]
  for (const [env, msg] of cases) t.throws(() => resolve({ env }), { name: 'ConfigError', message: msg }, JSON.stringify(env))
})

t.test('flag errors name the flag', async t => {
  const cases: Array<[ConfigFlags, RegExp]> = [
    [{ listen: ['tcp://127.0.0.1:1', 'nonsense'] }, /^--listen: listen address must start with/],
    [{ listen: [] }, /^--listen: at least one listen address is needed/],
    [{ listen: ['http://u:p@127.0.0.1:1/x'] }, /^--listen: http address takes only host, port and path/],
    [{ network: '' }, /^--network: network name/],
    [{ control: 'abc' }, /^--control: control address must be HOST:PORT, unix:\/path or 'off', got 'abc'/],
    [{ 'log-level': 'x' }, /^--log-level: log level/],
    [{ 'log-format': 'x' }, /^--log-format: log format/],
    [{ 'bandwidth-in': '1e3' }, /^--bandwidth-in must be a whole number .*got '1e3'/],
    [{ 'bandwidth-out': '' }, /^--bandwidth-out must be a whole number/],
    [{ 'max-transit': 'many' }, /^--max-transit must be a whole number of tunnels/],
    [{ 'data-dir': '' }, /^--data-dir: needs a path/],
    [{ 'seed-file': [''] }, /^--seed-file: needs a path/],
    [{ 'seed-file': Array.from({ length: 65 }, (_, i) => `s${i}`) }, /^--seed-file: at most 64 seed files/]
  ]
  for (const [flags, msg] of cases) t.throws(() => resolve({ flags }), { name: 'ConfigError', message: msg }, JSON.stringify(flags).slice(0, 60))
  t.throws(() => resolve({ file: { network: 'ok' }, fileName: '/f.json', flags: { network: 'not ok' } }), { message: /^--network/ },
    'a bad flag is reported even when the file is fine')
})

t.test('loadConfig finds, reads and checks the file', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'umbra-config-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const env: Env = { HOME: join(dir, 'home') }

  const none = await loadConfig({ 'data-dir': join(dir, 'missing') }, env)
  t.equal(none.configFile, null, 'no data dir, no file: defaults')
  t.equal(none.dataDir, join(dir, 'missing'))

  const dataDir = join(dir, 'data')
  await mkdir(dataDir)
  await writeFile(join(dataDir, 'umbra.json'), JSON.stringify({ network: 'fromfile', dataDir: '.' }))
  const implicit = await loadConfig({ 'data-dir': dataDir }, env)
  t.equal(implicit.network, 'fromfile', '<dataDir>/umbra.json is read')
  t.equal(implicit.configFile, join(dataDir, 'umbra.json'))
  const viaEnv = await loadConfig({}, { ...env, UMBRA_DATA_DIR: dataDir })
  t.equal(viaEnv.network, 'fromfile', 'also when the data dir comes from UMBRA_DATA_DIR')

  await writeFile(join(dataDir, 'umbra.json'), JSON.stringify({ dataDir: '/elsewhere' }))
  await t.rejects(loadConfig({ 'data-dir': dataDir }, env), { name: 'ConfigError', message: /umbra\.json: dataDir names another directory/ })

  const explicit = join(dir, 'my.json')
  await writeFile(explicit, JSON.stringify({ dataDir: 'rel', bandwidth: { inKBps: 64 } }))
  const e = await loadConfig({ config: explicit }, env)
  t.same([e.dataDir, e.bandwidth.inKBps, e.configFile], [join(dir, 'rel'), 64, explicit], '--config: relative dataDir from the file\'s folder')
  const over = await loadConfig({ config: explicit, 'data-dir': dataDir, 'bandwidth-in': '8' }, env)
  t.same([over.dataDir, over.bandwidth.inKBps], [dataDir, 8], 'flags still win over --config')

  await t.rejects(loadConfig({ config: join(dir, 'nope.json') }, env), { name: 'ConfigError', message: /cannot read .*nope\.json: no such file/ })
  await t.rejects(loadConfig({ config: '' }, env), { name: 'ConfigError', message: /--config: needs a file name/ })
  await writeFile(explicit, '{ "network": ')
  await t.rejects(loadConfig({ config: explicit }, env), { name: 'ConfigError', message: /my\.json: not valid JSON/ })
  await writeFile(explicit, ' '.repeat(1024 * 1024 + 1))
  await t.rejects(loadConfig({ config: explicit }, env), { name: 'ConfigError', message: /larger than 1048576 bytes/ })
  await t.rejects(loadConfig({ config: dir }, env), { name: 'ConfigError', message: /cannot read/ }, 'a directory is no config file')
  await writeFile(join(dataDir, 'umbra.json'), '{"listen": 1}')
  await t.rejects(loadConfig({ 'data-dir': dataDir }, env), { name: 'ConfigError', message: /umbra\.json: listen must be an array/ })
})

t.test('chat: bad values are ConfigErrors naming their source', async t => {
  t.throws(() => resolve({ file: { chat: { enabled: 'yes' } }, fileName: '/f/umbra.json' }), { name: 'ConfigError', message: /chat\.enabled must be true or false/ })
  t.throws(() => resolve({ file: { chat: { quota: 1 } }, fileName: '/f/umbra.json' }), { name: 'ConfigError', message: /chat\.quota/ })
  t.throws(() => resolve({ env: { UMBRA_CHAT: 'maybe' } }), { name: 'ConfigError', message: /UMBRA_CHAT/ })
  t.throws(() => resolve({ flags: { chat: 'maybe' } }), { name: 'ConfigError', message: /--chat/ })
  t.equal(resolve({ env: { UMBRA_CHAT: 'off' } }).chat.enabled, false)
})

t.test('cover: presets, link rate, and what is refused', async t => {
  t.equal(resolve({ env: { UMBRA_COVER: 'low' } }).cover.linkRate, 20)
  t.equal(resolve({ flags: { cover: 'low', 'cover-link-rate': '100' } }).cover.linkRate, 100)
  t.equal(resolve({ file: { cover: { linkRate: 7 } }, fileName: '/f/umbra.json' }).cover.linkRate, 7, 'a rate without a preset')
  t.same(resolve({ flags: { cover: 'high' } }).cover, { preset: 'high', linkRate: 400, strict: true, loopIntervalMs: 1000, destinationRate: 0 }, 'high: strict shaping')
  t.equal(resolve({ file: { cover: { preset: 'high', strict: false } }, fileName: '/f/umbra.json' }).cover.strict, false, 'strict can be turned off')
  t.throws(() => resolve({ env: { UMBRA_COVER: 'max' } }), { name: 'ConfigError', message: /UMBRA_COVER: cover preset must be 'off', 'low' or 'high'/ })
  t.throws(() => resolve({ flags: { 'cover-link-rate': '-1' } }), { name: 'ConfigError', message: /--cover-link-rate must be a whole number/ })
  t.throws(() => resolve({ file: { cover: { strict: 'yes' } }, fileName: '/f/umbra.json' }), { name: 'ConfigError', message: /cover\.strict must be true or false/ })
})

t.test('cover: loop interval and Poisson sending, from every layer, merged with the preset', async t => {
  t.equal(resolve({ env: { UMBRA_COVER: 'low' } }).cover.loopIntervalMs, 5000, 'the preset\'s loops')
  const c = resolve({ flags: { cover: 'low', 'cover-loop-ms': '250', 'cover-send-rate': '40' } }).cover
  t.same([c.linkRate, c.loopIntervalMs, c.destinationRate], [20, 250, 40], 'flags override the preset, each its own setting')
  const f = resolve({ file: { cover: { loopIntervalMs: 1000, destinationRate: 5, linkRate: 3 } }, fileName: '/f/umbra.json' }).cover
  t.same([f.linkRate, f.loopIntervalMs, f.destinationRate], [3, 1000, 5], 'file keys')
  t.equal(resolve({ env: { UMBRA_COVER_LOOP_MS: '0', UMBRA_COVER_SEND_RATE: '12' } }).cover.destinationRate, 12)
  t.throws(() => resolve({ flags: { 'cover-loop-ms': '50' } }), { name: 'ConfigError', message: /--cover-loop-ms must be 0 \(no loops\) or at least 100 ms/ })
  t.throws(() => resolve({ env: { UMBRA_COVER_LOOP_MS: 'soon' } }), { name: 'ConfigError', message: /UMBRA_COVER_LOOP_MS must be a whole number/ })
  t.throws(() => resolve({ file: { cover: { destinationRate: 20000 } }, fileName: '/f/umbra.json' }), { name: 'ConfigError', message: /cover\.destinationRate must be a whole number/ })
  t.throws(() => resolve({ flags: { 'cover-send-rate': '1.5' } }), { name: 'ConfigError', message: /--cover-send-rate must be a whole number/ })
})
