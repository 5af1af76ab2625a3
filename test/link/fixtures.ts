/**
 * Test fixtures for the link layer: router-like contexts with real keys and a minimal
 * "RouterInfo" (the static key itself), so links can be tested without the identity layer.
 */
import { loadCrypto } from '../../src/crypto/index.ts'
import type { CryptoSuite } from '../../src/crypto/types.ts'
import { Link } from '../../src/link/link.ts'
import { LINK_DEFAULTS, type LinkContext, type LinkLimits, type PeerContact } from '../../src/link/types.ts'
import { systemClock } from '../../src/util/clock.ts'
import { HandshakeError } from '../../src/util/errors.ts'
import type { Conn, Transport } from '../../src/link/transport.ts'

export interface TestRouter { ctx: LinkContext, contact: (addr: string) => PeerContact }

/** A router context whose "RouterInfo" is just its 32-byte static key. */
export async function testRouter (limits: Partial<LinkLimits> = {}, crypto?: CryptoSuite): Promise<TestRouter> {
  const c = crypto ?? await loadCrypto()
  const staticKey = c.x25519Keypair()
  const ctx: LinkContext = {
    crypto: c,
    clock: systemClock,
    staticKey,
    ownInfo: staticKey.publicKey,
    network: 'test',
    limits: { ...LINK_DEFAULTS, ...limits },
    verifyPeer: (info, remoteStatic) => {
      if (info.length !== 32) throw new HandshakeError('bad test info')
      return { id: c.sha256(info), staticKey: info, addresses: [] }
    }
  }
  return { ctx, contact: (addr) => ({ id: c.sha256(staticKey.publicKey), staticKey: staticKey.publicKey, addresses: [addr] }) }
}

/** Dials `addr` on `tx` and opens a link as initiator; with the responder link from `accepted`. */
export async function linkPair (a: TestRouter, b: TestRouter, txA: Transport, txB: Transport, listenAddr: string):
Promise<{ la: Link, lb: Link, close: () => Promise<void> }> {
  let resolveB!: (l: Link) => void
  const bLink = new Promise<Link>((resolve) => { resolveB = resolve })
  const listener = await txB.listen(listenAddr, (conn: Conn) => {
    const l = Link.accept(b.ctx, conn)
    l.ready.then(() => { resolveB(l) }, () => {})
  })
  const conn = await txA.dial(listener.addr, { signal: AbortSignal.timeout(5000) })
  const la = Link.initiate(a.ctx, conn, b.contact(listener.addr))
  await la.ready
  const lb = await bLink
  return { la, lb, close: async () => { la.close(); lb.close(); await listener.close(); await txA.close(); await txB.close() } }
}
