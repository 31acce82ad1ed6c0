// The IDX file format of the MNIST distribution (train-images-idx3-ubyte and friends), plain or
// gzip-compressed. Layout: two zero bytes, a type code, the number of dimensions, each dimension as
// a big-endian uint32, then the values in row-major order (big-endian for multi-byte types).
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe } from '../errors';

export type IdxType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxArray = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxData {
  type: IdxType;
  dims: number[];
  data: IdxArray;
}

const TYPES: Record<number, [IdxType, number]> = {
  0x08: ['uint8', 1],
  0x09: ['int8', 1],
  0x0b: ['int16', 2],
  0x0c: ['int32', 4],
  0x0d: ['float32', 4],
  0x0e: ['float64', 8],
};

const hex = (n: number, digits: number) => '0x' + n.toString(16).padStart(digits, '0');

/** The raw (decompressed) bytes of a file; gzip is recognised by its magic bytes, not the name. */
function readBytes(file: string): Buffer {
  // a path only: readFileSync would take a number as a file descriptor (and wait on a pipe)
  if (typeof file !== 'string' || file.length === 0) throw new TypeError(`readIdx: file must be a non-empty path string, got ${describe(file)}`);
  const raw = readFileSync(file);
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return gunzipSync(raw);
    } catch (e) {
      throw new Error(`readIdx: ${file}: the gzip data is corrupt or truncated (${(e as Error).message})`);
    }
  }
  return raw;
}

/**
 * Parses IDX bytes; `file` only names the source in errors.
 *
 * @example
 * ```ts
 * const bytes = new Uint8Array([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9]); // uint8, one dimension of 3
 * const { type, dims, data } = hy.data.parseIdx(bytes, 'labels'); // 'uint8', [3], Uint8Array [7, 8, 9]
 * ```
 */
export function parseIdx(bytes: Uint8Array, file: string): IdxData {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`parseIdx: bytes must be a Uint8Array (or Buffer), got ${describe(bytes)}`);
  if (typeof file !== 'string') throw new TypeError(`parseIdx: file must be a string naming the bytes' source, got ${describe(file)}`);
  if (bytes.length < 4) throw new Error(`readIdx: ${file} is truncated: ${bytes.length} bytes, too short for the 4-byte magic number`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const code = bytes[2];
  const ndims = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || TYPES[code] === undefined || ndims === 0) {
    throw new Error(
      `readIdx: ${file} is not an IDX file: magic number ${hex(magic, 8)} ` +
        '(expected 0x0000, a type code 08/09/0b/0c/0d/0e and a dimension count, e.g. 0x00000803 for images)',
    );
  }
  const [type, size] = TYPES[code];
  const header = 4 + 4 * ndims;
  if (bytes.length < header) {
    throw new Error(`readIdx: ${file} is truncated: ${bytes.length} bytes, too short for the ${header}-byte header of ${ndims} dimensions`);
  }
  const dims: number[] = [];
  let count = 1;
  for (let d = 0; d < ndims; d++) {
    dims.push(view.getUint32(4 + 4 * d, false));
    count *= dims[d];
  }
  const need = count * size;
  const have = bytes.length - header;
  if (have < need) {
    throw new Error(
      `readIdx: ${file} is truncated: dimensions ${dims.join(' x ')} of ${type} need ${need} bytes of data after the ` +
        `${header}-byte header, the file has ${have}`,
    );
  }
  if (have > need) {
    throw new Error(`readIdx: ${file} has ${have - need} bytes after the data that dimensions ${dims.join(' x ')} of ${type} describe`);
  }
  let data: IdxArray;
  if (type === 'uint8') data = new Uint8Array(bytes.subarray(header, header + need));
  else if (type === 'int8') data = new Int8Array(bytes.slice(header, header + need).buffer);
  else {
    const out =
      type === 'int16' ? new Int16Array(count) : type === 'int32' ? new Int32Array(count) : type === 'float32' ? new Float32Array(count) : new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const at = header + i * size;
      out[i] =
        type === 'int16'
          ? view.getInt16(at, false)
          : type === 'int32'
            ? view.getInt32(at, false)
            : type === 'float32'
              ? view.getFloat32(at, false)
              : view.getFloat64(at, false);
    }
    data = out;
  }
  return { type, dims, data };
}

/**
 * Reads an IDX file (gzip-compressed or not). Errors name the file and what is wrong with it.
 *
 * @example
 * ```ts
 * const { type, dims, data } = hy.data.readIdx('train-labels-idx1-ubyte.gz'); // 'uint8', [60000]
 * ```
 */
export function readIdx(file: string): IdxData {
  return parseIdx(readBytes(file), file);
}

/**
 * Writes an IDX file; gzip-compressed when opts.gzip is set.
 *
 * @example
 * ```ts
 * hy.data.writeIdx('labels-idx1-ubyte.gz', new Uint8Array([7, 2, 1]), [3], { gzip: true });
 * hy.data.readIdx('labels-idx1-ubyte.gz').data; // Uint8Array [7, 2, 1]
 * ```
 */
export function writeIdx(file: string, data: IdxArray, dims: number[], opts: { gzip?: boolean } = {}): void {
  if (typeof file !== 'string' || file.length === 0) throw new TypeError(`writeIdx: file must be a non-empty path string, got ${describe(file)}`);
  if (!Array.isArray(dims) || dims.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d >= 2 ** 32)) {
    throw new TypeError(`writeIdx: dims must be an array of integers from 0 to 2^32 - 1, got ${describe(dims)}`);
  }
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new TypeError(`writeIdx: options must be an object, got ${describe(opts)}`);
  if (opts.gzip !== undefined && typeof opts.gzip !== 'boolean') throw new TypeError(`writeIdx: gzip must be a boolean, got ${describe(opts.gzip)}`);
  const entry = Object.entries(TYPES).find(
    ([, [t]]) =>
      (t === 'uint8' && data instanceof Uint8Array) ||
      (t === 'int8' && data instanceof Int8Array) ||
      (t === 'int16' && data instanceof Int16Array) ||
      (t === 'int32' && data instanceof Int32Array) ||
      (t === 'float32' && data instanceof Float32Array) ||
      (t === 'float64' && data instanceof Float64Array),
  );
  if (entry === undefined) throw new TypeError('writeIdx: data must be a Uint8Array, Int8Array, Int16Array, Int32Array, Float32Array or Float64Array');
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`writeIdx: dimensions ${dims.join(' x ')} hold ${count} values, data has ${data.length}`);
  const code = Number(entry[0]);
  const [type, size] = entry[1];
  const header = 4 + 4 * dims.length;
  const buf = Buffer.alloc(header + count * size);
  buf[2] = code;
  buf[3] = dims.length;
  dims.forEach((d, i) => buf.writeUInt32BE(d, 4 + 4 * i));
  for (let i = 0; i < count; i++) {
    const at = header + i * size;
    const v = data[i];
    if (type === 'uint8') buf.writeUInt8(v, at);
    else if (type === 'int8') buf.writeInt8(v, at);
    else if (type === 'int16') buf.writeInt16BE(v, at);
    else if (type === 'int32') buf.writeInt32BE(v, at);
    else if (type === 'float32') buf.writeFloatBE(v, at);
    else buf.writeDoubleBE(v, at);
  }
  writeFileSync(file, opts.gzip ? gzipSync(buf) : buf);
}
