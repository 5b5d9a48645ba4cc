/**
 * A safe reader and a protocol-2 writer for the small subset of Python's pickle format that
 * lando-messaging uses (messages.md §8). Python's own unpickler runs whatever a pickle names,
 * so lando's queue was a remote-code-execution hole (known-weaknesses.md); this reader instead
 * interprets exactly the opcodes that plain data and plain class instances need, resolves
 * globals only against the caller's allowlist, executes nothing, and turns an instance into
 * plain data: `{ kind: 'object', className: 'module.Class', state }`.
 *
 * It follows CPython's C unpickler where the two could differ (mark fences, MEMOIZE numbering,
 * Python 2 module names) and is stricter where Python is lax: no trailing bytes, nothing left
 * on the stack at STOP, no recursive structures, bounded size and nesting. Every failure is a
 * PickleDecodeError whose reason names the problem and its offset.
 */
import { PermanentError } from '../../domain/errors.js';

/** Largest pickle accepted: lando's messages are a few hundred bytes plus at most one pod log. */
export const MAX_PICKLE_BYTES = 1024 * 1024;
/** Deepest nesting of containers, and of open MARKs, accepted; a lando message nests 4 deep. */
export const MAX_PICKLE_DEPTH = 32;
/**
 * Most values on the stack at once, and most lists, tuples, dicts and instances in one pickle.
 * A lando message needs about a dozen of each; the caps keep a 1 MiB body from costing
 * hundreds of megabytes of small objects.
 */
export const MAX_PICKLE_STACK = 4096;
export const MAX_PICKLE_CONTAINERS = 10_000;
/** Longest integer accepted (LONG1/LONG4 bytes); job ids are small, and BigInt work must stay bounded. */
const MAX_INT_BYTES = 64;
/** Longest decimal integer accepted (INT/LONG/PUT/GET lines), about as large as MAX_INT_BYTES allows. */
const MAX_INT_DIGITS = 160;
const HIGHEST_PROTOCOL = 5;

/** An instance built without running its constructor, with its attribute dictionary. */
export interface PickleObject {
  readonly kind: 'object';
  /** `module.Class`, always one of the allowlisted classes. */
  readonly className: string;
  readonly state: Map<string, PickleValue>;
}

/** A reference to an allowlisted global (a class, or the copyreg helper of protocols 0 and 1). */
export interface PickleGlobal {
  readonly kind: 'global';
  readonly name: string;
}

/**
 * Decoded data. Python's int is a number when it is a safe integer and a bigint otherwise;
 * lists and tuples are arrays; dicts (string keys only) are Maps, which keep insertion order
 * like Python's and keep keys such as `__proto__` as plain data.
 */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PickleValue[]
  | Map<string, PickleValue>
  | PickleObject
  | PickleGlobal;

/** Why a pickle was refused; `reason` is one sentence naming the problem. */
export class PickleDecodeError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'PickleDecodeError';
  }
}

export function isPickleObject(value: unknown): value is PickleObject {
  return isTaggedObject(value) && value.kind === 'object';
}

export function isPickleGlobal(value: unknown): value is PickleGlobal {
  return isTaggedObject(value) && value.kind === 'global';
}

function isTaggedObject(value: unknown): value is { kind: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Map) && 'kind' in value;
}

/** Names a decoded value in an error reason. */
export function describePickleValue(value: PickleValue): string {
  if (value === null) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number' || typeof value === 'bigint') return `the int ${value}`;
  if (typeof value === 'string') return `the str ${quoteForReason(value)}`;
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Map) return 'a dict';
  return value.kind === 'object' ? `an instance of ${value.className}` : `the global ${value.name}`;
}

