/**
 * The persistence interface: named buckets of byte keys and byte values in one embedded
 * database in the data directory. Layers that keep state (netDb, later the credit ledger and the
 * app stores) depend on this interface only; the router wires in the real database
 * (`src/util/datastore.ts`). A write's promise resolves once it is durable: a crash (even
 * SIGKILL) after that loses nothing.
 */

/** One named bucket of key/value pairs. Keys are at most 511 bytes. */
export interface KvBucket {
  /** The value under `key`, or undefined. */
  get (key: Uint8Array): Uint8Array | undefined
  /** Stores `value` under `key`; resolves once durable. */
  put (key: Uint8Array, value: Uint8Array): Promise<void>
  /** Removes `key` (no error if absent); resolves once durable. */
  delete (key: Uint8Array): Promise<void>
  /** Every pair in key order; with `range`, those with `start <= key < end` (either bound optional). */
  entries (range?: KeyRange): IterableIterator<[Uint8Array, Uint8Array]>
  /** Every key in order, without reading a value (`range` as for {@link entries}). */
  keys (range?: KeyRange): IterableIterator<Uint8Array>
  /** How many pairs. */
  count (): number
}

/** Bounds of a key range: `start` included, `end` excluded. */
export interface KeyRange { start?: Uint8Array, end?: Uint8Array }

/** An open database: a set of buckets. */
export interface DataStore {
  /** The bucket `name` (`[a-z0-9-]{1,32}`), created on first use. */
  bucket (name: string): KvBucket
  /** Waits for pending writes, then closes. */
  close (): Promise<void>
}
