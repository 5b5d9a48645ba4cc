/**
 * A Kubernetes list body read one item at a time, as it arrives. JSON.parse of a whole page
 * builds all of its objects at once (a page of 500 Jobs is some 8 MB of objects), and reading
 * the answer into one buffer first (as client-node does) adds the page twice more. Such
 * garbage lives long enough to be moved to the old generation, and stays until a full
 * collection: a watcher listing 10,000 Jobs peaked 10 MB higher, and in some runs 50 MB.
 * Here the body's top-level object is walked just far enough to find each value's bounds, and
 * each item is parsed on its own and handed to `read` as soon as its last byte came, so only
 * what `read` makes of the items outlives the chunk they came in. Every byte still goes
 * through JSON.parse, so what is accepted is what JSON.parse accepts, and of repeated keys the
 * last counts, as with JSON.parse.
 */

/** A list as the callers keep it: the items as `read` made them, and the list's metadata. */
export interface ApiList<T> {
  readonly items: readonly T[];
  readonly metadata?: { readonly resourceVersion?: string; readonly continue?: string };
}

/** Thrown for a body that is not a JSON object with an `items` array. */
export class ListBodyError extends Error {
  override readonly name = 'ListBodyError';
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** Where the walk through `{"key": value, "items": [item, …], …}` stands. */
type State = 'start' | 'first key' | 'key' | 'colon' | 'value' | 'after value' | 'first item' | 'item' | 'after item' | 'done';

/** Reads a whole body at once: the same as pushing it in one chunk. */
export function readList<T>(body: Buffer, read: (item: unknown) => T): ApiList<T> {
  const reader = new ListReader(read);
  reader.push(body);
  return reader.end();
}

/** Takes a body chunk by chunk (`push`), then gives the list (`end`). */
export class ListReader<T> {
  /** The bytes not yet consumed: at most the value being read and the newest chunk. */
  private buffer: Buffer = Buffer.alloc(0);
  private position = 0;
  private state: State = 'start';
  private key = '';
  // Without a prototype, a `__proto__` key is a key like any other, as in what JSON.parse makes.
  private readonly fields = Object.create(null) as Record<string, unknown>;
  private items: T[] | undefined;
  private filling: T[] = [];

  constructor(private readonly read: (item: unknown) => T) {}

  push(chunk: Buffer): void {
    this.buffer = this.position < this.buffer.length ? Buffer.concat([this.buffer.subarray(this.position), chunk]) : chunk;
    this.position = 0;
    this.advance();
  }

  end(): ApiList<T> {
    this.skipWhitespace();
    if (this.state !== 'done') this.fail(this.position < this.buffer.length ? 'a complete value' : 'the rest of the JSON object');
    if (this.items === undefined) throw new ListBodyError('the answer has no items array');
    return { ...(this.fields as Omit<ApiList<T>, 'items'>), items: this.items };
  }

  /** Consumes whatever complete tokens and values the buffer holds. */
  private advance(): void {
    for (;;) {
      this.skipWhitespace();
      const byte = this.buffer[this.position];
      if (byte === undefined) return;
      switch (this.state) {
        case 'start':
          this.consume(OPEN_BRACE, 'a JSON object');
          this.state = 'first key';
          break;
        case 'first key':
          if (byte === CLOSE_BRACE) {
            this.position += 1;
            this.state = 'done';
            break;
          }
          this.state = 'key';
          break;
        case 'key': {
          const end = this.stringEnd();
          if (end < 0) return;
          this.key = this.parse(end) as string;
          this.state = 'colon';
          break;
        }
        case 'colon':
          this.consume(COLON, "':' after a key");
          this.state = 'value';
          break;
        case 'value': {
          if (this.key === 'items' && byte === OPEN_BRACKET) {
            this.position += 1;
            this.filling = [];
            this.state = 'first item';
            break;
          }
          const end = this.valueEnd();
          if (end < 0) return;
          this.fields[this.key] = this.parse(end);
          if (this.key === 'items') this.items = undefined;
          this.state = 'after value';
          break;
        }
        case 'after value':
          if (byte === CLOSE_BRACE) this.state = 'done';
          else if (byte === COMMA) this.state = 'key';
          else this.fail("',' or '}' after a value");
          this.position += 1;
          break;
        case 'first item':
          if (byte === CLOSE_BRACKET) {
            this.position += 1;
            this.items = this.filling;
            this.state = 'after value';
            break;
          }
          this.state = 'item';
          break;
        case 'item': {
          const end = this.valueEnd();
          if (end < 0) return;
          this.filling.push(this.read(this.parse(end)));
          this.state = 'after item';
          break;
        }
        case 'after item':
          if (byte === CLOSE_BRACKET) {
            this.items = this.filling;
            this.state = 'after value';
          } else if (byte === COMMA) {
            this.state = 'item';
          } else {
            this.fail("',' or ']' after an item");
          }
          this.position += 1;
          break;
        case 'done':
          this.fail('nothing after the JSON object');
      }
    }
  }

  /** JSON.parse of the bytes from here to `end`, which then become consumed. */
  private parse(end: number): unknown {
    const value = JSON.parse(this.buffer.toString('utf8', this.position, end)) as unknown;
    this.position = end;
    return value;
  }

  /**
   * Where the value that starts here ends, or -1 if the buffer holds only its beginning. Its
   * text is checked by JSON.parse afterwards, not here; within the top-level object a value is
   * always followed by a delimiter, so a number at the end of the buffer is not complete yet.
   */
  private valueEnd(): number {
    const first = this.buffer[this.position];
    if (first === QUOTE) return this.stringEnd();
    let index = this.position;
    if (first === OPEN_BRACE || first === OPEN_BRACKET) {
      let depth = 0;
      while (index < this.buffer.length) {
        const byte = this.buffer[index]!;
        if (byte === QUOTE) {
          index = this.stringEndFrom(index);
          if (index < 0) return -1;
          continue;
        }
        if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth += 1;
        else if ((byte === CLOSE_BRACE || byte === CLOSE_BRACKET) && --depth === 0) return index + 1;
        index += 1;
      }
      return -1;
    }
    while (index < this.buffer.length && !isDelimiter(this.buffer[index]!)) index += 1;
    if (index === this.position) this.fail('a value');
    return index < this.buffer.length ? index : -1;
  }

  private stringEnd(): number {
    if (this.buffer[this.position] !== QUOTE) this.fail('a string');
    return this.stringEndFrom(this.position);
  }

  /** Past the string whose opening quote is at `start`, or -1. Bytes of multi-byte UTF-8 characters are never quotes or backslashes. */
  private stringEndFrom(start: number): number {
    let from = start + 1;
    for (;;) {
      const quote = this.buffer.indexOf(QUOTE, from);
      if (quote < 0) return -1;
      let backslashes = 0;
      while (this.buffer[quote - 1 - backslashes] === BACKSLASH) backslashes += 1;
      from = quote + 1;
      if (backslashes % 2 === 0) return from;
    }
  }

  private skipWhitespace(): void {
    while (this.position < this.buffer.length && isWhitespace(this.buffer[this.position]!)) this.position += 1;
  }

  private consume(byte: number, what: string): void {
    if (this.buffer[this.position] !== byte) this.fail(what);
    this.position += 1;
  }

  private fail(expected: string): never {
    throw new ListBodyError(`the answer is not a JSON list: expected ${expected}`);
  }
}

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function isDelimiter(byte: number): boolean {
  return byte === COMMA || byte === CLOSE_BRACE || byte === CLOSE_BRACKET || isWhitespace(byte);
}
