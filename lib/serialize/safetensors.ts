// The safetensors file format (https://github.com/huggingface/safetensors), read and written by
// hand: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (space-padded), then the
// data, every tensor row-major and little-endian at `data_offsets` relative to the byte after the
// header:
//
//   {"__metadata__": {"k": "v"}, "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}
//
// Two kinds of object are saved:
// - a state dict, a flat object whose every value is a Tensor: written as plain safetensors, one
//   entry per key, which PyTorch's safetensors.torch.load_file reads as it is;
// - a checkpoint, any nested plain object or array whose leaves are Tensors, finite numbers,
//   strings, booleans or null (an optimizer's stateDict(), epoch counters...; an object property
//   that is undefined is left out, as JSON.stringify does): each tensor is an
//   entry named by its dotted path ("optimizer.state.0.expAvg"), and the structure goes into
//   __metadata__["hayate.tree"] as JSON, each tensor replaced by {"$tensor": "<entry name>"}.
//   Path segments are escaped as in JSON pointers, '~' as '~0' and '.' as '~1', so that two paths
//   never give one name ({"a.b": t} is "a~1b", {a: {b: t}} is "a.b"); a top-level key
//   "__metadata__" is named "~__metadata__" (the format reserves the name). An object key of the
//   structure that starts with '$' is written with one more '$' ("$x" as "$$x"), so that no user
//   object is read back as a tensor reference.
//
// Reading goes through a file descriptor and trusts nothing: the header length is checked against
// the file size and a 100 MB limit (the reference implementation's) before anything is allocated,
// the header must be strict UTF-8 JSON with no duplicate keys (read by a bounded reader, not
// JSON.parse: see JsonReader), every entry's dtype, shape (at most 1024 dimensions) and offsets
// must agree, and the tensors must cover the data exactly, contiguous in offset order, as the
// reference implementation requires; fields of an entry that the format does not have are
// ignored, as there. Each tensor's bytes are read only after the whole header has passed. A broken
// file is a SafetensorsError (code 'ERR_SAFETENSORS', with `file` and `tensor` properties) whose
// message names the function, the file and, where one is at fault, the tensor:
// "load: /ckpt/model.safetensors: tensor 'w': shape must be an array of non-negative integers,
// got [2, -1]". An I64 value outside int32 is a RangeError in the same style; an fs error (ENOENT,
// EACCES...) keeps its code and gets the function and the file in front of its message.
//
// Writing is atomic: a temporary file in the target's folder (<file>.tmp-<pid>-<random>) is
// written, fsynced and renamed over the target, then the folder is fsynced (best effort); on any
// failure the temporary file is removed and the previous file is left as it was.
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { endianness } from 'node:os';
import * as path from 'node:path';

import { DTYPE_BYTES } from '../dtype';
import type { Device, DType } from '../dtype';
import { describe, DisposedError } from '../errors';
import { native } from '../native';
import type { StorageHandle } from '../native';
import { allocTensor, checkOptions, cudaState, Tensor } from '../tensor';
import { deviceArg } from '../validate';

/** A flat record of tensors: what `model.stateDict()` gives and PyTorch's load_file returns. */
export type StateDict = Record<string, Tensor>;

/** What a checkpoint holds: tensors and JSON values, nested in plain objects and arrays. */
export type CheckpointValue = Tensor | number | string | boolean | null | CheckpointValue[] | { [key: string]: CheckpointValue };

export interface SaveOptions {
  /** Strings stored in the header's __metadata__ (the key 'hayate.tree' is reserved). */
  metadata?: Record<string, string>;
}

export interface LoadOptions {
  /** Where the tensors are made; 'cpu' by default. */
  device?: Device | 'cuda:0';
}

/** One tensor's entry in a file's header, as `inspect` reports it. */
export interface SafetensorsTensorInfo {
  name: string;
  /** The format's dtype name: 'F32', 'F16', 'BF16', 'I64', ... */
  dtype: string;
  shape: number[];
  /** Byte offsets of the tensor's data, relative to the first byte after the header. */
  dataOffsets: [number, number];
}

export interface SafetensorsFileInfo {
  /** N, the header's length in bytes (padding included). */
  headerLength: number;
  /** The header's __metadata__ ({} when there is none). */
  metadata: Record<string, string>;
  /** The entries in the header's order. */
  tensors: SafetensorsTensorInfo[];
}

/**
 * A file that is not valid safetensors, or that hayate cannot load.
 *
 * @example
 * ```ts
 * try { hy.load('weights.bin'); }
 * catch (e) { if (!(e instanceof hy.serialize.SafetensorsError)) throw e; console.log(e.file, e.tensor, e.message); }
 * ```
 */
export class SafetensorsError extends Error {
  readonly code = 'ERR_SAFETENSORS';
  /** The file at fault, as the caller named it. */
  readonly file: string;
  /** The tensor at fault, where there is one. */
  readonly tensor: string | undefined;
  constructor(message: string, file: string, tensor?: string) {
    super(message);
    this.name = 'SafetensorsError';
    this.file = file;
    this.tensor = tensor;
  }
}

/** The reference implementation's limit on the header's length (safetensors MAX_HEADER_SIZE). */
export const MAX_HEADER_BYTES = 100_000_000;

/** How deep a checkpoint's structure may nest, writing and reading. */
const MAX_DEPTH = 512;

/** The metadata key that holds a checkpoint's structure. */
export const TREE_KEY = 'hayate.tree';

/** Bytes per element of every fixed-width dtype of the format (sub-byte F4/F6 are unknown here). */
const ITEM_BYTES = new Map<string, number>([
  ['BOOL', 1], ['U8', 1], ['I8', 1], ['F8_E5M2', 1], ['F8_E4M3', 1], ['F8_E8M0', 1],
  ['I16', 2], ['U16', 2], ['F16', 2], ['BF16', 2],
  ['I32', 4], ['U32', 4], ['F32', 4],
  ['I64', 8], ['U64', 8], ['F64', 8], ['C64', 8],
]);

