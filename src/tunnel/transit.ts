/**
 * The transit table: the tunnels this router carries for others, by the tunnel ID it receives
 * cells on. Each entry holds the hop's layer cipher, where cells go next and, for an inbound
 * gateway or an outbound endpoint, its MAC key and fragment state. Bounded (`maxTransit`);
 * entries expire with the lifetime their creator asked for (plus a grace period for cells in
 * flight). Does no I/O: the tunnel manager drives it.
 */
import type { HopLayer } from './layer.ts'
import type { Reassembler } from './fragment.ts'

/** What this router is in someone else's tunnel. */
export type TransitRole = 'participant' | 'gateway' | 'endpoint'

/** One tunnel this router carries. */
export interface TransitHop {
  /** The tunnel ID cells arrive with. */
  readonly receiveId: number
  readonly role: TransitRole
  readonly layer: HopLayer
  /** Next router's ID (for an outbound endpoint: unused, deliveries name their own targets). */
  readonly next: Uint8Array
  readonly nextHex: string
  readonly nextTunnelId: number
  /** Inbound gateway: MACs the cells it makes; outbound endpoint: checks them. */
  readonly macKey: Uint8Array
  /** The priority its creator offered (what its cells are served by when resources are scarce). */
  readonly priority: number
  /** Monotonic ms after which the entry is dropped. */
  readonly expires: number
  /** Outbound endpoint only: reassembly of fragmented messages. */
  readonly reassembler?: Reassembler
}

/** Tunnels carried for others, bounded and expiring (see module doc). */
export class TransitTable {
  private readonly hops = new Map<number, TransitHop>()

  constructor (readonly maxTransit: number) {}

  /** The hop receiving on `id`. */
  get (id: number): TransitHop | undefined { return this.hops.get(id) }

  /** Whether `id` is taken. */
  has (id: number): boolean { return this.hops.has(id) }

  /** Tunnels carried. */
  get size (): number { return this.hops.size }

  /** Whether another tunnel fits. */
  get full (): boolean { return this.hops.size >= this.maxTransit }

  /** Adds a hop that admission (`admit.ts`: ID free, table not full) accepted. */
  add (hop: TransitHop): void {
    const old = this.hops.get(hop.receiveId)
    if (old !== undefined) retire(old) // admission keeps IDs free; never leak if not
    this.hops.set(hop.receiveId, hop)
  }

  /** Drops expired hops. */
  expire (now: number): void {
    for (const [id, hop] of this.hops) {
      if (hop.expires <= now) {
        this.hops.delete(id)
        retire(hop)
      } else {
        hop.reassembler?.expire(now)
      }
    }
  }

  /** Drops every hop. */
  clear (): void {
    for (const hop of this.hops.values()) retire(hop)
    this.hops.clear()
  }
}

/** Frees what a hop leaving the table holds: its layer keys, and its incomplete messages' bytes (back to the router-wide budget). */
function retire (hop: TransitHop): void {
  hop.layer.dispose()
  hop.reassembler?.clear()
}
