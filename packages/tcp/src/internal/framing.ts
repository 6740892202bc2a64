/**
 * Frame decoders and encoders for byte streams: length-prefixed, delimiter/line and fixed size.
 *
 * Decoders hand out frames as views into the received chunks whenever a frame lies inside one
 * chunk (no copy); a frame spanning chunks is assembled once in a growing buffer. A frame over
 * the maximum is detected as soon as it is known (from the length header, or once more bytes
 * than the maximum arrived without a delimiter), so a hostile peer cannot make the decoder
 * hold more than `maxFrameSize` (plus one read) per connection.
 *
 * @internal
 * @module
 */
import { TcpError } from "../errors.ts";
import type { Framing } from "../options.ts";

/** The default `maxFrameSize`: 1 MiB. */
export const DEFAULT_MAX_FRAME_SIZE = 1024 * 1024;

/** Payloads up to this size are copied into one buffer with their header; larger ones are written as pieces. */
const COPY_LIMIT = 16 * 1024;

/** A batch of frames up to this size is encoded into one buffer (one write); larger ones frame by frame. */
const JOIN_LIMIT = 64 * 1024;

const EMPTY_BUFFER = Buffer.alloc(0);

/** A validated {@link Framing}. */
export type ResolvedFraming =
  | { readonly kind: "length"; readonly headerBytes: 1 | 2 | 4; readonly little: boolean }
  | { readonly kind: "delimiter"; readonly delimiter: Buffer; readonly stripCR: boolean }
  | { readonly kind: "fixed"; readonly size: number };

/** Check framing options and the max frame size; throws `INVALID_ARGUMENT`. */
export function resolveFraming(framing: Framing | undefined, maxFrameSize: number | undefined): {
  framing: ResolvedFraming | undefined;
  maxFrameSize: number;
} {
  const max = maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new TcpError("INVALID_ARGUMENT", `maxFrameSize must be a positive integer, got ${String(maxFrameSize)}`);
  }
  if (framing === undefined) return { framing: undefined, maxFrameSize: max };
  const f = typeof framing === "string" ? { type: framing } : framing;
  switch (f.type) {
    case "length-prefixed": {
      const headerBytes = "headerBytes" in f && f.headerBytes !== undefined ? f.headerBytes : 4;
      if (headerBytes !== 1 && headerBytes !== 2 && headerBytes !== 4) {
        throw new TcpError("INVALID_ARGUMENT", `framing.headerBytes must be 1, 2 or 4, got ${String(headerBytes)}`);
      }
      const order = "byteOrder" in f && f.byteOrder !== undefined ? f.byteOrder : "big";
      if (order !== "big" && order !== "little") {
        throw new TcpError("INVALID_ARGUMENT", `framing.byteOrder must be "big" or "little", got ${String(order)}`);
      }
      return { framing: { kind: "length", headerBytes, little: order === "little" }, maxFrameSize: max };
    }
    case "line":
      return { framing: { kind: "delimiter", delimiter: Buffer.from("\n"), stripCR: true }, maxFrameSize: max };
    case "delimiter": {
      const d = (f as { delimiter?: unknown }).delimiter;
      const delimiter =
        typeof d === "string" ? Buffer.from(d, "utf8") : d instanceof Uint8Array ? Buffer.from(d) : undefined;
      if (delimiter === undefined || delimiter.length === 0) {
        throw new TcpError("INVALID_ARGUMENT", "framing.delimiter must be a non-empty string or Uint8Array");
      }
      return { framing: { kind: "delimiter", delimiter, stripCR: false }, maxFrameSize: max };
    }
    case "fixed": {
      const size = (f as { size?: unknown }).size;
      if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 1) {
        throw new TcpError("INVALID_ARGUMENT", `framing.size must be a positive integer, got ${String(size)}`);
      }
      if (size > max) throw new TcpError("INVALID_ARGUMENT", `framing.size ${size} is over maxFrameSize ${max}`);
      return { framing: { kind: "fixed", size }, maxFrameSize: max };
    }
    default:
      throw new TcpError("INVALID_ARGUMENT", `unknown framing type ${JSON.stringify((f as { type?: unknown }).type)}`);
  }
}