/** What each dtype hayate loads becomes. */
const LOADS_AS = new Map<string, DType>([
  ['F32', 'float32'], ['F16', 'float16'], ['I32', 'int32'],
  ['F64', 'float32'], ['BF16', 'float32'],
  ['I64', 'int32'], ['I16', 'int32'], ['U16', 'int32'], ['I8', 'int32'], ['U8', 'int32'], ['BOOL', 'bool'],
]);

const WRITES_AS: Record<DType, string> = { float32: 'F32', float16: 'F16', int32: 'I32', bool: 'BOOL' };

const CHUNK = 1 << 30; // bytes per read/write call

// ---- small helpers ----

/** A name from a file, quoted for a message: control characters escaped, long names cut. */
function q(name: string): string {
  const cut = name.length > 80 ? name.slice(0, 80) + '...' : name;
  return `'${cut.replace(/[\u0000-\u001f\u007f-\u009f']/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))}'`;
}

function bad(op: string, file: string, message: string, tensor?: string): SafetensorsError {
  return new SafetensorsError(`${op}: ${file}: ${tensor === undefined ? '' : `tensor ${q(tensor)}: `}${message}`, file, tensor);
}

/** An fs error (it has a syscall) with the function and the target file in front; others unchanged. */
function fsError(op: string, file: string, what: string, e: unknown): unknown {
  const err = e as NodeJS.ErrnoException;
  if (!(e instanceof Error) || typeof err.syscall !== 'string') return e;
  const out = new Error(`${op}: ${file}: ${what}: ${err.message}`, { cause: e }) as NodeJS.ErrnoException;
  out.code = err.code;
  out.errno = err.errno;
  out.syscall = err.syscall;
  out.path = err.path;
  return out;
}

function fileArg(op: string, file: unknown): string {
  if (typeof file !== 'string') throw new TypeError(`${op}: file must be a string path, got ${describe(file)}`);
  if (file === '') throw new RangeError(`${op}: file must be a non-empty path, got ''`);
  return file;
}

function checkHost(op: string): void {
  if (endianness() !== 'LE') throw new Error(`${op}: safetensors data is little-endian and this host is big-endian, which hayate does not support`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Sets an own property, also for the key "__proto__" (which plain assignment would not make). */
function define(o: object, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

const roundUp4 = (n: number): number => n + ((4 - (n % 4)) % 4);

// ---- a strict, bounded JSON reader ----
//
// The header and the checkpoint structure are read by this reader rather than JSON.parse, which
// keeps the last of duplicate keys silently and builds whatever a hostile 100 MB header describes
// (millions of keys, millions of nested arrays) before anything can be checked. The header is read
// against the format as it goes: an entry that is not an object, a shape that is not a short array
// of numbers, fail at once, and only the fields the format has are kept; other fields of an entry
// are checked as JSON and skipped (as the reference implementation ignores them), to a bounded depth.

/** Raised by the reader with a message whose subject is its label ("the header ..."). */
class JsonSyntaxError extends Error {}

/** Deepest nesting of an unknown field's value in a header entry. */
const MAX_FIELD_DEPTH = 64;
/** Most dimensions a shape may have. */
const MAX_DIMS = 1024;

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPES = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]); // " \ / b f n r t
const HEX4 = /[0-9a-fA-F]{4}/y;

class JsonReader {
  pos = 0;
  constructor(
    private readonly t: string,
    private readonly label: string,
  ) {}

  syntax(what: string, at = this.pos): never {
    throw new JsonSyntaxError(`${this.label} is not valid JSON: ${what} at character ${at}`);
  }

  /** Skips whitespace; the code of the next character (NaN at the end). */
  ws(): number {
    const t = this.t;
    let p = this.pos;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else {
        this.pos = p;
        return c;
      }
    }
  }

  found(): string {
    return this.pos >= this.t.length ? 'the end' : q(this.t.slice(this.pos, this.pos + 1));
  }

  eat(c: number, what: string): void {
    if (this.ws() !== c) this.syntax(`expected ${what}, found ${this.found()}`);
    this.pos++;
  }

  string(): string {
    if (this.ws() !== 0x22) this.syntax(`expected a string, found ${this.found()}`);
    const t = this.t;
    const start = this.pos;
    let p = start + 1;
    let escaped = false;
    for (;;) {
      if (p >= t.length) this.syntax('a string without its closing quote', start);
      const c = t.charCodeAt(p);
      if (c === 0x22) break;
      if (c < 0x20) this.syntax('a control character in a string', p);
      if (c === 0x5c) {
        escaped = true;
        const e = t.charCodeAt(p + 1);
        if (e === 0x75) {
          HEX4.lastIndex = p + 2;
          if (!HEX4.test(t)) this.syntax('a \\u escape without four hex digits', p);
          p += 6;
        } else if (ESCAPES.has(e)) {
          p += 2;
        } else {
          this.syntax('an unknown escape in a string', p);
        }
        continue;
      }
      p++;
    }
    this.pos = p + 1;
    return escaped ? (JSON.parse(t.slice(start, p + 1)) as string) : t.slice(start + 1, p);
  }

  /** A number, a string, true, false or null. */
  primitive(): string | number | boolean | null {
    const c = this.ws();
    const t = this.t;
    if (c === 0x22) return this.string();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = this.pos;
      const m = NUMBER.exec(t);
      if (m === null) this.syntax(`a malformed number`);
      this.pos += m[0].length;
      return Number(m[0]);
    }
    for (const [word, value] of [['true', true], ['false', false], ['null', null]] as const) {
      if (t.startsWith(word, this.pos)) {
        this.pos += word.length;
        return value;
      }
    }
    return this.syntax(`expected a value, found ${this.found()}`);
  }

  /** The members of an object: `member(key)` is called with the reader at the member's value, which it must consume. */
  object(member: (key: string) => void): void {
    this.eat(0x7b, "'{'");
    if (this.ws() === 0x7d) {
      this.pos++;
      return;
    }
    for (;;) {
      if (this.ws() !== 0x22) this.syntax(`expected a key, found ${this.found()}`);
      const key = this.string();
      this.eat(0x3a, "':'");
      member(key);
      const c = this.ws();
      this.pos++;
      if (c === 0x2c) continue;
      if (c === 0x7d) return;
      this.pos--;
      this.syntax(`expected ',' or '}', found ${this.found()}`);
    }
  }

  /** The elements of an array: `element(index)` consumes each. */
  array(element: (index: number) => void): void {
    this.eat(0x5b, "'['");
    if (this.ws() === 0x5d) {
      this.pos++;
      return;
    }
    for (let i = 0; ; i++) {
      element(i);
      const c = this.ws();
      this.pos++;
      if (c === 0x2c) continue;
      if (c === 0x5d) return;
      this.pos--;
      this.syntax(`expected ',' or ']', found ${this.found()}`);
    }
  }

  /** Checks and skips one value, at most `depth` containers deep, keeping nothing. */
  skip(depth: number): void {
    const c = this.ws();
    if (c !== 0x7b && c !== 0x5b) {
      this.primitive();
      return;
    }
    if (depth <= 0) throw new JsonSyntaxError(`${this.label} nests deeper than ${MAX_FIELD_DEPTH} levels`);
    if (c === 0x7b) this.object(() => this.skip(depth - 1));
    else this.array(() => this.skip(depth - 1));
  }

  /** What the next value is, for a message: a primitive is read and shown; a container is named. */
  show(): string {
    const c = this.ws();
    if (c === 0x7b) return 'an object';
    if (c === 0x5b) return 'an array';
    return describe(this.primitive());
  }

  /** Only whitespace may follow the value. */
  end(): void {
    if (!Number.isNaN(this.ws())) this.syntax(`${this.found()} after the end of the JSON value`);
  }
}

