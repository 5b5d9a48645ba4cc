import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { runSandbox, sandboxSucceeded } from '../../src/composition/sandbox.js';
import { MemoryLogger } from '../support/memory-logger.js';

const run = promisify(execFile);

function captured(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

describe('the sandbox', () => {
  it('drives many demo jobs to their end, one failing where it was told to, and reports each as expected', async () => {
    const out = captured();
    const results = await runSandbox({ jobs: 12, stepMs: 1, failStep: 'organize_output', timeoutMs: 10_000, logger: new MemoryLogger(), out: out.stream });
    expect(results.map((result) => result.ended)).to.deep.equal([...Array(11).fill('F'), 'E']);
    expect(sandboxSucceeded(results)).to.equal(true);
    expect(out.text()).to.match(/job 1012 {2}ERRORED {3}o {2}Organize Output Project/);
    expect(out.text()).to.include('12 of 12 job(s) ended as expected');
  });

  it('runs the demo jobs through the real Kubernetes and bespin-api adapters against the test servers (--with-servers)', async () => {
    const out = captured();
    const results = await runSandbox({ jobs: 3, stepMs: 1, failStep: 'save_output', withServers: true, timeoutMs: 20_000, logger: new MemoryLogger(), out: out.stream });
    expect(results.map((result) => result.ended)).to.deep.equal(['F', 'F', 'E']);
    expect(out.text()).to.match(/through the test servers: Kubernetes API http:\/\/127\.0\.0\.1:\d+, bespin-api http:\/\/127\.0\.0\.1:\d+\/api\/v2/);
    expect(out.text()).to.include('3 of 3 job(s) ended as expected');
  });

  it('says a job did not end as expected when it cannot finish in time', async () => {
    const out = captured();
    const results = await runSandbox({ jobs: 1, stepMs: 5_000, timeoutMs: 50, logger: new MemoryLogger(), out: out.stream });
    expect(results[0]).to.include({ ended: 'unfinished', expected: 'F' });
    expect(sandboxSucceeded(results)).to.equal(false);
    expect(out.text()).to.include('NOT AS EXPECTED');
  });

  it('runs as `npm start` does and exits 0 when every job ended as expected', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/composition/main.ts', '--jobs', '2', '--step-ms', '1'], { timeout: 30_000 });
    expect(stdout).to.include('2 of 2 job(s) ended as expected');
  });

  it('refuses a bad option with exit code 2 and a message naming it', async () => {
    const failure = await run(process.execPath, ['--import', 'tsx', 'src/composition/main.ts', '--fail-step', 'teleport'], { timeout: 30_000 }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).to.equal(2);
    expect(failure?.stderr).to.include('--fail-step must name a step, got "teleport"');
  });
});
