import { createHash } from 'node:crypto';

/** Short enough to be a valid label value too, so operators can select on it if they copy it into one. */
const MAX_LEASE_NAME = 63;
const HASH_LENGTH = 8;
const LEASE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * A Lease name made of the given `parts` joined by '-' (undefined ones left out, e.g. no
 * installation label): the joined text itself when it is a valid name (`lando-job-42`),
 * otherwise a cleaned, shortened form plus a hash of the text, so ids that clean alike still
 * get distinct leases and every replica derives the same name.
 */
export function leaseName(...parts: readonly (string | undefined)[]): string {
  const text = parts.filter((part) => part !== undefined).join('-');
  if (text.length <= MAX_LEASE_NAME && LEASE_NAME.test(text)) return text;
  const hash = createHash('sha256').update(text, 'utf8').digest('hex').slice(0, HASH_LENGTH);
  // NFKD splits accented letters into a base letter and combining marks; the letter is kept.
  const cleaned = trimDashes(text.normalize('NFKD').replace(/\p{M}+/gu, '').toLowerCase().replace(/[^a-z0-9]+/g, '-'));
  const room = MAX_LEASE_NAME - `-${hash}`.length;
  const kept = trimDashes(cleaned.slice(0, room));
  return kept === '' ? hash : `${kept}-${hash}`;
}

function trimDashes(text: string): string {
  return text.replace(/^-+|-+$/g, '');
}
