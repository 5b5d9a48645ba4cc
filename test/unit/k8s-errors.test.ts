import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import { apiFailure, toDomainError, watchErrorFailure } from '../../src/adapters/k8s/k8s-errors.js';
import {
  AlreadyExistsError,
  ConflictError,
  DomainError,
  NotFoundError,
  PermanentError,
  TransientError,
} from '../../src/domain/errors.js';

const OPERATION = 'create Job stage-data-42-jdoe12';

/** An ApiException as client-node builds it for a status its spec does not list: the body as text. */
function apiException(code: number, status?: Record<string, unknown>): ApiException<unknown> {
  return new ApiException(code, 'Unknown API Status Code!', status === undefined ? undefined : JSON.stringify(status), { 'content-type': 'application/json' });
}

function statusBody(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** node-fetch's error for a request that got no response. */
function networkError(code: string): Error {
  return Object.assign(new Error(`request to https://api.example:6443/apis/batch/v1/namespaces/ns/jobs failed, reason: ${code}`), { name: 'FetchError', type: 'system', code });
}

describe('k8s-errors', () => {
  describe('toDomainError', () => {
    const invalid = 'Job.batch "stage-data-42-jdoe12" is invalid: spec.template.spec.containers[0].image: Required value';

    const cases: readonly [string, unknown, new (message: string) => DomainError, string][] = [
      ['422 Invalid', apiException(422, statusBody(422, 'Invalid', invalid)), PermanentError, `${OPERATION}: 422 Invalid: ${invalid}`],
      ['400 BadRequest', apiException(400, statusBody(400, 'BadRequest', 'the body is not JSON')), PermanentError, `${OPERATION}: 400 BadRequest: the body is not JSON`],
      ['401 without a body', new ApiException(401, 'Unauthorized', undefined, {}), PermanentError, `${OPERATION}: 401 Unauthorized`],
      ['403 Forbidden', apiException(403, statusBody(403, 'Forbidden', 'jobs.batch is forbidden: User "x" cannot create')), PermanentError, `${OPERATION}: 403 Forbidden: jobs.batch is forbidden: User "x" cannot create`],
      ['404 NotFound', apiException(404, statusBody(404, 'NotFound', 'jobs.batch "x" not found')), NotFoundError, `${OPERATION}: 404 NotFound: jobs.batch "x" not found`],
      ['409 AlreadyExists', apiException(409, statusBody(409, 'AlreadyExists', 'jobs.batch "x" already exists')), AlreadyExistsError, `${OPERATION}: 409 AlreadyExists: jobs.batch "x" already exists`],
      ['409 Conflict', apiException(409, statusBody(409, 'Conflict', 'the object has been modified')), ConflictError, `${OPERATION}: 409 Conflict: the object has been modified`],
      ['410 Expired', apiException(410, statusBody(410, 'Expired', 'too old resource version: 1 (5)')), TransientError, `${OPERATION}: 410 Expired: too old resource version: 1 (5)`],
      ['429 TooManyRequests', apiException(429, statusBody(429, 'TooManyRequests', 'slow down')), TransientError, `${OPERATION}: 429 TooManyRequests: slow down`],
      ['503 without a Status', new ApiException(503, 'Unknown API Status Code!', 'upstream connect error', {}), TransientError, `${OPERATION}: 503 ServiceUnavailable: upstream connect error`],
      ['500 InternalError', apiException(500, statusBody(500, 'InternalError', 'etcdserver: request timed out')), TransientError, `${OPERATION}: 500 InternalError: etcdserver: request timed out`],
      ['a refused connection', networkError('ECONNREFUSED'), TransientError, `${OPERATION}: ECONNREFUSED: ${networkError('ECONNREFUSED').message}`],
      ['an untrusted certificate', networkError('DEPTH_ZERO_SELF_SIGNED_CERT'), PermanentError, `${OPERATION}: DEPTH_ZERO_SELF_SIGNED_CERT: ${networkError('DEPTH_ZERO_SELF_SIGNED_CERT').message}`],
      ['an aborted request', Object.assign(new Error('The user aborted a request.'), { name: 'AbortError' }), TransientError, `${OPERATION}: Aborted: the request was aborted`],
      ['a watch HTTP error', Object.assign(new Error('Service Unavailable'), { statusCode: 503 }), TransientError, `${OPERATION}: 503 ServiceUnavailable: Service Unavailable`],
    ];
    for (const [what, error, type, message] of cases) {
      it(`maps ${what} to ${type.name}`, () => {
        const mapped = toDomainError(OPERATION, error);
        assert.ok(mapped instanceof type, `${mapped.name}: ${mapped.message}`);
        assert.equal(mapped.message, message);
      });
    }

    it('maps a create refused while the old object is still being deleted to AlreadyExistsError (the adapter then reads the object)', () => {
      const terminating = apiException(409, statusBody(409, 'AlreadyExists', 'object is being deleted: persistentvolumeclaims "job-data-42-jdoe12" already exists'));
      assert.ok(toDomainError(OPERATION, terminating) instanceof AlreadyExistsError);
    });

    it('passes domain errors through unchanged', () => {
      const original = new TransientError('no response within 10 ms');
      assert.equal(toDomainError(OPERATION, original), original);
    });

    it('never echoes the ApiException text with its headers', () => {
      const error = new ApiException(422, 'Unknown API Status Code!', JSON.stringify(statusBody(422, 'Invalid', 'bad')), { 'x-secret-header': 'leak' });
      assert.doesNotMatch(toDomainError(OPERATION, error).message, /leak|HTTP-Code|Headers/);
    });

    it('describes something that is not an Error', () => {
      const mapped = toDomainError(OPERATION, 'socket hang up');
      assert.ok(mapped instanceof TransientError);
      assert.equal(mapped.message, `${OPERATION}: socket hang up`);
    });
  });

  describe('status of watch failures', () => {
    it('reads the HTTP status of a watch request refused with 410', () => {
      assert.equal(apiFailure(Object.assign(new Error('Gone'), { statusCode: 410 })).status, 410);
      assert.equal(apiFailure(networkError('ECONNRESET')).status, undefined);
    });

    it('reads the Status object of an ERROR event', () => {
      const failure = watchErrorFailure(statusBody(410, 'Expired', 'too old resource version: 3 (9)'));
      assert.deepEqual(failure, { status: 410, reason: 'Expired', message: 'too old resource version: 3 (9)' });
    });

    it('describes an ERROR event whose object is not a Status', () => {
      assert.deepEqual(watchErrorFailure({ unexpected: true }), { status: undefined, reason: undefined, message: '{"unexpected":true}' });
    });

    it('reads an ApiException whose body was already parsed', () => {
      const error = new ApiException(409, 'Conflict', statusBody(409, 'AlreadyExists', 'exists'), {});
      assert.deepEqual(apiFailure(error), { status: 409, reason: 'AlreadyExists', message: 'exists' });
    });
  });
});
