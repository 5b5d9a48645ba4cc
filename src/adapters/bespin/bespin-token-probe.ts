/**
 * Whether bespin-api takes lando's token, for an operator's `check`: one GET of a job that
 * cannot exist (`admin/jobs/0/`; Django's ids start at 1), sent once without retries. Every
 * admin viewset checks the token and the staff flag before it looks the record up, so
 * Django REST Framework's JSON 404 means "accepted", 401 a wrong token and 403 a user who is
 * not staff; an HTML page means the URL is not bespin-api's v2 root.
 */
import axios from 'axios';

export type BespinTokenCheck =
  | { readonly outcome: 'accepted' }
  | { readonly outcome: 'rejected'; readonly status: number; readonly detail: string }
  | { readonly outcome: 'not-bespin'; readonly detail: string }
  | { readonly outcome: 'unreachable'; readonly detail: string };

export interface BespinTokenProbeOptions {
  /** bespin-api's v2 root, e.g. `https://bespin.example.org/api/v2`. */
  readonly baseUrl: string;
  readonly token: string;
  readonly timeoutMs?: number;
}

const PROBE_PATH = '/admin/jobs/0/';
const DEFAULT_TIMEOUT_MS = 10_000;

export async function probeBespinToken(options: BespinTokenProbeOptions): Promise<BespinTokenCheck> {
  const url = `${options.baseUrl.replace(/\/+$/, '')}${PROBE_PATH}`;
  let status: number;
  let body: string;
  try {
    const response = await axios.get<string>(url, {
      headers: { Authorization: `Token ${options.token}` },
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxRedirects: 0,
      responseType: 'text',
      transitional: { forcedJSONParsing: false, silentJSONParsing: true, clarifyTimeoutError: true },
      validateStatus: () => true,
    });
    status = response.status;
    body = response.data;
  } catch (error) {
    // Only the code and message: axios errors carry the request headers, token included.
    const code = axios.isAxiosError(error) ? ` (${error.code ?? 'no error code'})` : '';
    return { outcome: 'unreachable', detail: `GET ${url} failed: ${error instanceof Error ? error.message : String(error)}${code}` };
  }
  const reply = jsonObject(body);
  const detail = typeof reply?.['detail'] === 'string' ? reply['detail'] : undefined;
  if ((status === 401 || status === 403) && detail !== undefined) return { outcome: 'rejected', status, detail };
  if ((status === 404 && detail !== undefined) || (status === 200 && reply !== undefined)) return { outcome: 'accepted' };
  return { outcome: 'not-bespin', detail: `GET ${url} answered ${status}${detail === undefined ? ', not with a bespin-api reply' : `: ${detail}`}` };
}

/** DRF answers JSON objects, refusals as `{"detail": "..."}`; Django's and proxies' pages are HTML. */
function jsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
