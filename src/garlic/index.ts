/**
 * The garlic layer: end-to-end encryption between destinations (NS / NSR / ES sessions with
 * one-time tags, and anonymous one-offs). Pure; the router carries the bytes through tunnels.
 * See docs/garlic.md.
 */
export { Garlic } from './garlic.ts'
export { DEFAULT_OPTIONS } from './options.ts'
export type { GarlicOptions, GarlicStats, Opened } from './options.ts'
export {
  ANON_OVERHEAD, ES_OVERHEAD, MAX_MESSAGE_BYTES, NS_OVERHEAD, NSR_OVERHEAD, TYPE_ANON, TYPE_ES, TYPE_NS, TYPE_NSR, FLAG_LEASE_SET
} from './layout.ts'
export type { DropReason } from './layout.ts'
