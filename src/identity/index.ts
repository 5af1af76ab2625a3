/**
 * Identities: router keys and RouterInfo, destinations and their LeaseSets (I2P layout, `.b32` addresses), and the
 * keystore that persists them. Imports only wire, crypto and util.
 */
export type { Verified } from './verified.ts'
export {
  ROUTER_IDENTITY_BYTES, ROUTER_IDENTITY_VERSION, routerIdentityCodec, encodeRouterIdentity, decodeRouterIdentity,
  routerHash, routerKeysFromSecrets, generateRouterKeys
} from './router-identity.ts'
export type { RouterIdentity, RouterKeys } from './router-identity.ts'
export {
  ROUTER_INFO_VERSION, ROUTER_INFO_LIMITS, MAX_ROUTER_INFO_BYTES, signRouterInfo, parseRouterInfo, verifyRouterInfo
} from './router-info.ts'
export type { RouterAddress, RouterInfoFields, RouterInfo, UncheckedRouterInfo, RouterInfoTimeWindow } from './router-info.ts'
export {
  DESTINATION_BYTES, PRIVATE_KEY_BYTES, CERT_NULL, CERT_KEY, SIGTYPE_ED25519, CRYPTOTYPE_X25519, B32_SUFFIX,
  UnsupportedDestinationError, readDestination, parseDestination, generateDestination, destinationFromPrivate,
  destinationToBase64, privateKeyToBase64, destinationHash, b32Address, parseB32Address
} from './destination.ts'
export type { Destination, DestinationKeys } from './destination.ts'
export {
  ROUTER_KEYS_FILE, ROUTER_KEYS_FILE_BYTES, DESTINATIONS_DIR, loadOrCreateRouterKeys, loadOrCreateDestinationKeys, saveDestinationKeys
} from './keystore.ts'
export type { StoredKeys } from './keystore.ts'
export {
  LEASE_SET_VERSION, MAX_LEASES, MAX_LEASE_SET_LIFETIME_MS, MAX_LEASE_SET_BYTES, signLeaseSet, parseLeaseSet, verifyLeaseSet
} from './lease-set.ts'
export type { Lease, LeaseSet, UncheckedLeaseSet } from './lease-set.ts'
