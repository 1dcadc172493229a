/**
 * A held read buffer: bytes with spare room in front, so that the many small prepends of a watermark
 * push (megabytes, in 64 KiB steps) cost linear time, as in Envoy's slice buffers.
 */
export class HeldBuffer {
  private store: Uint8Array = new Uint8Array(0);
  private start = 0;
  /** Whether `store` is this buffer's own copy (never write into an array a caller handed over). */
  private owned = false;

  get bytes(): Uint8Array {
    return this.store.subarray(this.start);
  }

  set(b: Uint8Array): void {
    this.store = b;
    this.start = 0;
    this.owned = false;
  }

  /** Drains `drain` bytes from the front, then prepends `data`. */
  prepend(data: Uint8Array, drain: number): void {
    this.start += Math.min(drain, this.store.length - this.start);
    if (data.length === 0) return;
    if (data.length > this.start || !this.owned) {
      const body = this.bytes;
      const room = Math.max(data.length, body.length + data.length);
      const grown = new Uint8Array(room + body.length);
      grown.set(body, room);
      this.store = grown;
      this.start = room;
      this.owned = true;
    }
    this.start -= data.length;
    this.store.set(data, this.start);
  }
}