/** Turns a byte stream into frames. */
export interface FrameDecoder {
  /**
   * Decode one chunk: complete frames are appended to `out`. Returns a `TCP_FRAME_TOO_LARGE`
   * error when a frame is over the maximum (frames before it are still appended); the decoder
   * then stays failed.
   */
  decode(chunk: Buffer, out: Buffer[]): TcpError | undefined;
  /** Bytes held for an incomplete frame. */
  readonly buffered: number;
}

/** Builds the bytes of outgoing frames. */
export interface FrameEncoder {
  /** One buffer, or several to write in order (large payloads are not copied). Throws a {@link TcpError}. */
  encode(payload: Uint8Array): Buffer | Buffer[];
  /**
   * The frames of a batch joined into one buffer, or `undefined` when the batch is too large
   * to copy (encode it frame by frame). Throws a {@link TcpError} for any bad payload.
   */
  encodeMany(payloads: readonly Uint8Array[]): Buffer | undefined;
}

export function createDecoder(framing: ResolvedFraming, maxFrameSize: number): FrameDecoder {
  switch (framing.kind) {
    case "length":
      return new LengthDecoder(framing.headerBytes, framing.little, maxFrameSize);
    case "delimiter":
      return new DelimiterDecoder(framing.delimiter, framing.stripCR, maxFrameSize);
    case "fixed":
      return new FixedDecoder(framing.size);
  }
}

export function createEncoder(framing: ResolvedFraming | undefined, maxFrameSize: number): FrameEncoder {
  if (framing === undefined) return { encode: toBuffer, encodeMany: (payloads) => join(payloads, 0) };
  switch (framing.kind) {
    case "length":
      return lengthEncoder(framing.headerBytes, framing.little, maxFrameSize);
    case "delimiter":
      return delimiterEncoder(framing.delimiter, maxFrameSize);
    case "fixed":
      return fixedEncoder(framing.size);
  }
}