// ---- the header ----

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

interface Header {
  headerLength: number;
  /** File offset of the data's first byte: 8 + N. */
  dataStart: number;
  /** Entries in the header's order. */
  entries: Entry[];
  metadata: Map<string, string>;
}

function readExactly(op: string, file: string, fd: number, dst: Uint8Array, position: number, what: string): void {
  let done = 0;
  while (done < dst.length) {
    let got: number;
    try {
      got = fs.readSync(fd, dst, done, Math.min(dst.length - done, CHUNK), position + done);
    } catch (e) {
      throw fsError(op, file, `reading ${what}`, e);
    }
    if (got === 0) throw bad(op, file, `the file ended while ${what} was read (it changed or was truncated during the read)`);
    done += got;
  }
}

/** Opens a regular file for reading; returns the descriptor and the size. */
function openForRead(op: string, file: string): { fd: number; size: number } {
  let st: fs.Stats;
  try {
    st = fs.statSync(file); // before opening: opening a FIFO would block
  } catch (e) {
    throw fsError(op, file, 'cannot open the file', e);
  }
  if (!st.isFile()) throw bad(op, file, 'not a regular file');
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw fsError(op, file, 'cannot open the file', e);
  }
  try {
    const fst = fs.fstatSync(fd);
    if (!fst.isFile()) throw bad(op, file, 'not a regular file');
    return { fd, size: fst.size };
  } catch (e) {
    fs.closeSync(fd);
    throw fsError(op, file, 'cannot read the file', e);
  }
}

/** A short array of primitives (a shape, the offsets); longer arrays and nested containers fail at once. */
function smallArray(op: string, file: string, r: JsonReader, name: string, field: string, expected: string, max: number, tooLong: string): unknown[] {
  if (r.ws() !== 0x5b) throw bad(op, file, `${field} must be ${expected}, got ${r.show()}`, name);
  const out: unknown[] = [];
  r.array((i) => {
    if (i >= max) throw bad(op, file, tooLong, name);
    const c = r.ws();
    if (c === 0x7b || c === 0x5b) throw bad(op, file, `${field} must be ${expected}, got an array holding ${r.show()}`, name);
    out.push(r.primitive());
  });
  return out;
}

