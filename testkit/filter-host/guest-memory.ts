import { InvalidMemoryAccess, Ok, type Exports } from "./abi.js";
import { FilterCrash } from "./filter-crash.js";

/** The filter's linear memory as the host reads and writes it (views are remade: memory may grow). */
export class GuestMemory {
  constructor(private readonly exports: Exports) {}

  private u8(): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer);
  }
  view(): DataView {
    return new DataView(this.exports.memory.buffer);
  }
  readBytes(ptr: number, len: number): Uint8Array {
    if (ptr + len > this.exports.memory.buffer.byteLength) throw new FilterCrash(`filter passed an out-of-bounds range ${ptr}+${len}`);
    return this.u8().slice(ptr, ptr + len);
  }
  /** Writes bytes where the filter asked for them (an out-parameter of its own). */
  writeBytes(ptr: number, bytes: Uint8Array): void {
    if (ptr + bytes.length > this.exports.memory.buffer.byteLength) throw new FilterCrash(`filter passed an out-of-bounds range ${ptr}+${bytes.length}`);
    this.u8().set(bytes, ptr);
  }
  readString(ptr: number, len: number): string {
    return new TextDecoder().decode(this.readBytes(ptr, len));
  }
  /** Copies bytes into memory the filter allocates (as Envoy does, through its malloc). */
  copyOut(bytes: Uint8Array, ptrPtr: number, sizePtr: number): number {
    const p = this.exports.malloc(bytes.length) >>> 0;
    if (p === 0 && bytes.length > 0) return InvalidMemoryAccess; // the module refused: Envoy reports it too
    this.u8().set(bytes, p);
    const v = this.view();
    v.setUint32(ptrPtr, p, true);
    v.setUint32(sizePtr, bytes.length, true);
    return Ok;
  }

  get byteLength(): number {
    return this.exports.memory.buffer.byteLength;
  }
}
