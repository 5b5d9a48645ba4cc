import axios, { type AxiosError, type AxiosInstance } from 'axios';
import axiosRetry, { retryAfter } from 'axios-retry';
import { inject, injectable } from 'inversify';
import { PermanentError, TransientError, type DomainError } from '../../domain/errors.js';
import type { Logger } from '../../ports/logger.js';
import { BespinRequestApi, bespinReplyError, isTransientStatus, type BespinRequest } from './bespin-requests.js';

export interface BespinHttpApiOptions {
  /** bespin-api's v2 root, e.g. `https://bespin.example.org/api/v2` (a trailing `/` is ignored). */
  readonly baseUrl: string;
  readonly token: string;
  /** Per attempt: a request without an answer after this long is abandoned (and may be retried). */
  readonly timeoutMs?: number;
  /** Further attempts after the first for transient failures. */
  readonly retries?: number;
  /** Delay before the first retry; each further retry doubles it, with jitter. */
  readonly retryBaseDelayMs?: number;
  /** Upper bound of one retry delay; a `Retry-After` asking for longer ends the retries. */
  readonly maxRetryDelayMs?: number;
  readonly logger?: Logger;
}

export const BESPIN_HTTP_API_OPTIONS = Symbol.for('lando-k8s.BespinHttpApiOptions');

const DEFAULTS = { timeoutMs: 30_000, retries: 4, retryBaseDelayMs: 500, maxRetryDelayMs: 30_000 } as const;

/** Network failures that say nothing about the request itself: the same request may work later. */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** Failures after which bespin-api certainly did not act on the request, so even a POST may be repeated. */
const NOT_RECEIVED_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const NOT_PROCESSED_STATUSES = new Set([429, 503]);

/**
 * bespin-api over HTTP (bespin-api.md §1-§3) with what the original lacked: request timeouts,
 * bounded retries of transient failures, and no reliance on redirects. Axios never escapes:
 * its errors carry the request headers, so every failure is rebuilt as a domain error whose
 * text is checked to hold no token.
 */
@injectable()
export class BespinHttpApi extends BespinRequestApi {
  private readonly http: AxiosInstance;
  private readonly baseUrl: string;
  private readonly token: string;
  private readonly maxRetryDelayMs: number;
  private readonly logger: Logger | undefined;
  private sentRequests = 0;

  constructor(@inject(BESPIN_HTTP_API_OPTIONS) options: BespinHttpApiOptions) {
    super();
    this.baseUrl = normaliseBaseUrl(options.baseUrl);
    if (options.token.trim() === '') throw new PermanentError('bespin-api token must not be empty');
    this.token = options.token;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? DEFAULTS.maxRetryDelayMs;
    this.logger = options.logger;
    const retryBaseDelayMs = options.retryBaseDelayMs ?? DEFAULTS.retryBaseDelayMs;

    this.http = axios.create({
      timeout: options.timeoutMs ?? DEFAULTS.timeoutMs,
      maxRedirects: 0,
      // Replies are parsed here, so an HTML error page is reported rather than mis-parsed.
      responseType: 'text',
      transitional: { clarifyTimeoutError: true, forcedJSONParsing: false, silentJSONParsing: true },
      headers: { Authorization: `Token ${options.token}`, 'Content-Type': 'application/json' },
      // Bodies arrive already serialized the way Python did it; axios must send them untouched.
      transformRequest: [(data: unknown) => data],
    });
    this.http.interceptors.request.use((config) => {
      this.sentRequests += 1;
      return config;
    });
    axiosRetry(this.http, {
      retries: options.retries ?? DEFAULTS.retries,
      shouldResetTimeout: true,
      retryDelay: (retryNumber, error) => {
        const backoff = Math.min(this.maxRetryDelayMs, retryBaseDelayMs * 2 ** (retryNumber - 1));
        // Half fixed, half random: spreads the retries of many lando replicas after a bespin restart.
        return Math.max(backoff / 2 + (Math.random() * backoff) / 2, retryAfter(error));
      },
    });
  }