/** Reads one entry's object and checks it: dtype, shape and offsets agree and fit the data. */
function readEntryJson(op: string, file: string, r: JsonReader, name: string, dataLength: number): Entry {
  if (r.ws() !== 0x7b) throw bad(op, file, `the entry must be an object {dtype, shape, data_offsets}, got ${r.show()}`, name);
  let dtype: string | undefined;
  let shape: unknown[] | undefined;
  let offsets: unknown[] | undefined;
  const seen = new Set<string>();
  const SHAPE = 'an array of non-negative integers';
  const OFFSETS = 'two non-negative integers [begin, end]';
  r.object((k) => {
    if (seen.has(k)) throw bad(op, file, `the entry has the key ${q(k)} more than once`, name);
    seen.add(k);
    if (k === 'dtype') {
      if (r.ws() !== 0x22) throw bad(op, file, `dtype must be a string, got ${r.show()}`, name);
      dtype = r.string();
    } else if (k === 'shape') {
      shape = smallArray(op, file, r, name, 'shape', SHAPE, MAX_DIMS, `shape has more than ${MAX_DIMS} dimensions`);
    } else if (k === 'data_offsets') {
      offsets = smallArray(op, file, r, name, 'data_offsets', OFFSETS, 2, `data_offsets must be ${OFFSETS}, got an array of more than 2`);
    } else {
      r.skip(MAX_FIELD_DEPTH); // a field the format does not have: ignored, as the reference implementation does
    }
  });
  if (dtype === undefined || shape === undefined || offsets === undefined) {
    const missing = [dtype === undefined && 'dtype', shape === undefined && 'shape', offsets === undefined && 'data_offsets'].filter(Boolean);
    throw bad(op, file, `the entry has no ${missing.join(', ')}`, name);
  }
  const itemBytes = ITEM_BYTES.get(dtype);
  if (itemBytes === undefined) {
    throw bad(op, file, `dtype must be one of the safetensors dtypes (${[...ITEM_BYTES.keys()].join(', ')}), got ${q(dtype)}`, name);
  }
  if (!shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) throw bad(op, file, `shape must be ${SHAPE}, got ${describe(shape)}`, name);
  const dims = (shape as number[]).map((d) => d + 0); // -0 as 0
  let numel = dims.includes(0) ? 0 : 1;
  for (const d of dims) {
    if (numel === 0) break;
    numel *= d;
    if (numel > 2 ** 53) throw bad(op, file, `shape ${describe(dims)} has more than 2^53 elements`, name);
  }
  if (offsets.length !== 2 || !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)) {
    throw bad(op, file, `data_offsets must be ${OFFSETS}, got ${describe(offsets)}`, name);
  }
  const [begin, end] = (offsets as number[]).map((o) => o + 0);
  if (begin > end) throw bad(op, file, `data_offsets [${begin}, ${end}] begin after they end`, name);
  if (end > dataLength) throw bad(op, file, `data_offsets [${begin}, ${end}] run past the end of the data (${dataLength} bytes)`, name);
  const nbytes = numel * itemBytes; // exact: item sizes are powers of two
  if (nbytes !== end - begin) {
    throw bad(op, file, `shape ${describe(dims)} of ${dtype} needs ${nbytes} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`, name);
  }
  return { name, dtype, shape: dims, begin, end };
}

/** Reads __metadata__: null (none, as the reference implementation reads it) or an object of strings. */
function readMetadataJson(op: string, file: string, r: JsonReader): Map<string, string> {
  const out = new Map<string, string>();
  const c = r.ws();
  if (c === 0x6e) {
    const v = r.primitive();
    if (v === null) return out;
    throw bad(op, file, `__metadata__ must be an object of strings, got ${describe(v)}`);
  }
  if (c !== 0x7b) throw bad(op, file, `__metadata__ must be an object of strings, got ${r.show()}`);
  r.object((k) => {
    if (out.has(k)) throw bad(op, file, `__metadata__ has the key ${q(k)} more than once`);
    if (r.ws() !== 0x22) throw bad(op, file, `__metadata__ must map strings to strings, got ${r.show()} for the key ${q(k)}`);
    out.set(k, r.string());
  });
  return out;
}

/** Reads and checks the header: every entry valid, the data covered exactly. Reads no tensor data. */
function readHeader(op: string, file: string, fd: number, size: number): Header {
  if (size < 8) throw bad(op, file, `the file has ${size} bytes, fewer than the 8 of the header length`);
  const lenBytes = new Uint8Array(8);
  readExactly(op, file, fd, lenBytes, 0, 'the header length');
  const n = new DataView(lenBytes.buffer).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw bad(op, file, `the header length ${n} is more than the limit of ${MAX_HEADER_BYTES} bytes`);
  const headerLength = Number(n);
  if (8 + headerLength > size) {
    throw bad(op, file, `the header length ${headerLength} runs past the end of the file (${size - 8} bytes after the length)`);
  }
  const raw = new Uint8Array(headerLength);
  readExactly(op, file, fd, raw, 8, 'the header');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw);
  } catch {
    throw bad(op, file, 'the header is not valid UTF-8');
  }
  if (!text.startsWith('{')) throw bad(op, file, `the header must start with '{', got ${q(text.slice(0, 16))}`);
  const dataStart = 8 + headerLength;
  const dataLength = size - dataStart;
  const entries: Entry[] = [];
  const names = new Set<string>();
  let metadata: Map<string, string> | undefined;
  const r = new JsonReader(text, 'the header');
  try {
    r.object((name) => {
      if (names.has(name) || (name === '__metadata__' && metadata !== undefined)) throw bad(op, file, `the header has the key ${q(name)} more than once`);
      if (name === '__metadata__') {
        metadata = readMetadataJson(op, file, r);
      } else {
        names.add(name);
        entries.push(readEntryJson(op, file, r, name, dataLength));
      }
    });
    r.end();
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw bad(op, file, e.message);
    throw e;
  }
  const ordered = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  let prev: Entry | undefined;
  for (const e of ordered) {
    if (e.begin !== at) {
      const after = prev === undefined ? 'the data starts' : `tensor ${q(prev.name)} ends`;
      const what = e.begin > at ? 'leaving a gap' : 'overlapping';
      throw bad(op, file, `its data starts at byte ${e.begin}, ${what}: ${after} at byte ${at} (the tensors must cover the data contiguously)`, e.name);
    }
    at = e.end;
    prev = e;
  }
  if (at !== dataLength) throw bad(op, file, `the tensors cover ${at} bytes of data but the file holds ${dataLength} after the header`);
  return { headerLength, dataStart, entries, metadata: metadata ?? new Map() };
}

function withHeader<T>(op: string, file: unknown, fn: (file: string, fd: number, h: Header) => T): T {
  const f = fileArg(op, file);
  checkHost(op);
  const { fd, size } = openForRead(op, f);
  try {
    return fn(f, fd, readHeader(op, f, fd, size));
  } finally {
    fs.closeSync(fd);
  }
}

// ---- raw bytes in and out of tensors ----

/**
 * The bytes of a tensor's storage, from any device, bit for bit (float16 as its half bits): read
 * as int32 words, through a padded host staging buffer when the size is not a multiple of 4.
 */
