/**
 * `Verified<T>`: the type of a record whose signature (and freshness) has been checked
 * (STYLE.md §9, arti's tor-checkable). The brand is a unique symbol that is not exported, so a
 * parsed, unchecked object can never be passed where a `Verified<T>` is required.
 *
 * {@link markVerified} is the only way to make one. Only verify functions may call it (today:
 * `verifyRouterInfo` and `verifyLeaseSet`); it is deliberately not re-exported from
 * `identity/index.ts`.
 */

declare const verifiedBrand: unique symbol

/** A `T` that a verify function has checked. */
export type Verified<T> = T & { readonly [verifiedBrand]: true }

/** Brands `v` as verified. Call only after checking its signature and validity. */
export function markVerified<T extends object> (v: T): Verified<T> {
  return v as Verified<T>
}
