/** The streaming layer: reliable ordered streams and datagrams between destinations (docs/streaming.md). */
export { StreamManager } from './manager.ts'
export type { ConnectOptions, PeerKey, SendFn, StreamLimits, StreamManagerOptions, StreamManagerStats } from './manager.ts'
export { StreamSocket } from './socket.ts'
export { Connection } from './connection.ts'
export type { ConnectionEvent, ConnectionInit, ConnectionStats, Phase } from './connection.ts'
export { STREAM_DEFAULTS } from './options.ts'
export type { StreamOptions } from './options.ts'
export { ConnectionRefusedError, ConnectionResetError } from './errors.ts'
export { Protocol } from './protocol.ts'
export type { ProtocolNumber } from './protocol.ts'
export { decodePacket, encodePacket, packet, MAX_PAYLOAD, MAX_SACK_BLOCKS } from './packet.ts'
export type { SackRange, StreamPacket } from './packet.ts'
export {
  decodeRaw, decodeRepliable, encodeRaw, encodeRepliable, MAX_RAW_PAYLOAD, MAX_REPLIABLE_PAYLOAD, REPLIABLE_OVERHEAD
} from './datagram.ts'
export type { RepliableDatagram } from './datagram.ts'
