/**
 * The tunnels a router built for itself (or for one of its destinations): an outbound tunnel,
 * through which it sends as the gateway, and an inbound tunnel, on which it receives as the
 * endpoint. Holds the hops' layer ciphers and does the creator's cell crypto: an outbound
 * gateway MACs each clear cell for the endpoint and applies every hop's inverse layer, last hop
 * first; an inbound endpoint removes every layer, last hop first, and checks the gateway's MAC.
 * No I/O.
 */
import type { CryptoSuite } from '../crypto/types.ts'
import type { HopKeys } from './build.ts'
import { CELL_BYTES, CELL_NONCE_BYTES, HopLayer, MAC_BYTES, MAC_OFFSET, PAYLOAD_OFFSET, type CellBufs } from './layer.ts'
import { Reassembler } from './fragment.ts'
import { toHex } from '../util/bytes.ts'


/** One hop of a tunnel we built. */
export interface OwnHop {
  readonly id: Uint8Array
  readonly idHex: string
  /** Tunnel ID the hop receives on. */
  readonly receiveId: number
  readonly keys: HopKeys
  readonly layer: HopLayer
}

/** Computes the MAC of the clear cell at `off` into `out` (16 bytes). */
export function cellMac (crypto: CryptoSuite, macKey: Uint8Array, buf: Uint8Array, off: number): Uint8Array {
  return crypto.blake2b(buf.subarray(off + PAYLOAD_OFFSET, off + CELL_BYTES), MAC_BYTES, macKey)
}

/** Whether the clear cell at `off` carries a valid MAC under `macKey`. */
export function cellMacValid (crypto: CryptoSuite, macKey: Uint8Array, buf: Uint8Array, off: number): boolean {
  const mac = cellMac(crypto, macKey, buf, off)
  return crypto.equal(mac, buf.subarray(off + MAC_OFFSET, off + MAC_OFFSET + MAC_BYTES))
}

/**
 * Makes a clear cell ready to leave its gateway: the nonce from `nonces[nonceOff..+16]` and the
 * MAC under `macKey` (the endpoint's on an outbound tunnel, the gateway's own on an inbound one).
 */
export function sealClearCell (crypto: CryptoSuite, macKey: Uint8Array, cell: Uint8Array, off: number, nonces: Uint8Array, nonceOff: number): void {
  cell.set(nonces.subarray(nonceOff, nonceOff + CELL_NONCE_BYTES), off)
  cell.set(cellMac(crypto, macKey, cell, off), off + MAC_OFFSET)
}

/** {@link sealClearCell} on each of `cells` (each its own array at offset 0; cell i's nonce at `nonces[16i]`). */
export function sealClearCells (crypto: CryptoSuite, macKey: Uint8Array, cells: readonly Uint8Array[], nonces: Uint8Array): void {
  cells.forEach((cell, i) => { sealClearCell(crypto, macKey, cell, 0, nonces, CELL_NONCE_BYTES * i) })
}

/** Fields shared by both directions. */
abstract class OwnTunnel {
  /** A short name for logs ("out:1a2b3c4d"). */
  readonly name: string
  /** Loops through it lost in a row (or builds through it that timed out), reset when one passes. */
  strikes = 0
  /** Cells it carried (sent into it, or arrived intact out of it). */
  cells = 0
  /** Of those, the cells its hops were credited for (`TunnelManager.confirmed`). */
  credited = 0
  constructor (readonly hops: readonly OwnHop[], readonly expires: number, dir: string, id: number) {
    this.name = `${dir}:${id.toString(16).padStart(8, '0')}`
  }

  /** Hop count. */
  get length (): number { return this.hops.length }

  /** Whether `idHex` is one of the hops. */
  uses (idHex: string): boolean { return this.hops.some(h => h.idHex === idHex) }

  /** Wipes the layer keys. */
  dispose (): void { for (const h of this.hops) h.layer.dispose() }
}

/** A tunnel we send through: we are its gateway. */
export class OutboundTunnel extends OwnTunnel {
  constructor (hops: readonly OwnHop[], expires: number, readonly localId: number) {
    super(hops, expires, 'out', localId)
  }

  /** The first hop (undefined for a zero-hop tunnel). */
  get first (): OwnHop | undefined { return this.hops[0] }

  /**
   * Turns clear cells (payloads filled, each in its own array at offset 0) into what the first
   * hop receives: cell i gets the random nonce at `nonces[16i]` and the endpoint's MAC, then
   * every hop's inverse layer from the last to the first, a batch per layer.
   */
  wrapAll (crypto: CryptoSuite, cells: readonly Uint8Array[], nonces: Uint8Array): void {
    sealClearCells(crypto, this.hops[this.hops.length - 1]!.keys.macKey, cells, nonces)
    for (let i = this.hops.length - 1; i >= 0; i--) this.hops[i]!.layer.invertAll(cells)
  }
}

/** A tunnel we receive on: we are its endpoint. */
export class InboundTunnel extends OwnTunnel {
  readonly reassembler = new Reassembler()
  /** Messages (DELIVER_LOCAL bodies) that came out of this tunnel. */
  onMessage: (data: Uint8Array) => void = () => {}

  constructor (hops: readonly OwnHop[], expires: number,
    /** The tunnel ID the last hop sends to us with (the gateway's, for a zero-hop tunnel). */
    readonly receiveId: number) {
    super(hops, expires, 'in', receiveId)
  }

  /** The gateway's router ID (hex) and tunnel ID: what a lease names. Zero-hop: ourselves. */
  gateway (ownId: Uint8Array): { id: Uint8Array, tunnelId: number } {
    const g = this.hops[0]
    return g === undefined ? { id: ownId, tunnelId: this.receiveId } : { id: g.id, tunnelId: g.receiveId }
  }

  /** The router that sends us this tunnel's cells (hex), if any. */
  get lastHex (): string | undefined { return this.hops[this.hops.length - 1]?.idHex }

  /** Removes every layer from the `n` cells at `offs` of `cells` (in place), a batch per layer. */
  peelAll (cells: CellBufs, offs: ArrayLike<number>, n = offs.length): void {
    for (let i = this.hops.length - 1; i >= 0; i--) this.hops[i]!.layer.invertAll(cells, offs, n)
  }

  /** Whether the peeled cell at `off` carries our MAC (so no one changed it on the way). */
  macValid (crypto: CryptoSuite, cell: Uint8Array, off: number): boolean {
    return cellMacValid(crypto, this.hops[0]!.keys.macKey, cell, off)
  }
}

/** Makes an {@link OwnHop}. */
export function ownHop (crypto: CryptoSuite, id: Uint8Array, receiveId: number, keys: HopKeys): OwnHop {
  return { id, idHex: toHex(id), receiveId, keys, layer: new HopLayer(crypto, keys.layerKey, keys.ivKey) }
}