function readRaw(op: string, t: Tensor, name: string): Uint8Array {
  if (t.isDisposed) throw new DisposedError(`${op}: tensor ${q(name)}`);
  const src = t.live(op);
  const nbytes = t.numel * DTYPE_BYTES[t.dtype];
  if (nbytes === 0) return new Uint8Array(0);
  if (nbytes % 4 === 0) {
    const words = native.read(src, 'int32', nbytes / 4);
    return new Uint8Array(words.buffer, words.byteOffset, nbytes);
  }
  const staging = native.alloc('cpu', roundUp4(nbytes));
  try {
    native.copy(staging, src, nbytes, false);
    const words = native.read(staging, 'int32', staging.nbytes / 4);
    return new Uint8Array(words.buffer, words.byteOffset, nbytes);
  } finally {
    staging.dispose();
  }
}

async function readRawAsync(op: string, t: Tensor, name: string): Promise<Uint8Array> {
  if (t.isDisposed) throw new DisposedError(`${op}: tensor ${q(name)}`);
  const src = t.live(op);
  const nbytes = t.numel * DTYPE_BYTES[t.dtype];
  if (nbytes === 0) return new Uint8Array(0);
  if (nbytes % 4 === 0) {
    const words = await native.readAsync(src, 'int32', nbytes / 4);
    return new Uint8Array(words.buffer, words.byteOffset, nbytes);
  }
  const staging = native.alloc('cpu', roundUp4(nbytes));
  try {
    native.copy(staging, src, nbytes, false);
    const words = await native.readAsync(staging, 'int32', staging.nbytes / 4);
    return new Uint8Array(words.buffer, words.byteOffset, nbytes);
  } finally {
    staging.dispose();
  }
}

/** A new tensor holding `nbytes` raw bytes of `buf` (whose length is at least nbytes rounded up to 4). */
function fromRaw(op: string, shape: number[], dtype: DType, device: Device, buf: ArrayBuffer, nbytes: number): Tensor {
  const t = allocTensor(op, shape, dtype, device);
  try {
    if (nbytes > 0) {
      const dst: StorageHandle = t.live(op);
      if (nbytes % 4 === 0) {
        native.write(dst, 'int32', new Int32Array(buf, 0, nbytes / 4));
      } else {
        const staging = native.alloc('cpu', roundUp4(nbytes));
        try {
          native.write(staging, 'int32', new Int32Array(buf, 0, staging.nbytes / 4));
          native.copy(dst, staging, nbytes, false);
        } finally {
          staging.dispose();
        }
      }
    }
    return t;
  } catch (e) {
    t.dispose();
    throw e;
  }
}

/** Reads one entry's bytes and makes its tensor, converting the dtypes hayate does not have. */
function readEntry(op: string, file: string, fd: number, h: Header, e: Entry, device: Device): Tensor {
  const dtype = LOADS_AS.get(e.dtype)!;
  const nbytes = e.end - e.begin;
  const buf = new ArrayBuffer(roundUp4(nbytes));
  readExactly(op, file, fd, new Uint8Array(buf, 0, nbytes), h.dataStart + e.begin, `the data of tensor ${q(e.name)}`);
  const n = nbytes / ITEM_BYTES.get(e.dtype)!;
  let out: Int32Array | Float32Array;
  switch (e.dtype) {
    case 'F32':
    case 'F16':
    case 'I32':
      return fromRaw(op, e.shape, dtype, device, buf, nbytes);
    case 'F64':
      out = Float32Array.from(new Float64Array(buf, 0, n)); // round to nearest even, as torch's .float()
      break;
    case 'BF16': {
      const src = new Uint16Array(buf, 0, n);
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = src[i] << 16; // exact: bfloat16 is the top half of a float32
      out = new Float32Array(bits.buffer);
      break;
    }
    case 'I64': {
      const words = new Int32Array(buf, 0, 2 * n);
      out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const lo = words[2 * i];
        const hi = words[2 * i + 1];
        if (hi !== lo >> 31) {
          const v = BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0));
          throw new RangeError(`${op}: ${file}: tensor ${q(e.name)}: the I64 value ${v} at index ${i} does not fit in int32`);
        }
        out[i] = lo;
      }
      break;
    }
    case 'I16':
      out = Int32Array.from(new Int16Array(buf, 0, n));
      break;
    case 'U16':
      out = Int32Array.from(new Uint16Array(buf, 0, n));
      break;
    case 'I8':
      out = Int32Array.from(new Int8Array(buf, 0, n));
      break;
    case 'U8':
      out = Int32Array.from(new Uint8Array(buf, 0, n));
      break;
    case 'BOOL': {
      const bytes = new Uint8Array(buf, 0, n);
      for (let i = 0; i < n; i++) bytes[i] = bytes[i] === 0 ? 0 : 1; // any nonzero byte is true
      return fromRaw(op, e.shape, dtype, device, buf, nbytes);
    }
    default:
      throw new Error(`${op}: internal error: no conversion for ${e.dtype}`);
  }
  return fromRaw(op, e.shape, dtype, device, out.buffer as ArrayBuffer, out.byteLength);
}

// ---- the checkpoint structure ----

function escapeSegment(s: string): string {
  return s.replace(/~/g, '~0').replace(/\./g, '~1');
}

