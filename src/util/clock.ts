/**
 * Time as a component: protocol state machines take `now` from a Clock so that tests can run
 * them on virtual time. `systemClock` is the real one.
 */

/** Milliseconds since an arbitrary epoch (monotonic) and wall-clock milliseconds since 1970. */
export interface Clock {
  /** Monotonic milliseconds, for timeouts and rates. */
  now(): number
  /** Wall-clock milliseconds since the Unix epoch, for signed timestamps. */
  wall(): number
}

/** The process's real clock. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wall: () => Date.now()
}
