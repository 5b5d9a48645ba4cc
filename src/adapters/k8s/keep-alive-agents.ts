/**
 * Connection reuse for client-node requests. client-node 1.4 builds a new http(s).Agent for
 * every request (KubeConfig.applySecurityAuthentication), without keep-alive, and node-fetch
 * then asks for `Connection: close`: every API call paid a new TCP connection, and a TLS
 * handshake against a real API server. Here each such per-request agent is swapped for one
 * long-lived keep-alive agent with the same options, so calls share connections.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

/** Distinct option sets kept at once; more only happens when credentials rotate (exec plugins). */
const MAX_AGENTS = 8;

export class KeepAliveAgents {
  private readonly agents = new Map<string, HttpAgent>();

  /**
   * The shared keep-alive agent for the options of `perRequest`. Proxy agents (hpagent,
   * socks) and anything else that is not a plain http(s).Agent is returned as it is.
   */
  reuse(perRequest: HttpAgent): HttpAgent {
    const secure = perRequest.constructor === HttpsAgent;
    if (!secure && perRequest.constructor !== HttpAgent) return perRequest;
    // `options` is what the agent was constructed with; @types/node does not declare it.
    const options = (perRequest as HttpAgent & { options?: Record<string, unknown> }).options ?? {};
    const key = `${secure ? 'https' : 'http'} ${optionsKey(options)}`;
    const known = this.agents.get(key);
    if (known) return known;
    const agent = secure ? new HttpsAgent({ ...options, keepAlive: true }) : new HttpAgent({ ...options, keepAlive: true });
    this.agents.set(key, agent);
    if (this.agents.size > MAX_AGENTS) {
      // Dropped, not destroyed: its requests in flight finish, and the server closes its idle sockets (unref'd, they keep nothing alive).
      this.agents.delete(this.agents.keys().next().value!);
    }
    return agent;
  }
}

/** Options compared by content: certificates and keys arrive as fresh strings or Buffers on every request. */
function optionsKey(options: Record<string, unknown>): string {
  const text = (value: unknown): string => {
    if (value === undefined || value === null) return '';
    if (Buffer.isBuffer(value)) return value.toString('base64');
    if (Array.isArray(value)) return `[${value.map(text).join(',')}]`;
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  };
  return Object.keys(options)
    .sort()
    .map((name) => `${name}=${text(options[name])}`)
    .join(';');
}
