/**
 * The end of a pod log within a byte budget (W19): the error a failed step reports is at the
 * end of its log, and messages and bespin records must stay bounded. Shared by every Cluster
 * adapter so they cut logs the same way.
 */
import { PermanentError } from '../domain/errors.js';

/** A UTF-8 character has at most three continuation bytes (10xxxxxx). */
const MAX_CONTINUATION_BYTES = 3;

/** Throws PermanentError unless `maxBytes` can be a byte count. */
export function checkMaxBytes(maxBytes: number): void {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new PermanentError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
  }
}

/** The last `maxBytes` bytes, moved forward past a character the cut would split. */
function lastUtf8Bytes(bytes: Uint8Array, maxBytes: number): Uint8Array {
  if (bytes.length <= maxBytes) return bytes;
  let start = bytes.length - maxBytes;
  for (let skipped = 0; skipped < MAX_CONTINUATION_BYTES && start < bytes.length && (bytes[start] & 0xc0) === 0x80; skipped++) {
    start += 1;
  }
  return bytes.subarray(start);
}

/**
 * The longest tail of the log that fits in `maxBytes` UTF-8 bytes, as text. Bytes that are not
 * UTF-8 become U+FFFD instead of failing (W17); a byte order mark is kept as log content.
 */
export function utf8Tail(log: string | Uint8Array, maxBytes: number): string {
  checkMaxBytes(maxBytes);
  const bytes = typeof log === 'string' ? Buffer.from(log, 'utf8') : log;
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(lastUtf8Bytes(bytes, maxBytes));
}
