// The prefetch queue against a fake server that leases like Loupe's: items in `holding` are
// never handed out again, other leases of the caller come back first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { leaseKeeper, taskQueue } from "../src/queue.js";

function fakeServer(total) {
  const free = Array.from({ length: total }, (_, i) => ({ id: `i${i}` }));
  const mine = [];
  const calls = [];
  return {
    calls,
    mine,
    async lease(size, holding) {
      calls.push({ size, holding: [...holding] });
      const again = mine.filter((item) => !holding.includes(item.id)).slice(0, size);
      if (again.length) return again;
      const got = free.splice(0, size);
      mine.push(...got);
      return got;
    },
  };
}

test("keeps tasks ahead and never gets an item it holds twice", async () => {
  const server = fakeServer(10);
  const queue = taskQueue({ lease: server.lease, per: 1, pages: false, ahead: 3 });
  const seen = [];
  for (let n = 0; n < 10; n++) {
    const task = await queue.next();
    assert.equal(task.length, 1);
    seen.push(task[0].id);
    queue.done([task[0].id]); // answered
    server.mine.splice(server.mine.findIndex((i) => i.id === task[0].id), 1);
  }
  assert.deepEqual(seen, Array.from({ length: 10 }, (_, i) => `i${i}`));
  assert.deepEqual(await queue.next(), []);
  // Each lease after the first named what was in hand.
  assert.ok(server.calls.some((c) => c.holding.length >= 2));
});

test("an item still being submitted is held, so the server does not hand it back", async () => {
  const server = fakeServer(3);
  const queue = taskQueue({ lease: server.lease, per: 1, pages: false, ahead: 1 });
  const first = await queue.next(); // shown, then submitted: the answer is still in flight
  const second = await queue.next();
  assert.notEqual(first[0].id, second[0].id);
  assert.ok(server.calls.at(-1).holding.includes(first[0].id));
});

test("grid pages stay whole, and a drained queue gives its items back", async () => {
  const server = fakeServer(9);
  const queue = taskQueue({ lease: server.lease, per: 4, pages: true, ahead: 2 });
  assert.equal((await queue.next()).length, 4);
  while (queue.busy) await new Promise((r) => setTimeout(r, 1));
  assert.equal(queue.depth, 2); // two pages ahead: four images, then the one left
  const back = queue.drain();
  assert.equal(back.length, 5);
  assert.ok(!queue.held().some((id) => back.includes(id)));
});

test("a failed lease is reported once the queue runs dry", async () => {
  let fail = true;
  const queue = taskQueue({
    lease: async () => { if (fail) throw new Error("offline"); return [{ id: "x" }]; },
    per: 1, pages: false, ahead: 1,
  });
  await assert.rejects(queue.next(), /offline/);
  fail = false;
  queue.retry();
  assert.deepEqual(await queue.next(), [{ id: "x" }]);
});

function fakeTimers() {
  const running = new Set();
  return {
    running,
    start(run, ms) { const timer = { run, ms }; running.add(timer); return timer; },
    stop(timer) { running.delete(timer); },
  };
}

test("renews at half the lease the server states, not on a fixed beat", () => {
  const timers = fakeTimers();
  let renewals = 0;
  const keeper = leaseKeeper(() => { renewals++; }, timers);
  assert.equal(keeper.period, Infinity);
  keeper.leased(20); // LOUPE_TASK_LEASE_S=20: well under the old fixed 4 minutes
  assert.equal(keeper.period, 10_000);
  assert.deepEqual([...timers.running].map((t) => t.ms), [10_000]);
  keeper.leased(19.97); // the same lease, a reply's latency later: the beat goes on
  keeper.leased(20);
  assert.equal(timers.running.size, 1);
  assert.equal(renewals, 0);
  keeper.leased(600); // a longer lease never slows the beat a shorter one needs
  assert.equal(keeper.period, 10_000);
});

test("a shorter lease renews at once, then on the shorter beat", () => {
  const timers = fakeTimers();
  let renewals = 0;
  const keeper = leaseKeeper(() => { renewals++; }, timers);
  keeper.leased(600);
  assert.equal(keeper.period, 300_000);
  keeper.leased(8);
  assert.equal(renewals, 1);
  assert.deepEqual([...timers.running].map((t) => t.ms), [4_000]);
  keeper.leased(undefined); // an empty answer states no lease
  keeper.leased(1); // never faster than once a second
  assert.equal(keeper.period, 1_000);
  keeper.stop();
  assert.equal(timers.running.size, 0);
});