  /** HTTP requests sent so far, retries included. */
  get requestCount(): number {
    return this.sentRequests;
  }

  protected async send(request: BespinRequest): Promise<unknown> {
    let text: string;
    try {
      const response = await this.http.request<string>({
        method: request.method,
        url: `${this.baseUrl}${request.path}`,
        data: request.body,
        'axios-retry': {
          retryCondition: (error) => this.shouldRetry(request, error),
          onRetry: (retryNumber, error) => this.logRetry(request, retryNumber, error),
        },
      });
      text = response.data;
    } catch (error) {
      throw this.toDomainError(request, error);
    }
    return request.method === 'GET' ? this.parseReadReply(request, text) : undefined;
  }

  private parseReadReply(request: BespinRequest, text: string): unknown {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new PermanentError(
        this.redact(`bespin-api ${request.method} ${request.path} answered with a body that is not JSON: ${snippet(text)}`),
      );
    }
  }

  private shouldRetry(request: BespinRequest, error: AxiosError): boolean {
    const status = error.response?.status;
    if (status === undefined) {
      const code = error.code ?? '';
      return TRANSIENT_CODES.has(code) && (request.method !== 'POST' || NOT_RECEIVED_CODES.has(code));
    }
    if (!isTransientStatus(status)) return false;
    if (request.method === 'POST' && !NOT_PROCESSED_STATUSES.has(status)) return false;
    // Waiting longer than we would ever back off blocks the job queue; the caller may redeliver instead.
    return retryAfter(error) <= this.maxRetryDelayMs;
  }

  private logRetry(request: BespinRequest, retryNumber: number, error: AxiosError): void {
    this.logger?.warn(
      { bespinRequest: `${request.method} ${request.path}`, retry: retryNumber, failure: this.redact(failureSummary(error)) },
      'bespin-api request failed; retrying',
    );
  }

  private toDomainError(request: BespinRequest, error: unknown): DomainError {
    if (!axios.isAxiosError(error)) {
      return new PermanentError(this.redact(`bespin-api ${request.method} ${request.path} failed: ${String(error)}`));
    }
    const attempts = (error.config?.['axios-retry']?.retryCount ?? 0) + 1;
    const afterAttempts = attempts > 1 ? ` (after ${attempts} attempts)` : '';
    const response = error.response;
    if (response) {
      const location = response.headers.location as unknown;
      const redirect =
        response.status >= 300 && response.status < 400
          ? ` redirecting to ${String(location)}; lando follows no redirects, so bespin_api.url must be bespin-api's v2 root`
          : '';
      return bespinReplyError(request, response.status, parseReplyBody(response.data), {
        suffix: `${redirect}${afterAttempts}`,
        redact: (text) => this.redact(text),
      });
    }
    const code = error.code ?? 'no error code';
    const message = this.redact(
      `bespin-api ${request.method} ${this.baseUrl}${request.path} failed: ${error.message} (${code})${afterAttempts}`,
    );
    return TRANSIENT_CODES.has(code) ? new TransientError(message) : new PermanentError(message);
  }

  private redact(text: string): string {
    return text.split(this.token).join('[redacted]');
  }
}

function normaliseBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new PermanentError(`bespin-api url ${JSON.stringify(baseUrl)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new PermanentError(`bespin-api url ${JSON.stringify(baseUrl)} must be http or https`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new PermanentError('bespin-api url must not contain credentials; the token authenticates lando');
  }
  if (url.search !== '' || url.hash !== '') {
    throw new PermanentError(`bespin-api url ${JSON.stringify(baseUrl)} must not have a query or fragment`);
  }
  return url.href.replace(/\/+$/, '');
}

/** JSON replies (DRF's) parsed, anything else (HTML pages, proxy text) kept as text. */
function parseReplyBody(data: unknown): unknown {
  if (typeof data !== 'string') return data;
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return data;
  }
}

function failureSummary(error: AxiosError): string {
  return error.response ? `status ${error.response.status}` : `${error.code ?? 'no error code'}: ${error.message}`;
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(flat.length > 120 ? `${flat.slice(0, 117)}...` : flat);
}
