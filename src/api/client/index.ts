/**
 * Umbra's SAM v3 client: what applications import to talk to a router's SAM bridge
 * (`import { createSession } from 'umbra'`). See docs/client.md.
 */
export { createSession, Session } from './session.ts'
export type { SessionOptions, SessionStyle, SessionEvents, Datagram, AcceptedStream } from './session.ts'
export { generateDestination, lookupName } from './oneshot.ts'
export type { SamClientOptions, GeneratedDestination } from './oneshot.ts'
export { SamError } from './connection.ts'
export { b32AddressOf } from './address.ts'
export { UmbraError, ClosedError, TimeoutError, AbortError, ConfigError, LimitError, DecodeError, TransportError } from '../../util/errors.ts'
