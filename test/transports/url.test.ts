/** The one transport-address parser: what it accepts and every refusal (ConfigError). */
import t from 'tap'
import { formatTransportUrl, parseTransportUrl } from '../../transports/url.ts'

t.test('accepts host and port, IPv6 in brackets, and a path where allowed', async t => {
  t.same(parseTransportUrl('udp://127.0.0.1:7001', 'udp'), { host: '127.0.0.1', port: 7001, path: '' })
  t.same(parseTransportUrl('tcp://[::1]:7002/', 'tcp'), { host: '::1', port: 7002, path: '' }, 'a bare / is no path')
  t.same(parseTransportUrl('http://127.0.0.1/a/b/', 'http', { path: true, defaultPort: 80 }), { host: '127.0.0.1', port: 80, path: '/a/b' })
  t.equal(formatTransportUrl('tcp', '::1', 7), 'tcp://[::1]:7')
  t.equal(formatTransportUrl('http', 'h', 8, '/x'), 'http://h:8/x')
})

t.test('refuses other schemes, missing ports, paths, credentials, queries and fragments', async t => {
  for (const bad of ['nonsense', 'tcp://127.0.0.1:1', 'udp://127.0.0.1', 'udp://127.0.0.1:1/p', 'udp://u:p@127.0.0.1:1',
    'udp://127.0.0.1:1?x=1', 'udp://127.0.0.1:1#f', 'udp://:1', 'udp://127.0.0.1:99999']) {
    t.throws(() => parseTransportUrl(bad, 'udp'), { name: 'ConfigError' }, bad)
  }
})
