/**
 * The small set of failures every port speaks. Adapters map their SDK's errors onto these so
 * the domain can decide between "retry later" (Transient) and "this cannot work" (the rest)
 * without knowing which service failed.
 */
export abstract class DomainError extends Error {
  abstract readonly retryable: boolean;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The object or record does not exist. */
export class NotFoundError extends DomainError {
  readonly retryable = false;
}

/** An object with that name exists and is not ours to adopt. */
export class AlreadyExistsError extends DomainError {
  readonly retryable = false;
}

/** A concurrent change (optimistic-lock conflict, lease held elsewhere). */
export class ConflictError extends DomainError {
  readonly retryable = true;
}

/** The service was unreachable, slow, overloaded or restarting: the same call may work later. */
export class TransientError extends DomainError {
  readonly retryable = true;
}

/** The request was refused for a reason retrying cannot mend (validation, permissions, bad data). */
export class PermanentError extends DomainError {
  readonly retryable = false;
}

/** A bespin job record that lacks something lando needs to run it. */
export class InvalidJobError extends PermanentError {}

export function isRetryable(error: unknown): boolean {
  return error instanceof DomainError && error.retryable;
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
