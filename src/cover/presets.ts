/**
 * A router's cover-traffic settings: named presets (off, low, high) and their checked merge with
 * explicit overrides from the configuration. Pure data and validation; the shapers, loop
 * scheduler and destination sender that apply the settings live elsewhere.
 *
 * Costs are given per link and per direction: a cell is 1 KiB, so `linkRate` cells/s of chaff
 * cost up to `linkRate` KiB/s on each link the router keeps (less while real cells use the slots).
 */
import { ConfigError } from '../util/errors.ts'

/** Cover settings of a router. */
export interface CoverSettings {
  /** Per-link chaff: slots per second (0 = none). */
  linkRate: number
  /** Whether real cells wait for slots (hides bulk transfers; caps each link at linkRate cells/s). No effect at linkRate 0. */
  strict: boolean
  /** Loop cover through each pool's own tunnels: mean ms between loops (0 = none). */
  loopIntervalMs: number
  /** Poisson sending for destinations: mean messages/s of a destination's outbound stream (0 = off). */
  destinationRate: number
}

/** Highest `linkRate` and `destinationRate` accepted, per second. */
const MAX_RATE = 10_000
/** Lowest non-zero `loopIntervalMs` accepted. */
const MIN_LOOP_MS = 100

/** Names of the presets. */
export type CoverPreset = 'off' | 'low' | 'high'

/** The built-in presets (frozen). */
export const COVER_PRESETS: Readonly<Record<CoverPreset, Readonly<CoverSettings>>> = Object.freeze({
  /** No cover traffic: costs nothing, hides nothing. */
  off: Object.freeze({ linkRate: 0, strict: false, loopIntervalMs: 0, destinationRate: 0 }),
  /**
   * Light fill-up chaff: 20 slots/s per link = at most 20 KiB/s per link when idle (about
   * 1.6 GiB/day per link), none while the link carries 20 cells/s of real traffic; a loop every
   * 5 s on average per pool. Hides whether a quiet link is in use; not bulk transfers.
   */
  low: Object.freeze({ linkRate: 20, strict: false, loopIntervalMs: 5000, destinationRate: 0 }),
  /**
   * Strict shaping at 400 slots/s per link: every link sends about 400 KiB/s (~3.3 Mbit/s) all the
   * time, real or chaff, and real traffic on a link is capped at that; a loop every second on
   * average per pool. Hides bulk transfers at the cost of constant bandwidth.
   */
  high: Object.freeze({ linkRate: 400, strict: true, loopIntervalMs: 1000, destinationRate: 0 })
})

/** Throws ConfigError unless `value` is a rate in [0, MAX_RATE]. */
function checkRate (key: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_RATE) {
    throw new ConfigError(`cover ${key} must be a number of events per second in 0..${MAX_RATE}, got ${String(value)}`)
  }
}

/**
 * The preset named `preset` (default 'off') merged with `overrides`; overrides whose value is
 * undefined are ignored. Throws ConfigError on an unknown preset or override key, a non-boolean
 * `strict`, or a bad value: `linkRate` or `destinationRate` negative, NaN or above 10 000/s,
 * `loopIntervalMs` negative, NaN, infinite or between 0 and 100 ms. Returns a fresh object.
 */
export function coverSettings (preset: string = 'off', overrides: Partial<CoverSettings> = {}): CoverSettings {
  if (!Object.hasOwn(COVER_PRESETS, preset)) {
    throw new ConfigError(`unknown cover preset '${preset}': use one of ${Object.keys(COVER_PRESETS).join(', ')}`)
  }
  const out: CoverSettings = { ...COVER_PRESETS[preset as CoverPreset] }
  for (const [key, value] of Object.entries(overrides)) {
    if (!Object.hasOwn(out, key)) throw new ConfigError(`unknown cover setting '${key}': use linkRate, strict, loopIntervalMs or destinationRate`)
    if (value !== undefined) (out as unknown as Record<string, unknown>)[key] = value
  }
  checkRate('linkRate', out.linkRate)
  checkRate('destinationRate', out.destinationRate)
  if (typeof out.strict !== 'boolean') throw new ConfigError(`cover strict must be true or false, got ${String(out.strict)}`)
  const loop: unknown = out.loopIntervalMs
  if (typeof loop !== 'number' || !Number.isFinite(loop) || (loop !== 0 && !(loop >= MIN_LOOP_MS))) {
    throw new ConfigError(`cover loopIntervalMs must be 0 (none) or a number of ms >= ${MIN_LOOP_MS}, got ${String(loop)}`)
  }
  return out
}
