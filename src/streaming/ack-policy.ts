/**
 * When one stream acknowledges (delayed ACKs): within `delayMs` of a packet that takes a
 * sequence number, at once on every second such packet, on anything out of order or filling a
 * gap, on SYN and FIN, and when asked (ECHO). An ACK rides on any packet sent meanwhile. A
 * window update (an ACK-only packet) goes out once the reader has freed `updateBytes` since the
 * last advertisement. Pure bookkeeping; connection.ts builds the packets.
 */

/** Delayed-ACK state of one stream (see module doc). */
export class AckPolicy {
  private owed = false
  private at = 0
  private eliciting = 0
  private readAdvertised = 0

  constructor (private readonly delayMs: number, private readonly updateBytes: number) {}

  /** A packet that takes a sequence number arrived; `urgent` ones are acknowledged at once. */
  onElicit (now: number, urgent: boolean): void {
    if (!this.owed) this.at = now + this.delayMs
    this.owed = true
    if (urgent || ++this.eliciting >= 2) this.at = now
  }

  /** Acknowledge at once. */
  immediately (now: number): void {
    this.owed = true
    this.at = now
  }

  /** A packet carrying our ACK and window left, after the reader had read `totalRead` bytes. */
  onSent (totalRead: number): void {
    this.owed = false
    this.eliciting = 0
    this.readAdvertised = totalRead
  }

  /** Whether an ACK-only packet should go now (the ACK is due, or the window opened enough). */
  due (now: number, totalRead: number, peerDone: boolean): boolean {
    return (this.owed && now >= this.at) || (!peerDone && totalRead - this.readAdvertised >= this.updateBytes)
  }

  /** When the owed ACK is due, or undefined. */
  deadline (): number | undefined { return this.owed ? this.at : undefined }

  /** Nothing is owed any more (the stream closed). */
  clear (): void { this.owed = false }
}
