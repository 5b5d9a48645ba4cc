import { expect } from 'chai';
import { retryDelay } from '../../src/adapters/amqp/delivery-settlement.js';

describe('the pause before a retry', () => {
  const policy = { retryDelayMs: 1000, maxRetryDelayMs: 60_000 };

  it('doubles with each failure, between half and all of its ceiling', () => {
    const ceilings = [1, 2, 3, 4, 5, 6].map((failures) => retryDelay(policy, failures, () => 1));
    const floors = [1, 2, 3, 4, 5, 6].map((failures) => retryDelay(policy, failures, () => 0));
    expect(ceilings).to.deep.equal([1000, 2000, 4000, 8000, 16_000, 32_000]);
    expect(floors).to.deep.equal([500, 1000, 2000, 4000, 8000, 16_000]);
    expect(retryDelay(policy, 3, () => 0.5)).to.equal(3000);
  });

  it('never exceeds the longest wait, however many failures', () => {
    expect(retryDelay(policy, 7, () => 1)).to.equal(60_000);
    expect(retryDelay(policy, 1000, () => 1)).to.equal(60_000);
    expect(retryDelay(policy, 1000, () => 0)).to.equal(30_000);
  });

  it('is no pause at all when the first wait is zero', () => {
    expect(retryDelay({ retryDelayMs: 0, maxRetryDelayMs: 0 }, 5, () => 1)).to.equal(0);
  });
});
