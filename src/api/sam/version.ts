/**
 * SAM version negotiation (HELLO VERSION [MIN=x.y] [MAX=x.y]): the highest version this bridge
 * speaks inside the client's range. Pure.
 */

/** Minor numbers of the 3.x versions spoken, lowest first. */
export const SUPPORTED_MINORS = [0, 1, 2, 3] as const
/** The newest version spoken. */
export const MAX_VERSION = '3.3'

interface Version { major: number, minor: number | undefined }

function parse (s: string): Version | undefined {
  const m = /^(\d{1,3})(?:\.(\d{1,3}))?$/.exec(s)
  if (m === null) return undefined
  return { major: Number(m[1]), minor: m[2] === undefined ? undefined : Number(m[2]) }
}

/** Comparable number: a bare major counts as x.0 for a lower bound and x.999 for an upper one. */
function bound (v: Version, upper: boolean): number {
  return v.major * 1000 + (v.minor ?? (upper ? 999 : 0))
}

/**
 * The version to answer, undefined when there is none in common (→ NOVERSION), or 'bad' when
 * MIN or MAX is malformed (→ I2P_ERROR). Without MIN and MAX the answer is the newest version.
 */
export function negotiate (min: string | undefined, max: string | undefined): string | undefined | 'bad' {
  let lo = 0
  let hi = Number.MAX_SAFE_INTEGER
  if (min !== undefined && min !== '') {
    const v = parse(min)
    if (v === undefined) return 'bad'
    lo = bound(v, false)
  }
  if (max !== undefined && max !== '') {
    const v = parse(max)
    if (v === undefined) return 'bad'
    hi = bound(v, true)
  }
  for (let i = SUPPORTED_MINORS.length - 1; i >= 0; i--) {
    const v = 3000 + SUPPORTED_MINORS[i]!
    if (v >= lo && v <= hi) return `3.${SUPPORTED_MINORS[i]!}`
  }
  return undefined
}

/** Whether a negotiated version is at least 3.`minor`. */
export function atLeast (version: string, minor: number): boolean {
  const v = parse(version)
  return v !== undefined && bound(v, false) >= 3000 + minor
}
