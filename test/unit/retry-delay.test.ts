import { expect } from 'chai';
import { deferralDelay, retryDelay } from '../../src/adapters/amqp/delivery-settlement.js';

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

describe('the pause before a deferred message goes back', () => {
  it('starts short, as the replica holding the job usually finishes at once, and grows to the retry pause, never beyond', () => {
    const ceilings = [1, 2, 3, 4, 5, 9].map((deferrals) => deferralDelay({ retryDelayMs: 1000 }, deferrals, () => 1));
    expect(ceilings).to.deep.equal([100, 200, 400, 800, 1000, 1000]);
    expect(deferralDelay({ retryDelayMs: 1000 }, 1, () => 0)).to.equal(50);
  });

  it('is never longer than a short retry pause, and none with none', () => {
    expect(deferralDelay({ retryDelayMs: 20 }, 1, () => 1)).to.equal(20);
    expect(deferralDelay({ retryDelayMs: 20 }, 8, () => 1)).to.equal(20);
    expect(deferralDelay({ retryDelayMs: 0 }, 3, () => 1)).to.equal(0);
  });
});
