/**
 * The bridge's table of sessions: nicknames (IDs) are unique across the bridge (sessions and
 * subsessions alike), and so are destinations. IDs and destinations are reserved while a
 * SESSION CREATE waits for tunnels, so two clients cannot race for the same one.
 */
import type { SamSession, Sub } from './session.ts'

/** Sessions and subsessions by ID (see module doc). */
export class Registry {
  /** Data sessions and subsessions by ID: what STREAM, DATAGRAM and UDP name. */
  readonly subs = new Map<string, Sub>()
  /** Sessions (the control socket's) by ID. */
  readonly sessions = new Map<string, SamSession>()
  private readonly ids = new Set<string>()
  private readonly dests = new Set<string>()

  /** Whether an ID is in use or reserved. */
  hasId (id: string): boolean { return this.ids.has(id) }
  /** Whether a destination (hash hex) is in use or reserved. */
  hasDest (hex: string): boolean { return this.dests.has(hex) }
  /** Sessions live or being created. */
  get size (): number { return this.dests.size }

  reserve (id: string, destHex?: string): void {
    this.ids.add(id)
    if (destHex !== undefined) this.dests.add(destHex)
  }

  release (id: string, destHex?: string): void {
    this.ids.delete(id)
    this.subs.delete(id)
    this.sessions.delete(id)
    if (destHex !== undefined) this.dests.delete(destHex)
  }
}