/** A view of `u8` as a Buffer, without copying. */
export function toBuffer(u8: Uint8Array): Buffer {
  return Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/** Unframed payloads joined, or undefined over {@link JOIN_LIMIT}. */
function join(payloads: readonly Uint8Array[], total: number): Buffer | undefined {
  let n = total;
  if (n === 0) for (let i = 0; i < payloads.length; i++) n += (payloads[i] as Uint8Array).length;
  if (n > JOIN_LIMIT) return undefined;
  const buf = Buffer.allocUnsafe(n);
  let o = 0;
  for (let i = 0; i < payloads.length; i++) {
    const p = payloads[i] as Uint8Array;
    buf.set(p, o);
    o += p.length;
  }
  return buf;
}

function tooLarge(size: number | string, max: number): TcpError {
  return new TcpError("TCP_FRAME_TOO_LARGE", `frame of ${size} bytes is over maxFrameSize ${max}`, {
    coordinates: { maxFrameSize: max },
  });
}

// ------------------------------------------------------------------------------ accumulator

/**
 * The bytes of one incomplete frame. A single piece is kept as is (a view, no copy); from the
 * second piece on, bytes go into an owned buffer that grows by doubling, so assembling a frame
 * that arrives one byte at a time is linear, not quadratic.
 */
class Accumulator {
  #first: Buffer | undefined;
  #buf: Buffer | undefined;
  length = 0;

  append(piece: Buffer, capacityHint = 0): void {
    const n = piece.length;
    if (n === 0) return;
    if (this.length === 0) {
      this.#first = piece;
      this.length = n;
      return;
    }
    const needed = this.length + n;
    if (this.#buf === undefined) {
      const buf = Buffer.allocUnsafe(Math.max(capacityHint, needed * 2, 64));
      (this.#first as Buffer).copy(buf, 0);
      this.#first = undefined;
      this.#buf = buf;
    } else if (this.#buf.length < needed) {
      const buf = Buffer.allocUnsafe(Math.max(needed, this.#buf.length * 2));
      this.#buf.copy(buf, 0, 0, this.length);
      this.#buf = buf;
    }
    piece.copy(this.#buf, this.length);
    this.length = needed;
  }

  /** Everything held followed by `tail`, as one buffer; the accumulator is emptied. */
  take(tail: Buffer): Buffer {
    let out: Buffer;
    if (this.#buf !== undefined) {
      const needed = this.length + tail.length;
      if (this.#buf.length >= needed) {
        tail.copy(this.#buf, this.length);
        out = this.#buf.subarray(0, needed);
      } else {
        out = Buffer.concat([this.#buf.subarray(0, this.length), tail], needed);
      }
    } else {
      const first = this.#first as Buffer;
      out = tail.length === 0 ? first : Buffer.concat([first, tail], first.length + tail.length);
    }
    this.clear();
    return out;
  }

  /** The first `n` bytes held, as one buffer; the accumulator is emptied. */
  takePrefix(n: number): Buffer {
    const out = this.#held().subarray(0, n);
    this.clear();
    return out;
  }

  /** The last `n` bytes held (n <= length). */
  peekTail(n: number): Buffer {
    return this.#held().subarray(this.length - n, this.length);
  }

  #held(): Buffer {
    return this.#buf ?? this.#first ?? EMPTY_BUFFER;
  }

  clear(): void {
    this.#first = undefined;
    this.#buf = undefined;
    this.length = 0;
  }
}

// ------------------------------------------------------------------------------ decoders

class LengthDecoder implements FrameDecoder {
  readonly #h: 1 | 2 | 4;
  readonly #little: boolean;
  readonly #max: number;
  readonly #acc = new Accumulator();
  /** Body length once the header is known, else -1. */
  #expected = -1;
  #failed: TcpError | undefined;

  constructor(headerBytes: 1 | 2 | 4, little: boolean, max: number) {
    this.#h = headerBytes;
    this.#little = little;
    this.#max = max;
  }

  get buffered(): number {
    return this.#acc.length;
  }

  #read(buf: Buffer, o: number): number {
    switch (this.#h) {
      case 1:
        return buf[o] as number;
      case 2:
        return this.#little ? buf.readUInt16LE(o) : buf.readUInt16BE(o);
      case 4:
        return this.#little ? buf.readUInt32LE(o) : buf.readUInt32BE(o);
    }
  }

  #fail(size: number): TcpError {
    this.#acc.clear();
    this.#failed = tooLarge(size, this.#max);
    return this.#failed;
  }

  decode(chunk: Buffer, out: Buffer[]): TcpError | undefined {
    if (this.#failed !== undefined) return this.#failed;
    const h = this.#h;
    const len = chunk.length;
    const acc = this.#acc;
    let o = 0;
    if (this.#expected < 0 && acc.length > 0) {
      // An incomplete header is held.
      const need = h - acc.length;
      if (len < need) {
        acc.append(chunk);
        return undefined;
      }
      const header = acc.take(chunk.subarray(0, need));
      o = need;
      const n = this.#read(header, 0);
      if (n > this.#max) return this.#fail(n);
      this.#expected = n;
    }
    if (this.#expected >= 0) {
      // The header is known; part of the body may be held.
      const need = this.#expected - acc.length;
      if (len - o < need) {
        acc.append(chunk.subarray(o), this.#expected);
        return undefined;
      }
      out.push(acc.length === 0 ? chunk.subarray(o, o + need) : acc.take(chunk.subarray(o, o + need)));
      o += need;
      this.#expected = -1;
    }
    for (;;) {
      const rest = len - o;
      if (rest < h) {
        if (rest > 0) acc.append(chunk.subarray(o));
        return undefined;
      }
      const n = this.#read(chunk, o);
      if (n > this.#max) return this.#fail(n);
      if (rest - h < n) {
        this.#expected = n;
        acc.append(chunk.subarray(o + h), n);
        return undefined;
      }
      out.push(chunk.subarray(o + h, o + h + n));
      o += h + n;
    }
  }
}

class DelimiterDecoder implements FrameDecoder {
  readonly #d: Buffer;
  readonly #dl: number;
  readonly #byte: number;
  readonly #stripCR: boolean;
  readonly #max: number;
  /** Bytes held beyond the frame itself: a partial delimiter (and a `\r` for lines). */
  readonly #slack: number;
  readonly #acc = new Accumulator();
  #failed: TcpError | undefined;

  constructor(delimiter: Buffer, stripCR: boolean, max: number) {
    this.#d = delimiter;
    this.#dl = delimiter.length;
    this.#byte = delimiter[0] as number;
    this.#stripCR = stripCR;
    this.#max = max;
    this.#slack = delimiter.length - 1 + (stripCR ? 1 : 0);
  }

  get buffered(): number {
    return this.#acc.length;
  }

  #indexOf(chunk: Buffer, from: number): number {
    return this.#dl === 1 ? chunk.indexOf(this.#byte, from) : chunk.indexOf(this.#d, from);
  }

  #fail(size: number | string): TcpError {
    this.#acc.clear();
    this.#failed = tooLarge(size, this.#max);
    return this.#failed;
  }

  /** Append a complete frame (without its delimiter); false if it is over the maximum. */
  #emit(frame: Buffer, out: Buffer[]): boolean {
    let f = frame;
    if (this.#stripCR && f.length > 0 && f[f.length - 1] === 0x0d) f = f.subarray(0, f.length - 1);
    if (f.length > this.#max) return false;
    out.push(f);
    return true;
  }

  decode(chunk: Buffer, out: Buffer[]): TcpError | undefined {
    if (this.#failed !== undefined) return this.#failed;
    const len = chunk.length;
    const dl = this.#dl;
    const acc = this.#acc;
    let o = 0;
    if (acc.length > 0) {
      let frame: Buffer | undefined;
      if (dl > 1) {
        // The delimiter may have started in the bytes held.
        const t = Math.min(dl - 1, acc.length);
        const joint = Buffer.concat([acc.peekTail(t), chunk.subarray(0, Math.min(dl - 1, len))]);
        const j = joint.indexOf(this.#d);
        if (j >= 0 && j < t) {
          frame = acc.takePrefix(acc.length - t + j);
          o = j + dl - t;
        }
      }
      if (frame === undefined) {
        const i = this.#indexOf(chunk, 0);
        if (i < 0) {
          if (acc.length + len - this.#slack > this.#max) return this.#fail(`more than ${acc.length + len - this.#slack}`);
          acc.append(chunk);
          return undefined;
        }
        if (acc.length + i - this.#slack > this.#max) return this.#fail(acc.length + i);
        frame = acc.take(chunk.subarray(0, i));
        o = i + dl;
      }
      if (!this.#emit(frame, out)) return this.#fail(frame.length);
    }
    for (;;) {
      const i = this.#indexOf(chunk, o);
      if (i < 0) {
        const rest = len - o;
        if (rest > 0) {
          if (rest - this.#slack > this.#max) return this.#fail(`more than ${rest - this.#slack}`);
          acc.append(chunk.subarray(o));
        }
        return undefined;
      }
      if (!this.#emit(chunk.subarray(o, i), out)) return this.#fail(i - o);
      o = i + dl;
    }
  }
}

class FixedDecoder implements FrameDecoder {
  readonly #size: number;
  readonly #acc = new Accumulator();

  constructor(size: number) {
    this.#size = size;
  }

  get buffered(): number {
    return this.#acc.length;
  }

  decode(chunk: Buffer, out: Buffer[]): undefined {
    const s = this.#size;
    const len = chunk.length;
    const acc = this.#acc;
    let o = 0;
    if (acc.length > 0) {
      const need = s - acc.length;
      if (len < need) {
        acc.append(chunk, s);
        return undefined;
      }
      out.push(acc.take(chunk.subarray(0, need)));
      o = need;
    }
    while (len - o >= s) {
      out.push(chunk.subarray(o, o + s));
      o += s;
    }
    if (o < len) acc.append(chunk.subarray(o), s);
    return undefined;
  }
}

// ------------------------------------------------------------------------------ encoders

function lengthEncoder(h: 1 | 2 | 4, little: boolean, max: number): FrameEncoder {
  const capacity = h === 4 ? 0xffffffff : h === 2 ? 0xffff : 0xff;
  const limit = Math.min(capacity, max);
  const writeHeader = (buf: Buffer, n: number, o = 0): void => {
    if (h === 1) buf[o] = n;
    else if (h === 2) {
      if (little) buf.writeUInt16LE(n, o);
      else buf.writeUInt16BE(n, o);
    } else if (little) buf.writeUInt32LE(n, o);
    else buf.writeUInt32BE(n, o);
  };
  return {
    encodeMany(payloads) {
      let total = 0;
      for (let i = 0; i < payloads.length; i++) {
        const n = (payloads[i] as Uint8Array).length;
        if (n > limit) throw tooLarge(n, limit);
        total += h + n;
      }
      if (total > JOIN_LIMIT) return undefined;
      const buf = Buffer.allocUnsafe(total);
      let o = 0;
      for (let i = 0; i < payloads.length; i++) {
        const p = payloads[i] as Uint8Array;
        writeHeader(buf, p.length, o);
        buf.set(p, o + h);
        o += h + p.length;
      }
      return buf;
    },
    encode(payload) {
      const n = payload.length;
      if (n > limit) throw tooLarge(n, limit);
      if (n <= COPY_LIMIT) {
        const buf = Buffer.allocUnsafe(h + n);
        writeHeader(buf, n);
        buf.set(payload, h);
        return buf;
      }
      const header = Buffer.allocUnsafe(h);
      writeHeader(header, n);
      return [header, toBuffer(payload)];
    },
  };
}

function delimiterEncoder(delimiter: Buffer, max: number): FrameEncoder {
  const dl = delimiter.length;
  const byte = delimiter[0] as number;
  const check = (payload: Uint8Array): Buffer => {
    const n = payload.length;
    if (n > max) throw tooLarge(n, max);
    const p = toBuffer(payload);
    if ((dl === 1 ? p.indexOf(byte) : p.indexOf(delimiter)) >= 0) {
      throw new TcpError("INVALID_ARGUMENT", "the frame contains the framing delimiter; the peer would split it");
    }
    return p;
  };
  return {
    encodeMany(payloads) {
      let total = 0;
      for (let i = 0; i < payloads.length; i++) total += check(payloads[i] as Uint8Array).length + dl;
      if (total > JOIN_LIMIT) return undefined;
      const buf = Buffer.allocUnsafe(total);
      let o = 0;
      for (let i = 0; i < payloads.length; i++) {
        const p = payloads[i] as Uint8Array;
        buf.set(p, o);
        o += p.length;
        delimiter.copy(buf, o);
        o += dl;
      }
      return buf;
    },
    encode(payload) {
      const n = payload.length;
      const p = check(payload);
      if (n <= COPY_LIMIT) {
        const buf = Buffer.allocUnsafe(n + dl);
        p.copy(buf, 0);
        delimiter.copy(buf, n);
        return buf;
      }
      return [p, delimiter];
    },
  };
}

function fixedEncoder(size: number): FrameEncoder {
  const check = (payload: Uint8Array): void => {
    if (payload.length !== size) {
      throw new TcpError("INVALID_ARGUMENT", `fixed framing needs frames of exactly ${size} bytes, got ${payload.length}`);
    }
  };
  return {
    encodeMany(payloads) {
      for (let i = 0; i < payloads.length; i++) check(payloads[i] as Uint8Array);
      return join(payloads, size * payloads.length);
    },
    encode(payload) {
      check(payload);
      return toBuffer(payload);
    },
  };
}
