import { expect } from 'chai';
import { HandlerSlots } from '../../src/domain/handler-slots.js';

/** Work the test ends when it wants; records the order in which works started. */
class Gate {
  readonly started: string[] = [];
  private readonly releases = new Map<string, () => void>();

  work(name: string, result = name): () => Promise<string> {
    return () => {
      this.started.push(name);
      return new Promise((resolve) => this.releases.set(name, () => resolve(result)));
    };
  }

  finish(name: string): void {
    const release = this.releases.get(name);
    if (!release) throw new Error(`${name} has not started`);
    release();
  }
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('HandlerSlots', () => {
  it('runs at most its limit of works at once', async () => {
    const slots = new HandlerSlots(2);
    const gate = new Gate();
    const runs = ['a', 'b', 'c'].map((name) => slots.run(0, gate.work(name)));
    await turn();
    expect(gate.started).to.deep.equal(['a', 'b']);
    expect(slots.runningCount).to.equal(2);
    expect(slots.waitingCount).to.equal(1);

    gate.finish('a');
    await turn();
    expect(gate.started).to.deep.equal(['a', 'b', 'c']);
    gate.finish('b');
    gate.finish('c');
    expect(await Promise.all(runs)).to.deep.equal(['a', 'b', 'c']);
    expect(slots.runningCount).to.equal(0);
  });

  it('gives a freed slot to the waiter of the lowest priority number, first come first served within a priority', async () => {
    const slots = new HandlerSlots(1);
    const gate = new Gate();
    void slots.run(0, gate.work('running'));
    void slots.run(1, gate.work('new job 1'));
    void slots.run(0, gate.work('outcome 1'));
    void slots.run(1, gate.work('new job 2'));
    void slots.run(0, gate.work('outcome 2'));
    for (const name of ['running', 'outcome 1', 'outcome 2', 'new job 1']) {
      await turn();
      gate.finish(name);
    }
    await turn();
    expect(gate.started).to.deep.equal(['running', 'outcome 1', 'outcome 2', 'new job 1', 'new job 2']);
  });

  it('frees the slot of a work that failed, and passes its error on', async () => {
    const slots = new HandlerSlots(1);
    const failed = slots.run(0, () => Promise.reject(new Error('boom')));
    const next = slots.run(0, () => Promise.resolve('next'));
    const error = await failed.then(() => undefined, (reason: unknown) => reason);
    expect(error).to.be.instanceOf(Error).with.property('message', 'boom');
    expect(await next).to.equal('next');
    expect(slots.runningCount).to.equal(0);
  });

  it('refuses a limit that is not a positive integer', () => {
    for (const limit of [0, -1, 1.5, Number.NaN]) expect(() => new HandlerSlots(limit), String(limit)).to.throw(RangeError, /positive integer/);
  });
});
