/**
 * The package's public API (`import … from 'umbra'`): the TypeScript SAM client that
 * applications use to reach a router, plus what embeds a router and its local APIs in a
 * Node program.
 */
export * from './api/client/index.ts'
export { Router, type RouterConfig } from './router/router.ts'
export { startSamBridge, type SamBridge, type SamBridgeOptions } from './api/sam/bridge.ts'
export { routerHost, type RouterHost } from './api/host.ts'
export { startSocksServer, type SocksServer, type SocksOptions } from './api/socks/server.ts'
export { startServerTunnel, type ServerTunnel } from './api/server-tunnel.ts'
export { startLocalApis, type LocalApis } from './api/local.ts'
