/**
 * TurnPacer alone: tasks run at once while the turn of the event loop has budget left, then wait
 * for the next turns in order; queued tasks take at most the budget per turn (at least one each).
 */
import { TurnPacer } from '../../server/rooms/turn-pacer';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('at once while the turn has budget; past it, in order, over the following turns', async () => {
  // A clock that only the tasks move: each takes 4 ms.
  let clock = 0;
  // Counts turns: one increment per pass of the event loop's check phase.
  let turn = 0;
  let counting = true;
  const count = (): void => {
    turn++;
    if (counting) setImmediate(count);
  };
  setImmediate(count);
  const ran: Array<{ name: string; turn: number }> = [];
  const task = (name: string, ms: number) => (): void => {
    clock += ms;
    ran.push({ name, turn });
  };
  const pacer = new TurnPacer(10, () => clock);

  for (let i = 0; i < 8; i++) pacer.run(task(`t${i}`, 4));
  // 10 ms of budget: the first three ran at once (0, 4, 8 ms spent when each started), the rest wait.
  expect(ran.map((r) => r.name)).toEqual(['t0', 't1', 't2']);
  pacer.later(task('later', 0));
  for (let i = 0; i < 10; i++) await nextTurn();
  counting = false;

  expect(ran.map((r) => r.name)).toEqual(['t0', 't1', 't2', 't3', 't4', 't5', 't6', 't7', 'later']);
  // Queued tasks ran on later turns: three per turn (the third ends past the 10 ms), then the last two.
  const turnsOf = (names: string[]): number[] => names.map((name) => ran.find((r) => r.name === name)!.turn);
  const [t3, t4, t5, t6, t7, later] = turnsOf(['t3', 't4', 't5', 't6', 't7', 'later']);
  expect(t3).toBeGreaterThan(0);
  expect([t4, t5]).toEqual([t3, t3]);
  expect([t7, later]).toEqual([t6, t6]);
  expect(t6).toBe(t3! + 1);
});

test('budget 0: one queued task per turn; a task queued by a task runs after the others', async () => {
  const pacer = new TurnPacer(0);
  const order: string[] = [];
  pacer.later(() => {
    order.push('a');
    pacer.later(() => order.push('a2'));
  });
  pacer.later(() => order.push('b'));
  await nextTurn();
  expect(order).toEqual(['a']);
  await nextTurn();
  await nextTurn();
  await nextTurn();
  expect(order).toEqual(['a', 'b', 'a2']);
});
