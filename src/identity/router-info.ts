/**
 * RouterInfo: a router's signed self-description (identity, transport addresses, capabilities,
 * publication time), as stored in the netDb and sent between routers.
 *
 * Parse, then verify (STYLE.md §9): {@link parseRouterInfo} checks structure and bounds only and
 * yields an {@link UncheckedRouterInfo}; {@link verifyRouterInfo} checks the signature and the
 * publication time and is the only producer of `Verified<RouterInfo>`. Every RouterInfo keeps
 * its exact signed bytes (`raw`) so it can be re-sent unchanged. No I/O, no clock: `now` is an
 * argument.
 */
import type { CryptoSuite } from '../crypto/types.ts'
import { Reader } from '../wire/reader.ts'
import { Writer } from '../wire/writer.ts'
import { ConfigError, CryptoError, DecodeError, LimitError } from '../util/errors.ts'
import { ROUTER_IDENTITY_BYTES, routerIdentityCodec, type RouterIdentity, type RouterKeys } from './router-identity.ts'
import { appendSignature, SIGNATURE_BYTES, trailingSignatureValid } from './signed.ts'
import { markVerified, type Verified } from './verified.ts'

/** Layout version of a RouterInfo. */
export const ROUTER_INFO_VERSION = 1
/** Bounds of a RouterInfo's fields. */
export const ROUTER_INFO_LIMITS = {
  addresses: 16,
  urlBytes: 256,
  capsBytes: 16,
  options: 8,
  optionKeyBytes: 32,
  optionValueBytes: 64
} as const
const L = ROUTER_INFO_LIMITS
const SIG = SIGNATURE_BYTES
/** Largest encoded RouterInfo (5085 bytes). */
export const MAX_ROUTER_INFO_BYTES = 1 + ROUTER_IDENTITY_BYTES + 1 + L.addresses * (1 + 2 + L.urlBytes) +
  1 + L.capsBytes + 1 + L.options * (2 + L.optionKeyBytes + L.optionValueBytes) + 8 + SIG

/** One transport address: a URL such as `udp://127.0.0.1:7001` and a cost (lower preferred). */
export interface RouterAddress {
  readonly url: string
  /** 0..255; lower is preferred. */
  readonly cost: number
}

/** What a router signs about itself. */
export interface RouterInfoFields {
  readonly identity: RouterIdentity
  /** At most 16 addresses. */
  readonly addresses: readonly RouterAddress[]
  /** Capability letters (`A-Z a-z`, at most 16), e.g. `"RF"`; meanings are defined by the netDb. */
  readonly caps: string
  /** At most 8 small key/values; keys `[a-z0-9.-]{1,32}`, values UTF-8 of at most 64 bytes. */
  readonly options: Readonly<Record<string, string>>
  /** Publication time, wall-clock milliseconds since the Unix epoch. */
  readonly published: number
}

/** A RouterInfo with its signature and exact encoded bytes. */
export interface RouterInfo extends RouterInfoFields {
  /** Ed25519 signature over `raw` minus its last 64 bytes. */
  readonly signature: Uint8Array
  /** The full encoding, as signed and as received; re-send these bytes unchanged. */
  readonly raw: Uint8Array
}

/** A structurally valid RouterInfo whose signature and time have not been checked. */
export type UncheckedRouterInfo = RouterInfo

const URL_RE = /^[a-z][a-z0-9+.-]*:\/\/[\x21-\x7e]+$/
const CAPS_RE = /^[A-Za-z]*$/
const KEY_RE = /^[a-z0-9.-]{1,32}$/
const utf8 = new TextEncoder()

/** Checks field bounds shared by encoder and decoder; returns a problem or undefined. */
function problem (f: RouterInfoFields): string | undefined {
  if (f.addresses.length > L.addresses) return `more than ${L.addresses} addresses`
  for (const a of f.addresses) {
    if (a.url.length > L.urlBytes || !URL_RE.test(a.url)) return 'address is not a printable-ASCII URL of at most 256 bytes'
    if (!Number.isInteger(a.cost) || a.cost < 0 || a.cost > 255) return 'address cost must be 0..255'
  }
  if (f.caps.length > L.capsBytes || !CAPS_RE.test(f.caps)) return 'caps must be at most 16 letters'
  const keys = Object.keys(f.options)
  if (keys.length > L.options) return `more than ${L.options} options`
  for (const k of keys) {
    if (!KEY_RE.test(k)) return 'option key must match [a-z0-9.-]{1,32}'
    if (utf8.encode(f.options[k] ?? '').length > L.optionValueBytes) return 'option value over 64 bytes'
  }
  if (!Number.isSafeInteger(f.published) || f.published < 0) return 'published must be a non-negative integer'
  return undefined
}

/**
 * Creates a signed RouterInfo for `keys`. Layout (all integers big-endian):
 * ```
 * u8   version = 1
 * 65   identity (RouterIdentity: u8 version, 32 Ed25519 key, 32 X25519 key)
 * u8   address count (0..16), then per address:
 *        u8 cost, u16 url length (1..256), url (printable ASCII, `scheme://...`)
 * u8   caps length (0..16), caps (ASCII letters)
 * u8   option count (0..8), then per option, keys strictly ascending:
 *        u8 key length (1..32), key ([a-z0-9.-]), u8 value length (0..64), value (UTF-8)
 * u64  published (ms since the Unix epoch, <= 2^53-1)
 * 64   Ed25519 signature by identity.signingKey over all preceding bytes
 * ```
 * Throws ConfigError for fields out of bounds. The result is unchecked like any other
 * RouterInfo; pass it through {@link verifyRouterInfo} to get a `Verified<RouterInfo>`.
 */
