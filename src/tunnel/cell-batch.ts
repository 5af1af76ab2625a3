/**
 * Groups the cells of one TUNNEL_DATA message by who transforms them (a transit hop, or one of
 * our inbound tunnels), so that each group's layers run as one batch (`HopLayer.applyAll`: three
 * AES calls per batch instead of three per cell). Pure: it only sorts offsets.
 */

/**
 * Calls `fn` once per distinct target of `targets[0, n)`, in order of first appearance, with
 * the offsets of its cells in arrival order.
 */
export function forEachGroup<T> (targets: readonly T[], offs: readonly number[], n: number, fn: (target: T, offs: number[]) => void): void {
  if (n === 0) return
  const first = targets[0]!
  let mixed = false
  for (let i = 1; i < n && !mixed; i++) mixed = targets[i] !== first
  // The common case: every cell of the message belongs to one tunnel.
  if (!mixed) { fn(first, offs.slice(0, n)); return }
  const done = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    if (done[i] === 1) continue
    const t = targets[i]!
    const group: number[] = []
    for (let j = i; j < n; j++) {
      if (targets[j] === t) { group.push(offs[j]!); done[j] = 1 }
    }
    fn(t, group)
  }
}
