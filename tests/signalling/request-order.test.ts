/**
 * The order of one socket's requests (server/signalling/request-order.ts): one at a time in
 * arrival order, except consumer requests on different keys, which overlap.
 */
import { overlapKey, RequestOrder } from '../../server/signalling/request-order';

/** A task the test finishes by hand, recording when it started and ended. */
class Tasks {
  readonly log: string[] = [];
  readonly #finish = new Map<string, () => void>();

  task(name: string): () => Promise<void> {
    return () =>
      new Promise<void>((resolve) => {
        this.log.push(`start ${name}`);
        this.#finish.set(name, () => {
          this.log.push(`end ${name}`);
          resolve();
        });
      });
  }

  async finish(name: string): Promise<void> {
    const finish = this.#finish.get(name);
    if (!finish) throw new Error(`${name} has not started`);
    finish();
    await settle();
  }

  started(): string[] {
    return this.log.filter((l) => l.startsWith('start ')).map((l) => l.slice('start '.length));
  }
}

/** Lets every pending promise callback run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

test('requests without a key run one at a time, in arrival order', async () => {
  const order = new RequestOrder();
  const tasks = new Tasks();
  for (const name of ['a', 'b', 'c']) order.schedule(undefined, tasks.task(name));
  await settle();
  expect(tasks.started()).toEqual(['a']);
  await tasks.finish('a');
  expect(tasks.started()).toEqual(['a', 'b']);
  await tasks.finish('b');
  await tasks.finish('c');
  expect(tasks.log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
});

test('requests on different keys overlap; on one key they run in order', async () => {
  const order = new RequestOrder();
  const tasks = new Tasks();
  order.schedule('consumer 1', tasks.task('resume 1'));
  order.schedule('consumer 2', tasks.task('resume 2'));
  order.schedule('consumer 1', tasks.task('pause 1'));
  await settle();
  expect(tasks.started()).toEqual(['resume 1', 'resume 2']);
  await tasks.finish('resume 2');
  expect(tasks.started()).toEqual(['resume 1', 'resume 2']);
  await tasks.finish('resume 1');
  expect(tasks.started()).toEqual(['resume 1', 'resume 2', 'pause 1']);
  await tasks.finish('pause 1');
});

test('a request without a key waits for every earlier one, and the later ones wait for it', async () => {
  const order = new RequestOrder();
  const tasks = new Tasks();
  order.schedule(undefined, tasks.task('join'));
  order.schedule('consume t p1', tasks.task('consume 1'));
  order.schedule('consume t p2', tasks.task('consume 2'));
  order.schedule(undefined, tasks.task('closeTransport'));
  order.schedule('consumer 1', tasks.task('resume 1'));
  await settle();
  expect(tasks.started()).toEqual(['join']);
  await tasks.finish('join');
  expect(tasks.started()).toEqual(['join', 'consume 1', 'consume 2']);
  await tasks.finish('consume 2');
  expect(tasks.started()).toEqual(['join', 'consume 1', 'consume 2']);
  await tasks.finish('consume 1');
  expect(tasks.started()).toEqual(['join', 'consume 1', 'consume 2', 'closeTransport']);
  await tasks.finish('closeTransport');
  expect(tasks.started()).toEqual(['join', 'consume 1', 'consume 2', 'closeTransport', 'resume 1']);
  await tasks.finish('resume 1');
});

test('keys: consume by transport and producer, pause/resume by consumer; everything else waits for all', () => {
  expect(overlapKey('consume', { transportId: 't', producerId: 'p', rtpCapabilities: {} })).toBe('consume t p');
  expect(overlapKey('resumeConsumer', { consumerId: 'c' })).toBe('consumer c');
  expect(overlapKey('pauseConsumer', { consumerId: 'c' })).toBe('consumer c');
  // closeConsumer frees its transport/producer pair for a later consume: it waits for all.
  expect(overlapKey('closeConsumer', { consumerId: 'c' })).toBeUndefined();
  for (const event of ['join', 'createTransport', 'connectTransport', 'closeTransport', 'produce', 'pauseProducer', 'leave'] as const) {
    expect(overlapKey(event, { transportId: 't', producerId: 'p', consumerId: 'c' })).toBeUndefined();
  }
  // A payload the schema will refuse has no key: it waits like any other request.
  expect(overlapKey('consume', { transportId: 't', producerId: 7 })).toBeUndefined();
  expect(overlapKey('resumeConsumer', null)).toBeUndefined();
  expect(overlapKey('resumeConsumer', 'c')).toBeUndefined();
});

test('a request of an idle socket starts at once, in the same turn; the next one waits for it', async () => {
  const order = new RequestOrder();
  const tasks = new Tasks();
  order.schedule(undefined, tasks.task('a'));
  expect(tasks.started()).toEqual(['a']); // no await between schedule() and here
  order.schedule('consumer 1', tasks.task('b'));
  expect(order.pending).toBe(2);
  await settle();
  expect(tasks.started()).toEqual(['a']);
  await tasks.finish('a');
  await tasks.finish('b');
  expect(order.pending).toBe(0);
  order.schedule('consumer 1', tasks.task('c'));
  expect(tasks.started()).toEqual(['a', 'b', 'c']);
  await tasks.finish('c');
});

test('a synchronous task (it returns nothing) is done when it returns: nothing stays pending, the next one starts at once', async () => {
  const order = new RequestOrder();
  const tasks = new Tasks();
  const ran: string[] = [];
  order.schedule(undefined, () => void ran.push('sync 1'));
  expect(order.pending).toBe(0);
  order.schedule('consumer 1', () => void ran.push('sync 2'));
  expect(order.pending).toBe(0);
  expect(ran).toEqual(['sync 1', 'sync 2']);
  // After an asynchronous one, a synchronous task waits its turn like any other.
  order.schedule(undefined, tasks.task('async'));
  order.schedule(undefined, () => void ran.push('sync 3'));
  await settle();
  expect(ran).toEqual(['sync 1', 'sync 2']);
  expect(order.pending).toBe(2);
  await tasks.finish('async');
  expect(ran).toEqual(['sync 1', 'sync 2', 'sync 3']);
  expect(order.pending).toBe(0);
});
