import { expect } from 'chai';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { KeepAliveAgents } from '../../src/adapters/k8s/keep-alive-agents.js';

describe('KeepAliveAgents: one keep-alive connection pool per set of TLS options', () => {
  it('hands back the same keep-alive agent for per-request agents with equal options', () => {
    const agents = new KeepAliveAgents();
    const first = agents.reuse(new HttpsAgent({ ca: Buffer.from('ca-1'), rejectUnauthorized: true }));
    const second = agents.reuse(new HttpsAgent({ ca: Buffer.from('ca-1'), rejectUnauthorized: true }));
    expect(second).to.equal(first);
    expect(first).to.be.instanceOf(HttpsAgent);
    expect((first as HttpAgent & { keepAlive?: boolean }).keepAlive).to.equal(true);
  });

  it('keeps agents of different options, and of http and https, apart', () => {
    const agents = new KeepAliveAgents();
    const one = agents.reuse(new HttpsAgent({ ca: Buffer.from('ca-1') }));
    const other = agents.reuse(new HttpsAgent({ ca: Buffer.from('ca-2') }));
    const plain = agents.reuse(new HttpAgent());
    expect(other).to.not.equal(one);
    expect(plain).to.be.instanceOf(HttpAgent).and.not.instanceOf(HttpsAgent);
  });

  it('leaves any other agent, such as a proxy agent, as it is', () => {
    class ProxyAgent extends HttpAgent {}
    const proxy = new ProxyAgent();
    expect(new KeepAliveAgents().reuse(proxy)).to.equal(proxy);
  });
});
