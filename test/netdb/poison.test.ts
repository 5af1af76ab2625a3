// Poisoned and malformed netDb records from a peer, over real TCP on 127.0.0.1: each is
// rejected with its reason counted, never stored and never served to another router; enough of
// them ban the sender; honest routers keep being served.
import t from 'tap'
import { startRouter } from '../router/fixtures.ts'
import { encodeNetDb, NetDbType, RecordKind, LookupKind, decodeNetDb } from '../../src/netdb/messages.ts'
import { generateRouterKeys, routerHash } from '../../src/identity/router-identity.ts'
import { signRouterInfo } from '../../src/identity/router-info.ts'
import { generateDestination, destinationHash } from '../../src/identity/destination.ts'
import { signLeaseSet } from '../../src/identity/lease-set.ts'
import type { Router } from '../../src/router/router.ts'

const TCP = ['tcp://127.0.0.1:0']

function leaseSet (r: Router, publishedOffsetMs = 0): { raw: Uint8Array, key: Uint8Array } {
  const dest = generateDestination(r.crypto)
  const now = Date.now() + publishedOffsetMs
  const ls = signLeaseSet(r.crypto, dest, { published: now, expires: now + 600_000, leases: [] })
  return { raw: ls.raw, key: destinationHash(r.crypto, dest.destination.bytes) }
}

async function until (cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond() && Date.now() < end) await new Promise(resolve => setTimeout(resolve, 20))
}

t.test('poisoned records are rejected, counted, never served; the sender gets banned', async (t) => {
  const victim = await startRouter(t, { listen: TCP })
  const honest = await startRouter(t, { listen: TCP, seeds: [victim.info.raw] })
  const evil = await startRouter(t, { listen: TCP })
  await honest.bootstrapped
  const link = await evil.links.connect(victim.contact())

  // 1. A RouterInfo whose signature does not check out.
  const keys = generateRouterKeys(evil.crypto)
  const ri = signRouterInfo(evil.crypto, keys, { addresses: [], caps: 'R', options: {}, published: Date.now() }).raw.slice()
  ri[ri.length - 1]! ^= 1
  const forgedId = routerHash(evil.crypto, keys.identity)
  link.send(encodeNetDb({ type: NetDbType.STORE, token: 0, kind: RecordKind.ROUTER_INFO, record: ri }))
  // 2. A LeaseSet published an hour in the future.
  const future = leaseSet(evil, 3600_000)
  link.send(encodeNetDb({ type: NetDbType.STORE, token: 0, kind: RecordKind.LEASE_SET, record: future.raw }))
  await until(() => victim.netdb.stats().rejected.signature === 1 && victim.netdb.stats().rejected.time === 1)
  t.same(victim.netdb.stats().rejected, { malformed: 0, signature: 1, time: 1 }, 'bad signature and far-future time rejected and counted')
  t.equal(victim.links.get(evil.id)?.state, 'open', 'two offences do not ban yet')

  // Neither is stored nor served: the honest router's lookups at the victim find nothing.
  await t.rejects(honest.netdb.findRouter(forgedId, AbortSignal.timeout(8000)), { name: 'NotFoundError' }, 'forged RouterInfo not served')
  await t.rejects(honest.netdb.findLeaseSet(future.key, AbortSignal.timeout(8000)), { name: 'NotFoundError' }, 'future LeaseSet not served')

  // 3. Garbage with a netDb type byte: the third offence bans the sender and drops its link.
  link.send(Uint8Array.of(NetDbType.STORE, 0xff, 0xff))
  await until(() => victim.netdb.banned(evil.id) && victim.links.get(evil.id) === undefined)
  t.equal(victim.netdb.stats().rejected.malformed, 1, 'malformed message counted')
  t.ok(victim.netdb.banned(evil.id), 'sender banned after three offences')
  t.equal(victim.links.get(evil.id), undefined, 'its link is closed')
  await evil.links.connect(victim.contact(), { signal: AbortSignal.timeout(4000) }).catch(() => {})
  await until(() => victim.netdb.stats().bans === 1 && victim.links.get(evil.id) === undefined, 1000)
  t.equal(victim.links.get(evil.id), undefined, 'a banned router cannot link again')

  // The honest router is still served: a valid LeaseSet it publishes is found through the victim.
  const good = leaseSet(honest)
  const { verifyLeaseSet, parseLeaseSet } = await import('../../src/identity/lease-set.ts')
  await honest.netdb.publishLeaseSet(verifyLeaseSet(honest.crypto, parseLeaseSet(good.raw), { now: Date.now(), maxSkewMs: 1000 }))
  t.ok(victim.netdb.store.get(RecordKind.LEASE_SET, good.key) !== undefined, 'honest LeaseSet stored at the victim')
  t.equal(victim.netdb.store.count(RecordKind.ROUTER_INFO), 2, 'victim holds only the two honest RouterInfos (the banned one is dropped)')
})

t.test('a lookup answer for another key is poison and the lookup goes on', async (t) => {
  const asker = await startRouter(t, { listen: TCP })
  const liar = await startRouter(t, { listen: TCP })
  const wanted = leaseSet(asker)
  const other = leaseSet(liar)
  // The liar answers every lookup with a valid LeaseSet of another destination.
  liar.links.onMessage = (peer, msg) => {
    const m = decodeNetDb(msg)
    if (m.type === NetDbType.LOOKUP && m.kind === LookupKind.LEASE_SET) {
      liar.links.send(peer.id, encodeNetDb({ type: NetDbType.FOUND, queryId: m.queryId, kind: RecordKind.LEASE_SET, record: other.raw }))
    }
  }
  asker.netdb.acceptRouterInfo(liar.info.raw)
  await t.rejects(asker.netdb.findLeaseSet(wanted.key, AbortSignal.timeout(8000)), { name: 'NotFoundError' }, 'the wrong record is not accepted')
  t.equal(asker.netdb.stats().rejected.signature, 1, 'counted as poison')
  t.equal(asker.netdb.store.get(RecordKind.LEASE_SET, other.key), undefined, 'the wrong record is not stored')
})