function showPath(segs: (string | number)[]): string {
  let s = 'obj';
  for (const p of segs) s += typeof p === 'number' ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`;
  return s;
}

interface Planned {
  name: string;
  tensor: Tensor;
}

/** The structure as JSON, tensors replaced by references; fills `tensors` in the order met. */
function encodeTree(op: string, v: unknown, segs: (string | number)[], ancestors: Set<object>, tensors: Planned[]): unknown {
  if (v instanceof Tensor) {
    if (v.isDisposed) throw new DisposedError(`${op}: ${showPath(segs)}`);
    let name = segs.map((p) => escapeSegment(String(p))).join('.');
    if (name === '__metadata__') name = '~__metadata__';
    tensors.push({ name, tensor: v });
    return { $tensor: name };
  }
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RangeError(`${op}: ${showPath(segs)} must be a finite number, got ${describe(v)}`);
    return v;
  }
  if (Array.isArray(v) || isPlainObject(v)) {
    if (ancestors.has(v)) throw new TypeError(`${op}: ${showPath(segs)} contains itself (a cycle), which a file cannot hold`);
    if (segs.length >= MAX_DEPTH) throw new RangeError(`${op}: ${showPath(segs)} nests more than ${MAX_DEPTH} levels deep`);
    ancestors.add(v);
    let out: unknown;
    if (Array.isArray(v)) {
      const arr: unknown[] = [];
      for (let i = 0; i < v.length; i++) arr.push(encodeTree(op, v[i], [...segs, i], ancestors, tensors));
      out = arr;
    } else {
      const obj = {};
      for (const k of Object.keys(v)) {
        const x = v[k];
        if (x === undefined) continue; // as JSON.stringify: an undefined property is an absent one
        define(obj, k.startsWith('$') ? '$' + k : k, encodeTree(op, x, [...segs, k], ancestors, tensors));
      }
      out = obj;
    }
    ancestors.delete(v);
    return out;
  }
  throw new TypeError(
    `${op}: ${showPath(segs)} must be a Tensor, a finite number, a string, a boolean, null, an array or a plain object, got ${describe(v)}`,
  );
}

/** Where a loaded tensor goes in the rebuilt structure. */
interface Slot {
  holder: unknown[] | Record<string, unknown>;
  key: string | number;
  name: string;
}

class TensorRef {
  constructor(readonly name: string) {}
}

/**
 * Reads the stored structure (undefined when there is none) and checks it against the header's
 * entries: every reference names a tensor of the file, once, and every tensor is placed. Tensor
 * places are left null and listed in `slots`, filled once the tensors are read.
 */
function readTree(op: string, file: string, h: Header): { root: unknown; slots: Slot[] } | undefined {
  const text = h.metadata.get(TREE_KEY);
  if (text === undefined) return undefined;
  const label = `the metadata '${TREE_KEY}'`;
  const malformed = (why: string) => bad(op, file, `${label} is malformed: ${why}`);
  const REF = 'a tensor reference must be {"$tensor": "<name>"}';
  const names = new Set(h.entries.map((e) => e.name));
  const seen = new Set<string>();
  const slots: Slot[] = [];
  const r = new JsonReader(text, label);
  const value = (depth: number): unknown => {
    const c = r.ws();
    if (c !== 0x7b && c !== 0x5b) return r.primitive();
    if (depth >= MAX_DEPTH) throw malformed(`it nests more than ${MAX_DEPTH} levels deep`);
    if (c === 0x5b) {
      const arr: unknown[] = [];
      r.array(() => {
        const v = value(depth + 1);
        if (v instanceof TensorRef) slots.push({ holder: arr, key: arr.length, name: v.name });
        arr.push(v instanceof TensorRef ? null : v);
      });
      return arr;
    }
    const obj: Record<string, unknown> = {};
    let ref: string | undefined;
    let members = 0;
    r.object((k) => {
      if (k === '$tensor' ? members > 0 : ref !== undefined) throw malformed(`${REF}, got an object with other keys`);
      members++;
      if (k === '$tensor') {
        if (r.ws() !== 0x22) throw malformed(`${REF}, got ${r.show()} as the name`);
        ref = r.string();
        return;
      }
      if (k.startsWith('$') && !k.startsWith('$$')) throw malformed(`unknown key ${q(k)} (keys that start with '$' are stored as '$$...')`);
      const key = k.startsWith('$') ? k.slice(1) : k;
      if (Object.prototype.hasOwnProperty.call(obj, key)) throw bad(op, file, `${label} has the key ${q(key)} twice in one object`);
      const v = value(depth + 1);
      if (v instanceof TensorRef) slots.push({ holder: obj, key, name: v.name });
      define(obj, key, v instanceof TensorRef ? null : v);
    });
    if (ref === undefined) return obj;
    if (!names.has(ref)) throw bad(op, file, `${label} refers to the tensor ${q(ref)}, which the file does not have`);
    if (seen.has(ref)) throw bad(op, file, `${label} refers to the tensor ${q(ref)} more than once`);
    seen.add(ref);
    return new TensorRef(ref);
  };
  let root: unknown;
  try {
    root = value(0);
    r.end();
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw bad(op, file, e.message);
    throw e;
  }
  if (root === null || typeof root !== 'object' || root instanceof TensorRef) {
    throw bad(op, file, `${label} must be a JSON object or array, got ${root instanceof TensorRef ? 'a tensor reference' : describe(root)}`);
  }
  for (const e of h.entries) {
    if (!seen.has(e.name)) throw bad(op, file, `${label} does not place it`, e.name);
  }
  return { root, slots };
}

// ---- save ----

interface Plan {
  /** The 8-byte length and the padded header. */
  head: Uint8Array;
  /** The tensors in data order. */
  items: Planned[];
}

function metadataArg(op: string, m: unknown): [string, string][] {
  if (m === undefined) return [];
  if (!isPlainObject(m)) throw new TypeError(`${op}: metadata must be an object of strings, got ${describe(m)}`);
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(m)) {
    if (typeof v !== 'string') throw new TypeError(`${op}: metadata[${JSON.stringify(k)}] must be a string, got ${describe(v)}`);
    if (k === TREE_KEY) throw new RangeError(`${op}: metadata key '${TREE_KEY}' is reserved for the structure of a checkpoint`);
    out.push([k, v]);
  }
  return out;
}

/** Checks obj and the options, names every tensor and lays out the header. Reads no tensor data. */
function plan(op: string, obj: unknown, opts: unknown): Plan {
  const o = checkOptions(op, opts, ['metadata']);
  const metadata = metadataArg(op, o.metadata);
  if (obj instanceof Tensor) throw new TypeError(`${op}: obj must be an object or array of tensors, got a Tensor (save {name: tensor})`);
  if (!Array.isArray(obj) && !isPlainObject(obj)) {
    throw new TypeError(`${op}: obj must be a state dict (an object of tensors) or a plain object or array of tensors and values, got ${describe(obj)}`);
  }
  let items: Planned[] = [];
  if (isPlainObject(obj) && Object.values(obj).every((v) => v instanceof Tensor)) {
    for (const [name, t] of Object.entries(obj) as [string, Tensor][]) {
      if (name === '__metadata__') throw new RangeError(`${op}: the name '__metadata__' is reserved by the safetensors format`);
      if (t.isDisposed) throw new DisposedError(`${op}: tensor ${q(name)}`);
      items.push({ name, tensor: t });
    }
  } else {
    const tree = encodeTree(op, obj, [], new Set(), items);
    metadata.push([TREE_KEY, JSON.stringify(tree)]);
  }
  // The reference writer's order: larger items first (every tensor aligned to its item size), then by name.
  items = items
    .map((it, i) => ({ it, i }))
    .sort((a, b) => DTYPE_BYTES[b.it.tensor.dtype] - DTYPE_BYTES[a.it.tensor.dtype] || (a.it.name < b.it.name ? -1 : a.it.name > b.it.name ? 1 : a.i - b.i))
    .map((x) => x.it);
  const parts: string[] = [];
  if (metadata.length > 0) parts.push(`"__metadata__":{${metadata.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  let at = 0;
  const names = new Set<string>();
  for (const { name, tensor } of items) {
    if (names.has(name)) throw new Error(`${op}: internal error: two tensors named ${q(name)}`);
    names.add(name);
    const nbytes = tensor.numel * DTYPE_BYTES[tensor.dtype];
    parts.push(`${JSON.stringify(name)}:{"dtype":"${WRITES_AS[tensor.dtype]}","shape":[${tensor.shape.join(',')}],"data_offsets":[${at},${at + nbytes}]}`);
    at += nbytes;
  }
  let json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const pad = (8 - (json.length % 8)) % 8; // as the reference writer: the data starts 8-aligned
  if (pad > 0) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  if (json.length > MAX_HEADER_BYTES) throw new RangeError(`${op}: the header would take ${json.length} bytes, more than the format's limit of ${MAX_HEADER_BYTES}`);
  const head = new Uint8Array(8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
  head.set(json, 8);
  return { head, items };
}

function tempName(file: string): string {
  return path.join(path.dirname(file), `${path.basename(file)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, Math.min(bytes.length - done, CHUNK));
}

function syncFolder(file: string): void {
  try {
    const dfd = fs.openSync(path.dirname(file), 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // best effort: some systems cannot open or fsync a folder
  }
}

/**
 * Writes a state dict (a flat object of tensors) or a checkpoint (nested plain objects and arrays
 * of tensors, finite numbers, strings, booleans and null) to `file` in the safetensors format,
 * atomically. Tensors are read from any device, blocking as `dataSync` does; float32, float16 (its
 * half bits) and int32 are written as F32, F16 and I32.
 *
 * @example
 * ```ts
 * const w = hy.randn([784, 10]), b = hy.zeros([10]);
 * hy.save({ w, b }, 'weights.safetensors'); // a state dict: PyTorch's load_file reads it
 * hy.save({ epoch: 3, weights: { w, b }, losses: [0.9, 0.5] }, 'checkpoint.safetensors', { metadata: { run: 'a' } });
 * ```
 */
export function save(obj: object, file: string, opts?: SaveOptions): void {
  const op = 'save';
  const target = fileArg(op, file);
  checkHost(op);
  const p = plan(op, obj, opts);
  const tmp = tempName(target);
  let fd: number | undefined;
  try {
    try {
      fd = fs.openSync(tmp, 'wx');
    } catch (e) {
      fd = undefined;
      throw fsError(op, target, 'cannot create the temporary file', e);
    }
    try {
      writeAll(fd, p.head);
    } catch (e) {
      throw fsError(op, target, 'writing the header', e);
    }
    for (const { name, tensor } of p.items) {
      const bytes = readRaw(op, tensor, name);
      try {
        writeAll(fd, bytes);
      } catch (e) {
        throw fsError(op, target, `writing tensor ${q(name)}`, e);
      }
    }
    try {
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fd = undefined;
      fs.renameSync(tmp, target);
    } catch (e) {
      throw fsError(op, target, 'finishing the file', e);
    }
  } catch (e) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // the error that brought us here is the one to report
      }
    }
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // nothing more can be done
    }
    throw e;
  }
  syncFolder(target);
}

/**
 * As save, without blocking the event loop: the tensors are read with asynchronous reads and the
 * file written with fs.promises. The tensors must stay alive until the promise settles.
 *
 * @example
 * ```ts
 * const w = hy.randn([784, 10]);
 * await hy.serialize.saveAsync({ w }, 'weights.safetensors');
 * w.dispose(); // only once the promise has settled
 * ```
 */
export async function saveAsync(obj: object, file: string, opts?: SaveOptions): Promise<void> {
  const op = 'saveAsync';
  const target = fileArg(op, file);
  checkHost(op);
  const p = plan(op, obj, opts);
  const tmp = tempName(target);
  let fh: fs.promises.FileHandle | undefined;
  const writeAllAsync = async (bytes: Uint8Array) => {
    let done = 0;
    while (done < bytes.length) done += (await fh!.write(bytes, done, Math.min(bytes.length - done, CHUNK))).bytesWritten;
  };
  try {
    try {
      fh = await fs.promises.open(tmp, 'wx');
    } catch (e) {
      fh = undefined;
      throw fsError(op, target, 'cannot create the temporary file', e);
    }
    try {
      await writeAllAsync(p.head);
    } catch (e) {
      throw fsError(op, target, 'writing the header', e);
    }
    for (const { name, tensor } of p.items) {
      const bytes = await readRawAsync(op, tensor, name);
      try {
        await writeAllAsync(bytes);
      } catch (e) {
        throw fsError(op, target, `writing tensor ${q(name)}`, e);
      }
    }
    try {
      await fh.sync();
      const h = fh;
      fh = undefined;
      await h.close();
      await fs.promises.rename(tmp, target);
    } catch (e) {
      throw fsError(op, target, 'finishing the file', e);
    }
  } catch (e) {
    if (fh !== undefined) await fh.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  try {
    const dh = await fs.promises.open(path.dirname(target), 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    // best effort
  }
}

// ---- load ----

/**
 * Reads a safetensors file. A file that `save` wrote from a checkpoint (its metadata holds
 * 'hayate.tree') gives the nested structure back; any other file gives a flat record of tensors,
 * in the header's order. F32, F16 and I32 load as float32, float16 and int32; F64 and BF16 as
 * float32 (BF16 exactly); I64 as int32 when every value fits (else a RangeError); I8, U8, I16, U16
 * and BOOL as int32. Other dtypes are a SafetensorsError. On any error no tensor is left allocated.
 *
 * @example
 * ```ts
 * const sd = hy.load<hy.serialize.StateDict>('weights.safetensors', { device: 'cuda' });
 * const ck = hy.load<{ epoch: number; weights: hy.serialize.StateDict }>('checkpoint.safetensors');
 * for (const t of [...Object.values(sd), ...hy.serialize.tensorsIn(ck)]) t.dispose();
 * ```
 */
export function load<T = StateDict | CheckpointValue>(file: string, opts?: LoadOptions): T {
  const op = 'load';
  const o = checkOptions(op, opts, ['device']);
  const device = o.device === undefined ? 'cpu' : deviceArg(op, o.device);
  if (device === 'cuda' && !cudaState().available) {
    const e = new Error(`${op}: CUDA is not available (${cudaState().reason})`);
    (e as Error & { code: string }).code = 'ERR_CUDA_UNAVAILABLE';
    throw e;
  }
  return withHeader(op, file, (f, fd, h) => {
    const tree = readTree(op, f, h);
    for (const e of h.entries) {
      if (!LOADS_AS.has(e.dtype)) {
        throw bad(op, f, `dtype ${e.dtype} is not one hayate loads (it loads ${[...LOADS_AS.keys()].join(', ')})`, e.name);
      }
    }
    const tensors = new Map<string, Tensor>();
    try {
      for (const e of h.entries.slice().sort((a, b) => a.begin - b.begin)) tensors.set(e.name, readEntry(op, f, fd, h, e, device));
    } catch (err) {
      for (const t of tensors.values()) t.dispose();
      throw err;
    }
    if (tree !== undefined) {
      for (const { holder, key, name } of tree.slots) {
        if (Array.isArray(holder)) holder[key as number] = tensors.get(name);
        else define(holder, key as string, tensors.get(name));
      }
      return tree.root as T;
    }
    const out: StateDict = {};
    for (const e of h.entries) define(out, e.name, tensors.get(e.name));
    return out as T;
  });
}

function metadataRecord(m: Map<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of m) define(out, k, v);
  return out;
}

/**
 * Every tensor in a value load() returned, at any depth: what a caller frees once it has copied them.
 *
 * @example
 * ```ts
 * const ck = hy.load('checkpoint.safetensors');
 * // ... copy out what is needed ...
 * for (const t of hy.serialize.tensorsIn(ck)) t.dispose();
 * ```
 */
export function tensorsIn(v: unknown, out: Tensor[] = []): Tensor[] {
  if (!Array.isArray(out)) throw new TypeError(`tensorsIn: out must be an array to append to, got ${describe(out)}`);
  // iterative, and each object once: a cyclic or deep value neither recurses without end nor overflows the stack
  const seen = new Set<object>();
  const work: unknown[] = [v];
  while (work.length > 0) {
    const x = work.pop();
    if (x instanceof Tensor) out.push(x);
    else if (x !== null && typeof x === 'object' && !seen.has(x)) {
      seen.add(x);
      const vals = Object.values(x);
      for (let i = vals.length - 1; i >= 0; i--) work.push(vals[i]);
    }
  }
  return out;
}

/**
 * The header's __metadata__ ({} when it has none); the file's layout is checked, no data is read.
 *
 * @example
 * ```ts
 * hy.save({ w: hy.ones([2]) }, 'weights.safetensors', { metadata: { run: 'a' } });
 * hy.serialize.loadMetadata('weights.safetensors').run; // 'a'
 * ```
 */
export function loadMetadata(file: string): Record<string, string> {
  return withHeader('loadMetadata', file, (_f, _fd, h) => metadataRecord(h.metadata));
}

/**
 * The names, dtypes, shapes and offsets of a file's tensors, and its metadata, without reading the data.
 *
 * @example
 * ```ts
 * const { tensors, metadata } = hy.serialize.inspect('weights.safetensors');
 * for (const t of tensors) console.log(t.name, t.dtype, t.shape); // e.g. w F32 [784, 10]
 * ```
 */
export function inspect(file: string): SafetensorsFileInfo {
  return withHeader('inspect', file, (_f, _fd, h) => ({
    headerLength: h.headerLength,
    metadata: metadataRecord(h.metadata),
    tensors: h.entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape.slice(), dataOffsets: [e.begin, e.end] as [number, number] })),
  }));
}