/** Shows text from a message inside a reason: plain if it is a short token, else quoted and cut. */
export function quoteForReason(text: string): string {
  if (/^[\x21-\x7e]{1,80}$/.test(text)) return text;
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/**
 * Decodes a pickle of protocol 0 to 5. `allowedClasses` lists the `module.Class` names that
 * NEWOBJ (or, for protocols 0 and 1, `copyreg._reconstructor`) may instantiate; any other
 * global is refused where it is named.
 */
export function loadPickle(bytes: Uint8Array, allowedClasses: ReadonlySet<string>): PickleValue {
  if (bytes.length > MAX_PICKLE_BYTES) {
    throw new PickleDecodeError(`pickle of ${bytes.length} bytes exceeds the limit of ${MAX_PICKLE_BYTES} bytes`);
  }
  return new Unpickler(bytes, allowedClasses).load();
}

/**
 * Encodes as Python's pickler does at protocol 2, byte for byte: memo numbering, integer
 * opcodes, SETITEM for one entry and MARK…SETITEMS for more, a repeated class as BINGET.
 * Arrays are written as lists. Python memoizes strings by identity and would write a repeated
 * string object as BINGET; here every string is written out, as Python does for distinct
 * objects (all of lando-messaging's strings are). Lone UTF-16 surrogates become U+FFFD.
 */
export function dumpPickle(value: PickleValue): Buffer {
  return new Pickler().dump(value);
}

const OP = {
  MARK: 0x28,
  EMPTY_TUPLE: 0x29,
  STOP: 0x2e,
  INT: 0x49,
  BININT: 0x4a,
  BININT1: 0x4b,
  LONG: 0x4c,
  BININT2: 0x4d,
  NONE: 0x4e,
  REDUCE: 0x52,
  STRING: 0x53,
  BINSTRING: 0x54,
  SHORT_BINSTRING: 0x55,
  UNICODE: 0x56,
  BINUNICODE: 0x58,
  EMPTY_LIST: 0x5d,
  APPEND: 0x61,
  BUILD: 0x62,
  GLOBAL: 0x63,
  DICT: 0x64,
  APPENDS: 0x65,
  GET: 0x67,
  BINGET: 0x68,
  LONG_BINGET: 0x6a,
  LIST: 0x6c,
  PUT: 0x70,
  BINPUT: 0x71,
  LONG_BINPUT: 0x72,
  SETITEM: 0x73,
  TUPLE: 0x74,
  SETITEMS: 0x75,
  EMPTY_DICT: 0x7d,
  PROTO: 0x80,
  NEWOBJ: 0x81,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  LONG4: 0x8b,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  NEWOBJ_EX: 0x92,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
} as const;

/** Opcodes that call arbitrary code or outside registries: refused outright. */
const FORBIDDEN_OPCODES: ReadonlyMap<number, string> = new Map([
  [0x69, 'INST'],
  [0x6f, 'OBJ'],
  [0x50, 'PERSID'],
  [0x51, 'BINPERSID'],
  [0x82, 'EXT1'],
  [0x83, 'EXT2'],
  [0x84, 'EXT4'],
]);

/** Real opcodes no lando message needs (floats, bytes, sets, stack juggling, out-of-band buffers). */
const UNSUPPORTED_OPCODES: ReadonlyMap<number, string> = new Map([
  [0x30, 'POP'],
  [0x31, 'POP_MARK'],
  [0x32, 'DUP'],
  [0x46, 'FLOAT'],
  [0x47, 'BINFLOAT'],
  [0x42, 'BINBYTES'],
  [0x43, 'SHORT_BINBYTES'],
  [0x8e, 'BINBYTES8'],
  [0x8f, 'EMPTY_SET'],
  [0x90, 'ADDITEMS'],
  [0x91, 'FROZENSET'],
  [0x96, 'BYTEARRAY8'],
  [0x97, 'NEXT_BUFFER'],
  [0x98, 'READONLY_BUFFER'],
]);

const OPCODE_NAMES: ReadonlyMap<number, string> = new Map([
  ...Object.entries(OP).map(([name, code]): [number, string] => [code, name]),
  ...FORBIDDEN_OPCODES,
  ...UNSUPPORTED_OPCODES,
]);

/** Python 3 reads protocol 0-2 pickles written by Python 2 under the new module names. */
const PYTHON2_MODULES: ReadonlyMap<string, string> = new Map([
  ['copy_reg', 'copyreg'],
  ['__builtin__', 'builtins'],
]);
/** What protocols 0 and 1 pickle a plain instance as: `_reconstructor(cls, object, None)`. */
const RECONSTRUCTOR = 'copyreg._reconstructor';
const OBJECT_BASE = 'builtins.object';

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

type Container = PickleValue[] | Map<string, PickleValue> | PickleObject;

function isContainer(value: PickleValue): value is Container {
  return Array.isArray(value) || value instanceof Map || isPickleObject(value);
}

function containerKind(container: Container): string {
  if (Array.isArray(container)) return 'list';
  return container instanceof Map ? 'dict' : container.className;
}

/** Bounds-checked reading of opcode arguments; every shortfall is a "truncated pickle" error. */
class ByteReader {
  private position = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get offset(): number {
    return this.position;
  }

  get remaining(): number {
    return this.bytes.length - this.position;
  }

  take(count: number, what: string): Uint8Array {
    if (count > this.remaining) {
      throw new PickleDecodeError(`truncated pickle: ${what} needs ${count} bytes at offset ${this.position}`);
    }
    const slice = this.bytes.subarray(this.position, this.position + count);
    this.position += count;
    return slice;
  }

  uint8(what: string): number {
    return this.take(1, what)[0] ?? 0;
  }

  uint16(what: string): number {
    const at = this.advance(2, what);
    return this.view.getUint16(at, true);
  }

  int32(what: string): number {
    const at = this.advance(4, what);
    return this.view.getInt32(at, true);
  }

  uint32(what: string): number {
    const at = this.advance(4, what);
    return this.view.getUint32(at, true);
  }

  /** A 64-bit length; one beyond the input is reported as truncation before it could be used. */
  length64(what: string): number {
    const at = this.advance(8, what);
    const length = this.view.getBigUint64(at, true);
    if (length > BigInt(this.remaining)) {
      throw new PickleDecodeError(`truncated pickle: ${what} needs ${length} bytes at offset ${this.position}`);
    }
    return Number(length);
  }

  /** Bytes up to the next newline, which is consumed but not returned. */
  line(what: string): Uint8Array {
    const end = this.bytes.indexOf(0x0a, this.position);
    if (end < 0) {
      throw new PickleDecodeError(`truncated pickle: ${what} needs a newline-terminated argument at offset ${this.position}`);
    }
    const slice = this.bytes.subarray(this.position, end);
    this.position = end + 1;
    return slice;
  }

  private advance(count: number, what: string): number {
    const at = this.position;
    this.take(count, what);
    return at;
  }
}

class Unpickler {
  private readonly input: ByteReader;
  private readonly stack: PickleValue[] = [];
  /** Stack heights at each open MARK; like CPython, nothing below the last one may be popped. */
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PickleValue>();
  private readonly depths = new WeakMap<Container, number>();
  /** Containers already nested in another: changing one later could make a cycle. */
  private readonly nested = new WeakSet<Container>();
  private readonly tuples = new WeakSet<PickleValue[]>();
  private containersCreated = 0;
  private opName = '';
  private opOffset = 0;

  constructor(
    bytes: Uint8Array,
    private readonly allowedClasses: ReadonlySet<string>,
  ) {
    this.input = new ByteReader(bytes);
  }

  load(): PickleValue {
    for (;;) {
      if (this.input.remaining === 0) {
        throw new PickleDecodeError(`truncated pickle: no STOP opcode before the end at offset ${this.input.offset}`);
      }
      this.opOffset = this.input.offset;
      const opcode = this.input.uint8('an opcode');
      this.opName = OPCODE_NAMES.get(opcode) ?? `0x${opcode.toString(16).padStart(2, '0')}`;
      if (opcode === OP.STOP) return this.stop();
      this.execute(opcode);
    }
  }

  private execute(opcode: number): void {
    switch (opcode) {
      case OP.PROTO:
        return this.proto();
      case OP.FRAME:
        this.input.length64(this.opName);
        return;
      case OP.MARK:
        return this.mark();
      case OP.NONE:
        return this.push(null);
      case OP.NEWTRUE:
        return this.push(true);
      case OP.NEWFALSE:
        return this.push(false);
      case OP.BININT1:
        return this.push(this.input.uint8(this.opName));
      case OP.BININT2:
        return this.push(this.input.uint16(this.opName));
      case OP.BININT:
        return this.push(this.input.int32(this.opName));
      case OP.INT:
        return this.push(this.intLine());
      case OP.LONG:
        return this.push(normalizeInt(this.decimal(this.text(this.input.line(this.opName)).replace(/L$/, ''))));
      case OP.LONG1:
        return this.push(this.longBytes(this.input.uint8(this.opName)));
      case OP.LONG4:
        return this.push(this.longBytes(this.nonNegative(this.input.int32(this.opName))));
      case OP.BINUNICODE:
        return this.push(this.text(this.input.take(this.input.uint32(this.opName), this.opName)));
      case OP.SHORT_BINUNICODE:
        return this.push(this.text(this.input.take(this.input.uint8(this.opName), this.opName)));
      case OP.BINUNICODE8:
        return this.push(this.text(this.input.take(this.input.length64(this.opName), this.opName)));
      case OP.UNICODE:
        return this.push(this.rawUnicodeEscape(this.input.line(this.opName)));
      case OP.SHORT_BINSTRING:
        return this.push(this.text(this.input.take(this.input.uint8(this.opName), this.opName)));
      case OP.BINSTRING:
        return this.push(this.text(this.input.take(this.nonNegative(this.input.int32(this.opName)), this.opName)));
      case OP.STRING:
        return this.push(this.text(this.python2StringLiteral(this.input.line(this.opName))));
      case OP.EMPTY_TUPLE:
        return this.push(this.tuple([]));
      case OP.TUPLE1:
        return this.push(this.tuple(this.popMany(1)));
      case OP.TUPLE2:
        return this.push(this.tuple(this.popMany(2)));
      case OP.TUPLE3:
        return this.push(this.tuple(this.popMany(3)));
      case OP.TUPLE:
        return this.push(this.tuple(this.popToMark()));
      case OP.EMPTY_LIST:
        return this.push(this.list([]));
      case OP.LIST:
        return this.push(this.list(this.popToMark()));
      case OP.APPEND:
        return this.append(this.popMany(1));
      case OP.APPENDS:
        return this.append(this.popToMark());
      case OP.EMPTY_DICT:
        return this.push(this.dict([]));
      case OP.DICT:
        return this.push(this.dict(this.popToMark()));
      case OP.SETITEM:
        return this.setItems(this.popMany(2));
      case OP.SETITEMS:
        return this.setItems(this.popToMark());
      case OP.GLOBAL: {
        const module = this.text(this.input.line(this.opName));
        return this.push(this.resolveGlobal(module, this.text(this.input.line(this.opName))));
      }
      case OP.STACK_GLOBAL: {
        const [module, name] = this.popMany(2);
        if (typeof module !== 'string' || typeof name !== 'string') {
          throw this.fail('needs two strs (module and name) on the stack');
        }
        return this.push(this.resolveGlobal(module, name));
      }
      case OP.NEWOBJ: {
        const [cls, args] = this.popMany(2);
        return this.push(this.instantiate(cls, args));
      }
      case OP.NEWOBJ_EX: {
        const [cls, args, kwargs] = this.popMany(3);
        if (!(kwargs instanceof Map) || kwargs.size > 0) throw this.fail('with keyword arguments is not supported');
        return this.push(this.instantiate(cls, args));
      }
      case OP.REDUCE:
        return this.reduce();
      case OP.BUILD:
        return this.build();
      case OP.PUT:
        return this.put(this.memoIndexLine());
      case OP.BINPUT:
        return this.put(this.input.uint8(this.opName));
      case OP.LONG_BINPUT:
        return this.put(this.input.uint32(this.opName));
      case OP.MEMOIZE:
        return this.put(this.memo.size);
      case OP.GET:
        return this.get(this.memoIndexLine());
      case OP.BINGET:
        return this.get(this.input.uint8(this.opName));
      case OP.LONG_BINGET:
        return this.get(this.input.uint32(this.opName));
      default:
        throw this.refuse(opcode);
    }
  }

  private refuse(opcode: number): PickleDecodeError {
    if (FORBIDDEN_OPCODES.has(opcode)) return this.fail('is not allowed: it would run code or consult an outside registry');
    if (UNSUPPORTED_OPCODES.has(opcode)) return this.fail('is not supported: lando messages never contain it');
    return new PickleDecodeError(`unknown pickle opcode ${this.opName} at offset ${this.opOffset}`);
  }

  private fail(problem: string): PickleDecodeError {
    return new PickleDecodeError(`pickle opcode ${this.opName} at offset ${this.opOffset} ${problem}`);
  }

  private stop(): PickleValue {
    if (this.marks.length > 0) throw this.fail(`leaves ${this.marks.length} MARK(s) open`);
    const [result] = this.stack;
    if (this.stack.length !== 1 || result === undefined) {
      throw this.fail(`needs exactly one value on the stack, found ${this.stack.length}`);
    }
    if (this.input.remaining > 0) {
      throw new PickleDecodeError(`pickle has ${this.input.remaining} trailing bytes after STOP at offset ${this.input.offset}`);
    }
    return result;
  }

  private proto(): void {
    const version = this.input.uint8(this.opName);
    if (this.opOffset !== 0) throw this.fail('is only allowed as the first opcode');
    if (version > HIGHEST_PROTOCOL) throw this.fail(`names unsupported protocol ${version}`);
  }

  private mark(): void {
    if (this.marks.length >= MAX_PICKLE_DEPTH) {
      throw this.fail(`opens more than ${MAX_PICKLE_DEPTH} nested MARKs`);
    }
    this.marks.push(this.stack.length);
  }

  private push(value: PickleValue): void {
    if (this.stack.length >= MAX_PICKLE_STACK) throw this.fail(`would hold more than ${MAX_PICKLE_STACK} values on the stack`);
    this.stack.push(value);
  }

  private countContainer(): void {
    if (++this.containersCreated > MAX_PICKLE_CONTAINERS) {
      throw this.fail(`would create more than ${MAX_PICKLE_CONTAINERS} lists, tuples, dicts and instances`);
    }
  }

  private get fence(): number {
    return this.marks.at(-1) ?? 0;
  }

  private popMany(count: number): PickleValue[] {
    if (this.stack.length - count < this.fence) {
      throw this.fail(`needs ${count} value(s) on the stack above the last MARK (stack underflow)`);
    }
    return this.stack.splice(this.stack.length - count, count);
  }

  private popToMark(): PickleValue[] {
    const mark = this.marks.pop();
    if (mark === undefined) throw this.fail('has no matching MARK');
    return this.stack.splice(mark);
  }

  private top(): PickleValue {
    const value = this.stack.length > this.fence ? this.stack[this.stack.length - 1] : undefined;
    if (value === undefined) throw this.fail('needs a value on the stack above the last MARK (stack underflow)');
    return value;
  }

  /** Records that `child` now lives inside `parent`, enforcing the depth limit and acyclicity. */
  private adopt(parent: Container, child: PickleValue): void {
    if (this.nested.has(parent)) {
      throw this.fail(`modifies a ${containerKind(parent)} already nested in another value (recursive data is not supported)`);
    }
    if (child === parent) throw this.fail(`puts a ${containerKind(parent)} inside itself (recursive data is not supported)`);
    if (!isContainer(child)) return;
    const depth = (this.depths.get(child) ?? 1) + 1;
    if (depth > MAX_PICKLE_DEPTH) throw this.fail(`nests containers deeper than ${MAX_PICKLE_DEPTH} levels`);
    this.depths.set(parent, Math.max(this.depths.get(parent) ?? 1, depth));
    this.nested.add(child);
  }

  private tuple(items: PickleValue[]): PickleValue[] {
    const tuple = this.list(items);
    this.tuples.add(tuple);
    return tuple;
  }

  private list(items: PickleValue[]): PickleValue[] {
    this.countContainer();
    const list: PickleValue[] = [];
    this.addToList(list, items);
    return list;
  }

  private addToList(list: PickleValue[], items: PickleValue[]): void {
    for (const item of items) {
      this.adopt(list, item);
      list.push(item);
    }
  }

  private append(items: PickleValue[]): void {
    const list = this.top();
    if (!Array.isArray(list)) throw this.fail(`needs a list below its items, got ${describePickleValue(list)}`);
    if (this.tuples.has(list)) throw this.fail('cannot append to a tuple');
    this.addToList(list, items);
  }

  private dict(items: PickleValue[]): Map<string, PickleValue> {
    this.countContainer();
    const dict = new Map<string, PickleValue>();
    this.addToDict(dict, items);
    return dict;
  }

  private addToDict(dict: Map<string, PickleValue>, items: PickleValue[]): void {
    if (items.length % 2 !== 0) throw this.fail(`needs key/value pairs, got ${items.length} items`);
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i];
      const value = items[i + 1];
      if (typeof key !== 'string') throw this.fail(`has a dict key that is ${describePickleValue(key)}; only str keys are supported`);
      this.adopt(dict, value);
      dict.set(key, value);
    }
  }

  private setItems(items: PickleValue[]): void {
    const dict = this.top();
    if (!(dict instanceof Map)) throw this.fail(`needs a dict below its items, got ${describePickleValue(dict)}`);
    this.addToDict(dict, items);
  }

  private resolveGlobal(module: string, name: string): PickleGlobal {
    const fullName = `${PYTHON2_MODULES.get(module) ?? module}.${name}`;
    const allowed = this.isAllowedClass(module, name) || fullName === RECONSTRUCTOR || fullName === OBJECT_BASE;
    if (!allowed) {
      throw new PickleDecodeError(
        `pickle refers to forbidden global ${quoteForReason(`${module}.${name}`)} at offset ${this.opOffset}`,
      );
    }
    return { kind: 'global', name: fullName };
  }

  /** Compares module and name separately, so `a.b` + `C` and `a` + `b.C` stay different. */
  private isAllowedClass(module: string, name: string): boolean {
    if (name.includes('.')) return false;
    return this.allowedClasses.has(`${module}.${name}`);
  }

  private instantiate(cls: PickleValue | undefined, args: PickleValue | undefined): PickleObject {
    if (!isPickleGlobal(cls) || !this.allowedClasses.has(cls.name)) {
      throw this.fail(`needs an allowlisted class, got ${cls === undefined ? 'nothing' : describePickleValue(cls)}`);
    }
    if (!Array.isArray(args) || !this.tuples.has(args) || args.length > 0) {
      throw this.fail('needs an empty argument tuple: constructors with arguments are not supported');
    }
    this.countContainer();
    return { kind: 'object', className: cls.name, state: new Map() };
  }

  /** REDUCE calls anything; the only call accepted is protocol 0/1's instance creation. */
  private reduce(): void {
    const [callable, args] = this.popMany(2);
    if (!isPickleGlobal(callable) || callable.name !== RECONSTRUCTOR) {
      throw this.fail(`is not allowed: it would call ${callable === undefined ? 'nothing' : describePickleValue(callable)}`);
    }
    const [cls, base, state] = Array.isArray(args) && args.length === 3 ? args : [];
    if (!isPickleGlobal(base) || base.name !== OBJECT_BASE || state !== null) {
      throw this.fail(`accepts only ${RECONSTRUCTOR}(class, object, None)`);
    }
    this.push(this.instantiate(cls, this.tuple([])));
  }

  private build(): void {
    const [state] = this.popMany(1);
    const instance = this.top();
    if (!isPickleObject(instance)) throw this.fail(`needs an instance below its state, got ${describePickleValue(instance)}`);
    if (state === null) return;
    if (!(state instanceof Map)) throw this.fail(`needs a dict as state, got ${describePickleValue(state)}`);
    for (const [key, value] of state) {
      this.adopt(instance, value);
      instance.state.set(key, value);
    }
  }

  private put(index: number): void {
    this.memo.set(index, this.top());
  }

  private get(index: number): void {
    const value = this.memo.get(index);
    if (value === undefined) throw this.fail(`reads memo entry ${index}, which was never stored`);
    this.push(value);
  }

  private nonNegative(length: number): number {
    if (length < 0) throw this.fail(`has a negative length ${length}`);
    return length;
  }

  private text(bytes: Uint8Array): string {
    try {
      return UTF8.decode(bytes);
    } catch {
      throw this.fail('has text that is not valid UTF-8');
    }
  }

  /** INT's decimal line, where Python 2 wrote booleans as `00` and `01`. */
  private intLine(): boolean | number | bigint {
    const line = this.text(this.input.line(this.opName));
    if (line === '00' || line === '01') return line === '01';
    return normalizeInt(this.decimal(line));
  }

  private memoIndexLine(): number {
    const index = this.decimal(this.text(this.input.line(this.opName)));
    if (index < 0n || index > 0xffffffffn) throw this.fail(`has memo index ${index} out of range`);
    return Number(index);
  }

  private decimal(text: string): bigint {
    if (!/^[+-]?[0-9]+$/.test(text) || text.length > MAX_INT_DIGITS) {
      throw this.fail(`has a malformed or oversized integer ${quoteForReason(text)}`);
    }
    return BigInt(text);
  }

  /** LONG1/LONG4: little-endian two's complement, empty meaning 0. */
  private longBytes(length: number): number | bigint {
    if (length > MAX_INT_BYTES) throw this.fail(`has an integer of ${length} bytes, more than ${MAX_INT_BYTES}`);
    const bytes = this.input.take(length, this.opName);
    let value = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] ?? 0);
    const lastByte = bytes[bytes.length - 1];
    if (lastByte !== undefined && lastByte >= 0x80) value -= 1n << BigInt(8 * bytes.length);
    return normalizeInt(value);
  }

  /** UNICODE's argument: Latin-1 bytes with `\uXXXX`/`\UXXXXXXXX` escapes after an odd run of backslashes. */
  private rawUnicodeEscape(bytes: Uint8Array): string {
    const escapes = /(\\+)(u[0-9A-Fa-f]{0,4}|U[0-9A-Fa-f]{0,8})?/g;
    return latin1(bytes).replace(escapes, (run: string, slashes: string, escape?: string) => {
      if (escape === undefined || slashes.length % 2 === 0) return run;
      if (escape.length !== (escape.startsWith('u') ? 5 : 9)) throw this.fail(`has a truncated \\${escape} escape`);
      const codePoint = Number.parseInt(escape.slice(1), 16);
      if (codePoint > 0x10ffff) throw this.fail(`has escape \\${escape} beyond Unicode`);
      return slashes.slice(1) + String.fromCodePoint(codePoint);
    });
  }

  /** STRING's argument: a quoted Python 2 `repr`, unescaped as `codecs.escape_decode` does. */
  private python2StringLiteral(line: Uint8Array): Uint8Array {
    const quote = line[0];
    if (line.length < 2 || (quote !== 0x22 && quote !== 0x27) || line[line.length - 1] !== quote) {
      throw this.fail('needs a quoted argument');
    }
    return this.escapeDecode(line.subarray(1, line.length - 1));
  }

  private escapeDecode(bytes: Uint8Array): Uint8Array {
    const out: number[] = [];
    for (let i = 0; i < bytes.length; ) {
      const byte = bytes[i++] ?? 0;
      if (byte !== 0x5c) {
        out.push(byte);
        continue;
      }
      const escape = bytes[i++];
      if (escape === undefined) throw this.fail('ends its argument with a lone backslash');
      const simple = SIMPLE_ESCAPES.get(escape);
      if (simple !== undefined) {
        if (simple >= 0) out.push(simple);
      } else if (isOctalDigit(escape)) {
        let value = escape - 0x30;
        for (let digits = 1; digits < 3 && isOctalDigit(bytes[i]); digits++) value = value * 8 + (bytes[i++] ?? 0) - 0x30;
        out.push(value & 0xff);
      } else if (escape === 0x78) {
        const hex = latin1(bytes.subarray(i, i + 2));
        if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw this.fail('has an invalid \\x escape');
        out.push(Number.parseInt(hex, 16));
        i += 2;
      } else {
        out.push(0x5c, escape);
      }
    }
    return Uint8Array.from(out);
  }
}

