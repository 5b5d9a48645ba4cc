import { aggregateText, errorBody, type FieldError } from './field-errors.js';

/**
 * metav1.Status bodies exactly as apimachinery's `errors.New*` helpers build them (same
 * messages, reasons, details and key order), and the error that carries one to the HTTP layer.
 */
export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
}

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code?: number;
}

/** What the helpers need to name a resource: `jobs.batch`, `Job.batch`. */
export interface ResourceIdentity {
  readonly group: string;
  readonly plural: string;
  readonly kind: string;
}

export const qualifiedResource = (type: ResourceIdentity): string => (type.group ? `${type.plural}.${type.group}` : type.plural);
export const qualifiedKind = (type: ResourceIdentity): string => (type.group ? `${type.kind}.${type.group}` : type.kind);

export class ApiError extends Error {
  constructor(readonly status: StatusBody) {
    super(status.message ?? status.reason ?? 'API error');
    this.name = 'ApiError';
  }

  get code(): number {
    return this.status.code ?? 500;
  }
}

function failure(code: number, reason: string, message: string, details?: StatusDetails): ApiError {
  const status: StatusBody = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason };
  if (details) status.details = details;
  status.code = code;
  return new ApiError(status);
}

function resourceDetails(type: ResourceIdentity, name: string): StatusDetails {
  return type.group ? { name, group: type.group, kind: type.plural } : { name, kind: type.plural };
}

export function notFoundError(type: ResourceIdentity, name: string): ApiError {
  return failure(404, 'NotFound', `${qualifiedResource(type)} ${JSON.stringify(name)} not found`, resourceDetails(type, name));
}

export function alreadyExistsError(type: ResourceIdentity, name: string): ApiError {
  return failure(409, 'AlreadyExists', `${qualifiedResource(type)} ${JSON.stringify(name)} already exists`, resourceDetails(type, name));
}

export function conflictError(type: ResourceIdentity, name: string, why: string): ApiError {
  return failure(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(type)} ${JSON.stringify(name)}: ${why}`, resourceDetails(type, name));
}

export const STALE_OBJECT = 'the object has been modified; please apply your changes to the latest version and try again';

export function invalidError(type: ResourceIdentity, name: string, errors: readonly FieldError[]): ApiError {
  const causes = errors.map((error) => ({ reason: error.type, message: errorBody(error), field: error.field }));
  const details: StatusDetails = type.group ? { name, group: type.group, kind: type.kind, causes } : { name, kind: type.kind, causes };
  return failure(422, 'Invalid', `${qualifiedKind(type)} ${JSON.stringify(name)} is invalid: ${aggregateText(errors)}`, details);
}

/** A patch that cannot be applied to the object (failed `test`, missing path, ...). */
export function unprocessablePatchError(message: string): ApiError {
  return failure(422, 'Invalid', message);
}

export function badRequestError(message: string): ApiError {
  return failure(400, 'BadRequest', message);
}

/** 410 for a watch or continue token older than the retained history (`errors.NewResourceExpired`). */
export function expiredError(message: string): ApiError {
  return failure(410, 'Expired', message);
}

export function internalError(message: string): ApiError {
  return failure(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ reason: '', message }] });
}

/** A watch or list resourceVersion that is not a number (e.g. the Python client's literal `None`). */
export function unparsableResourceVersionError(value: string): ApiError {
  return failure(500, 'InternalError', `resourceVersion: Invalid value: ${JSON.stringify(value)}: strconv.ParseUint: parsing ${JSON.stringify(value)}: invalid syntax`);
}

export function unauthorizedError(): ApiError {
  return failure(401, 'Unauthorized', 'Unauthorized');
}

export function forbiddenError(type: ResourceIdentity, name: string, why: string): ApiError {
  const subject = name ? `${qualifiedResource(type)} ${JSON.stringify(name)}` : qualifiedResource(type);
  return failure(403, 'Forbidden', `${subject} is forbidden: ${why}`, resourceDetails(type, name));
}

export function methodNotAllowedError(): ApiError {
  return failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
}

export function unsupportedMediaTypeError(contentType: string, accepted: readonly string[]): ApiError {
  return failure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`, {
    causes: [{ reason: 'UnexpectedServerResponse', message: `unsupported media type ${JSON.stringify(contentType)}` }],
  });
}

export function pathNotFoundError(): ApiError {
  return failure(404, 'NotFound', 'the server could not find the requested resource', {
    causes: [{ reason: 'UnexpectedServerResponse', message: '404 page not found' }],
  });
}

/** An error with any code, for injected faults (e.g. 500/503/429 to exercise client retries). */
export function injectedError(code: number, reason: string, message: string): ApiError {
  return failure(code, reason, message);
}

/** Status returned by a delete that removed the object at once, for kinds that do not return it. */
export function deletedStatus(type: ResourceIdentity, name: string, uid: string | undefined): StatusBody {
  const details = resourceDetails(type, name);
  if (uid) details.uid = uid;
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details };
}
