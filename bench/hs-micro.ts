import { loadCrypto } from '../src/crypto/index.ts'
import { InitiatorHandshake, ResponderHandshake, HEAD_BYTES } from '../src/link/handshake.ts'
const c = await loadCrypto()
const si = c.x25519Keypair(), sr = c.x25519Keypair()
const info = new Uint8Array(300)
const cfg = { crypto: c, prologue: new Uint8Array(8) }
let ti = 0, tr = 0
const N = 500
for (let k = 0; k < N; k++) {
  let t = performance.now()
  const i = new InitiatorHandshake(cfg, si, sr.publicKey, info)
  const m1 = i.write1(Date.now())
  ti += performance.now() - t; t = performance.now()
  const r = new ResponderHandshake(cfg, sr)
  const p1 = r.read1Head(m1.subarray(0, HEAD_BYTES), Date.now()); r.read1Pad(m1.subarray(HEAD_BYTES))
  const m2 = r.write2(Date.now())
  tr += performance.now() - t; t = performance.now()
  const p2 = i.read2Head(m2.subarray(0, HEAD_BYTES), Date.now()); i.read2Pad(m2.subarray(HEAD_BYTES))
  const { msg } = i.write3()
  ti += performance.now() - t; t = performance.now()
  r.read3(msg)
  tr += performance.now() - t
  void p1; void p2
}
console.log('initiator us/hs', (ti / N * 1000).toFixed(0), 'responder us/hs', (tr / N * 1000).toFixed(0))
