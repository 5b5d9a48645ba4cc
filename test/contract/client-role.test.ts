import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { deadLetterProperties } from '../../src/adapters/amqp/dead-letter-queue.js';
import { decodeMessage } from '../../src/adapters/amqp/message-codec.js';
import { ClientUsageError, runClient } from '../../src/composition/client-role.js';
import { loadConfig } from '../../src/composition/config.js';
import { SeedConfigFile } from '../support/config-files.js';
import { MemoryLogger } from '../support/memory-logger.js';
import { RabbitTestBroker, uniqueQueueName } from '../support/rabbitmq.js';

function output(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

describe('the client role against RabbitMQ', () => {
  let broker: RabbitTestBroker;
  let file: SeedConfigFile;
  let queue: string;

  beforeEach(async () => {
    broker = await RabbitTestBroker.connect();
    queue = uniqueQueueName();
    broker.track(queue, `${queue}.dead-letter`);
    file = new SeedConfigFile({ queue });
  });

  afterEach(async () => {
    await broker.cleanup();
    await broker.close();
    file.remove();
  });

  it('sends start_job as bespin-api does: pickled, persistent, a string job id, and prints what it sent', async () => {
    const out = output();
    await runClient(loadConfig(file.path), ['start_job', '42'], {}, new MemoryLogger(), out.stream);
    const sent = await broker.take(queue);
    expect(sent?.deliveryMode).to.equal(2);
    expect(sent?.contentType).to.equal(undefined);
    expect(decodeMessage(sent!.body)).to.deep.equal({ command: 'start_job', jobId: '42', version: '2.0.1' });
    expect(out.text()).to.include(`sent start_job for job 42 to queue ${queue} as pickle (200 bytes)`);
    expect(out.text()).to.include(sent!.body.toString('hex'));
  });

  it('sends cancel_job as JSON when asked', async () => {
    await runClient(loadConfig(file.path), ['cancel_job', '7'], { format: 'json' }, new MemoryLogger(), output().stream);
    const sent = await broker.take(queue);
    expect(sent?.contentType).to.equal('application/json');
    expect(decodeMessage(sent!.body, sent!.contentType)).to.deep.equal({ command: 'cancel_job', jobId: '7', version: '2.0.1' });
  });

  it('refuses a job id that is not a number, naming it', async () => {
    const failure = await runClient(loadConfig(file.path), ['restart_job', 'forty-two'], {}, new MemoryLogger(), output().stream).catch((error: unknown) => error);
    expect(failure).to.be.instanceOf(ClientUsageError);
    expect((failure as Error).message).to.equal('restart_job takes exactly one job id (digits), got "forty-two"');
  });

  it('lists dead letters decoded with their reasons, requeues and discards them', async () => {
    const deadLetters = `${queue}.dead-letter`;
    const properties = deadLetterProperties({ deliveryMode: 2 }, 'job 404 does not exist in bespin-api', queue, new Date('2026-11-28T12:00:00Z'));
    const pickled = Buffer.from((await import('../../src/adapters/amqp/message-codec.js')).encodeMessage({ command: 'start_job', jobId: '404', version: '2.0.1' }, 'pickle').body);
    await broker.declareAsBespinApi(deadLetters);
    await broker.publish(deadLetters, pickled, { headers: properties.headers, deliveryMode: 2 });
    await broker.publish(deadLetters, Buffer.from('garbage'), { headers: deadLetterProperties({}, 'not a pickle', queue, new Date()).headers });

    const listed = output();
    await runClient(loadConfig(file.path), ['dead-letters', 'list'], {}, new MemoryLogger(), listed.stream);
    expect(listed.text()).to.include(`2 dead letter(s) in ${deadLetters}`);
    expect(listed.text()).to.include(`#1 2026-11-28T12:00:00.000Z from ${queue}: start_job job 404 (version 2.0.1)\n    reason: job 404 does not exist in bespin-api`);
    expect(listed.text()).to.match(/#2 .*: undecodable: 7 bytes, starting 67617262616765\n {4}reason: not a pickle/);

    await runClient(loadConfig(file.path), ['dead-letters', 'requeue'], { limit: 1 }, new MemoryLogger(), output().stream);
    const requeued = await broker.take(queue);
    expect(requeued?.body.equals(pickled)).to.equal(true);

    const discarded = output();
    await runClient(loadConfig(file.path), ['dead-letters', 'discard'], {}, new MemoryLogger(), discarded.stream);
    expect(discarded.text()).to.equal('discarded 1 dead letter(s)\n');
    expect(await broker.peekAll(deadLetters)).to.deep.equal([]);
  });
});