export function signRouterInfo (crypto: CryptoSuite, keys: RouterKeys, fields: Omit<RouterInfoFields, 'identity'>): UncheckedRouterInfo {
  const f: RouterInfoFields = { ...fields, identity: keys.identity }
  const bad = problem(f)
  if (bad !== undefined) throw new ConfigError(`RouterInfo: ${bad}`)
  const w = new Writer({ initialSize: 512, limit: MAX_ROUTER_INFO_BYTES })
  w.u8(ROUTER_INFO_VERSION)
  routerIdentityCodec.encode(w, f.identity)
  w.u8(f.addresses.length)
  for (const a of f.addresses) w.u8(a.cost).string(a.url, L.urlBytes)
  w.string(f.caps, L.capsBytes, { lengthBytes: 1 })
  const keysSorted = Object.keys(f.options).sort()
  w.u8(keysSorted.length)
  for (const k of keysSorted) w.string(k, L.optionKeyBytes, { lengthBytes: 1 }).string(f.options[k] ?? '', L.optionValueBytes, { lengthBytes: 1 })
  w.u64(f.published)
  return parseRouterInfo(appendSignature(crypto, w.finish(), keys.signing.secretKey))
}

/**
 * Parses a RouterInfo (layout: see {@link signRouterInfo}) without checking its signature.
 * Checks every bound, rejects input over {@link MAX_ROUTER_INFO_BYTES}, trailing bytes,
 * unsorted or duplicate option keys; throws DecodeError only. Copies out of `bytes`.
 */
export function parseRouterInfo (bytes: Uint8Array): UncheckedRouterInfo {
  if (bytes.length > MAX_ROUTER_INFO_BYTES) throw new DecodeError(`RouterInfo of ${bytes.length} bytes exceeds maximum ${MAX_ROUTER_INFO_BYTES}`)
  const raw = bytes.slice()
  const r = new Reader(raw)
  const version = r.u8()
  if (version !== ROUTER_INFO_VERSION) throw new DecodeError(`unknown RouterInfo version ${version}`)
  const identity = routerIdentityCodec.decode(r)
  const nAddr = r.u8()
  if (nAddr > L.addresses) throw new DecodeError(`RouterInfo has ${nAddr} addresses, over ${L.addresses}`)
  const addresses: RouterAddress[] = []
  for (let i = 0; i < nAddr; i++) {
    const cost = r.u8()
    addresses.push(Object.freeze({ cost, url: r.string(L.urlBytes) }))
  }
  const caps = r.string(L.capsBytes, { lengthBytes: 1 })
  const nOpt = r.u8()
  if (nOpt > L.options) throw new DecodeError(`RouterInfo has ${nOpt} options, over ${L.options}`)
  const options: Record<string, string> = {}
  let prev = ''
  for (let i = 0; i < nOpt; i++) {
    const k = r.string(L.optionKeyBytes, { lengthBytes: 1 })
    if (i > 0 && k <= prev) throw new DecodeError('RouterInfo option keys not strictly ascending')
    if (!KEY_RE.test(k)) throw new DecodeError('RouterInfo option key must match [a-z0-9.-]{1,32}')
    options[k] = r.string(L.optionValueBytes, { lengthBytes: 1 })
    prev = k
  }
  const published = r.u64Number()
  const signature = r.bytes(SIG)
  r.end()
  const info: RouterInfo = { identity, addresses: Object.freeze(addresses), caps, options: Object.freeze(options), published, signature, raw }
  const bad = problem(info)
  if (bad !== undefined) throw new DecodeError(`RouterInfo: ${bad}`)
  return Object.freeze(info)
}

/** What {@link verifyRouterInfo} accepts as a publication time. */
export interface RouterInfoTimeWindow {
  /** Current wall-clock time (ms since the Unix epoch). */
  now: number
  /** How far in the future `published` may be (clock skew allowance). */
  maxSkewMs: number
  /** How old `published` may be. */
  maxAgeMs: number
}

/**
 * Verifies `u`: re-parses its `raw` bytes (so fields edited after parsing cannot slip through),
 * checks the Ed25519 signature (CryptoError) and that `published` lies within
 * `[now - maxAgeMs, now + maxSkewMs]` (LimitError). The only producer of `Verified<RouterInfo>`.
 */
export function verifyRouterInfo (crypto: CryptoSuite, u: UncheckedRouterInfo, window: RouterInfoTimeWindow): Verified<RouterInfo> {
  const info = parseRouterInfo(u.raw)
  if (!trailingSignatureValid(crypto, info.raw, info.signature, info.identity.signingKey)) throw new CryptoError('RouterInfo signature is invalid')
  if (info.published > window.now + window.maxSkewMs) throw new LimitError('RouterInfo published time is too far in the future')
  if (info.published < window.now - window.maxAgeMs) throw new LimitError('RouterInfo is too old')
  return markVerified(info)
}