/** `codecs.escape_decode`'s one-character escapes; -1 marks backslash-newline, which vanishes. */
const SIMPLE_ESCAPES: ReadonlyMap<number, number> = new Map([
  [0x0a, -1],
  [0x5c, 0x5c],
  [0x27, 0x27],
  [0x22, 0x22],
  [0x61, 0x07],
  [0x62, 0x08],
  [0x66, 0x0c],
  [0x6e, 0x0a],
  [0x72, 0x0d],
  [0x74, 0x09],
  [0x76, 0x0b],
]);

function isOctalDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x30 && byte <= 0x37;
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function normalizeInt(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** CPython's pickler batch size for list items and dict entries. */
const BATCH_SIZE = 1000;

/** Room a Pickler starts with: a step outcome's WorkRequest is about 300 bytes. */
const INITIAL_PICKLE_BYTES = 512;

/** Writes into one growing buffer: a chunk per opcode made the encoding mostly allocation. */
class Pickler {
  private buffer = Buffer.allocUnsafe(INITIAL_PICKLE_BYTES);
  private length = 0;
  private memoSize = 0;
  private readonly globalsWritten = new Map<string, number>();

  dump(value: PickleValue): Buffer {
    this.bytes(OP.PROTO, 2);
    this.save(value);
    this.bytes(OP.STOP);
    // A copy of the exact size: the working buffer may be twice as large.
    return Buffer.from(this.buffer.subarray(0, this.length));
  }

  private save(value: PickleValue): void {
    if (value === null) return this.bytes(OP.NONE);
    if (typeof value === 'boolean') return this.bytes(value ? OP.NEWTRUE : OP.NEWFALSE);
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) throw new PermanentError(`pickle encoder supports only integers, got ${value}`);
      return this.saveInt(BigInt(value));
    }
    if (typeof value === 'bigint') return this.saveInt(value);
    if (typeof value === 'string') return this.saveString(value);
    if (Array.isArray(value)) return this.saveList(value);
    if (value instanceof Map) return this.saveDict(value);
    if (value.kind === 'global') return this.saveGlobal(value.name);
    this.saveGlobal(value.className);
    this.bytes(OP.EMPTY_TUPLE, OP.NEWOBJ);
    this.memoize();
    // Python 3.11's object.__getstate__ returns None for an empty __dict__, and then no BUILD is written.
    if (value.state.size > 0) {
      this.saveDict(value.state);
      this.bytes(OP.BUILD);
    }
  }

  private saveInt(value: bigint): void {
    if (value >= 0n && value <= 0xffn) return this.bytes(OP.BININT1, Number(value));
    if (value >= 0n && value <= 0xffffn) return this.bytes(OP.BININT2, Number(value & 0xffn), Number(value >> 8n));
    if (value >= -0x80000000n && value <= 0x7fffffffn) {
      this.reserve(5);
      this.buffer[this.length] = OP.BININT;
      this.length = this.buffer.writeInt32LE(Number(value), this.length + 1);
      return;
    }
    const encoded = twosComplement(value);
    if (encoded.length < 256) this.bytes(OP.LONG1, encoded.length);
    else this.bytesWithUint32(OP.LONG4, encoded.length);
    this.reserve(encoded.length);
    this.buffer.set(encoded, this.length);
    this.length += encoded.length;
  }

  private saveString(value: string): void {
    const size = Buffer.byteLength(value, 'utf8');
    this.bytesWithUint32(OP.BINUNICODE, size);
    this.reserve(size);
    this.length += this.buffer.write(value, this.length, size, 'utf8');
    this.memoize();
  }

  /** CPython's `batch_list_exact`: one item is APPENDed, more go in MARK…APPENDS batches. */
  private saveList(items: readonly PickleValue[]): void {
    this.bytes(OP.EMPTY_LIST);
    this.memoize();
    const [only] = items;
    if (items.length === 1 && only !== undefined) {
      this.save(only);
      return this.bytes(OP.APPEND);
    }
    for (let start = 0; start < items.length; start += BATCH_SIZE) {
      this.bytes(OP.MARK);
      for (const item of items.slice(start, start + BATCH_SIZE)) this.save(item);
      this.bytes(OP.APPENDS);
    }
  }

  /**
   * CPython's `batch_dict_exact`: one entry is a SETITEM, more go in MARK…SETITEMS batches,
   * and a full batch is always followed by another, even an empty one.
   */
  private saveDict(dict: ReadonlyMap<string, PickleValue>): void {
    this.bytes(OP.EMPTY_DICT);
    this.memoize();
    const entries = [...dict];
    if (entries.length === 0) return;
    if (entries.length === 1) {
      this.saveEntries(entries);
      return this.bytes(OP.SETITEM);
    }
    let batch: [string, PickleValue][];
    let start = 0;
    do {
      batch = entries.slice(start, start + BATCH_SIZE);
      start += BATCH_SIZE;
      this.bytes(OP.MARK);
      this.saveEntries(batch);
      this.bytes(OP.SETITEMS);
    } while (batch.length === BATCH_SIZE);
  }

  private saveEntries(entries: readonly [string, PickleValue][]): void {
    for (const [key, value] of entries) {
      this.saveString(key);
      this.save(value);
    }
  }

  private saveGlobal(fullName: string): void {
    const memoIndex = this.globalsWritten.get(fullName);
    if (memoIndex !== undefined) {
      if (memoIndex < 256) return this.bytes(OP.BINGET, memoIndex);
      return this.bytesWithUint32(OP.LONG_BINGET, memoIndex);
    }
    const split = fullName.lastIndexOf('.');
    if (split <= 0) throw new PermanentError(`pickle encoder needs a module-qualified class name, got ${fullName}`);
    this.bytes(OP.GLOBAL);
    const line = `${fullName.slice(0, split)}\n${fullName.slice(split + 1)}\n`;
    const size = Buffer.byteLength(line, 'utf8');
    this.reserve(size);
    this.length += this.buffer.write(line, this.length, size, 'utf8');
    this.globalsWritten.set(fullName, this.memoize());
  }

  private memoize(): number {
    const index = this.memoSize++;
    if (index < 256) this.bytes(OP.BINPUT, index);
    else this.bytesWithUint32(OP.LONG_BINPUT, index);
    return index;
  }

  private bytesWithUint32(opcode: number, operand: number): void {
    this.reserve(5);
    this.buffer[this.length] = opcode;
    this.length = this.buffer.writeUInt32LE(operand, this.length + 1);
  }

  private bytes(...values: number[]): void {
    this.reserve(values.length);
    for (const value of values) this.buffer[this.length++] = value;
  }

  /** Makes room for `size` more bytes. */
  private reserve(size: number): void {
    if (this.length + size <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + size));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}

/** Python's `pickle.encode_long`: the shortest little-endian two's complement holding `value`. */
function twosComplement(value: bigint): Uint8Array {
  const bytes: number[] = [];
  let rest = value;
  for (;;) {
    const byte = Number(rest & 0xffn);
    bytes.push(byte);
    rest >>= 8n;
    const signBitMatches = (byte & 0x80) === 0 ? rest === 0n : rest === -1n;
    if (signBitMatches) return Uint8Array.from(bytes);
  }
}
