// @ts-check
// Tasks fetched ahead: a few tasks leased and decoded before they are needed, so submit → next
// never waits on the network. Every item in hand (waiting here, on screen, or being submitted)
// is sent as `holding`, so the server hands out new ones instead of the same lease again; a
// reload holds nothing and gets its leases back first. Independent of the DOM: the unit tests
// drive it with a fake server.

/** @typedef {{id: string}} Leased */

/**
 * @template {Leased} T
 * @param {object} options
 * @param {(size: number, holding: string[]) => Promise<T[]>} options.lease asks the server
 * @param {(item: T) => Promise<unknown>} [options.prepare] fetches and decodes an item
 * @param {number} options.per items one lease asks for (a grid's page, or up to 4 images)
 * @param {boolean} options.pages whether a lease is one task (a grid page) or one task per item
 * @param {number} options.ahead tasks to keep ready
 */
export function taskQueue({ lease, prepare = async () => {}, per, pages, ahead }) {
  /** @type {T[][]} */
  const ready = []; // tasks leased and prepared, in the order handed out
  /** @type {Set<string>} */
  const hand = new Set(); // every item leased to us that is not answered or released
  /** @type {Promise<void> | null} */
  let filling = null;
  let dry = false; // the last lease came back empty: nothing more to get for now
  /** @type {unknown} */
  let failure = null;

  async function fillOnce() {
    const got = await lease(per, [...hand]);
    const fresh = got.filter((item) => !hand.has(item.id));
    for (const item of fresh) hand.add(item.id);
    await Promise.all(fresh.map((item) => prepare(item).catch(() => {})));
    if (fresh.length) ready.push(...(pages ? [fresh] : fresh.map((item) => [item])));
    dry = fresh.length === 0;
  }

  /** Tops the queue up to `ahead` tasks in the background, one lease at a time. */
  function fill() {
    if (!filling && !dry && ready.length < ahead) {
      filling = (async () => {
        try {
          while (!dry && ready.length < ahead) await fillOnce();
        } catch (e) { failure = e; } finally { filling = null; }
      })();
    }
    return filling || Promise.resolve();
  }

  return {
    /** The next task's items ([] when there is nothing to label now). @returns {Promise<T[]>} */
    async next() {
      if (!ready.length) await fill();
      if (!ready.length && failure) { const e = failure; failure = null; throw e; }
      const task = ready.shift() || [];
      fill();
      return task;
    },
    /** Items answered, skipped or released: no longer ours to hold. @param {string[]} ids */
    done(ids) { for (const id of ids) hand.delete(id); },
    /** Asks again after an empty answer (new items may have come). */
    retry() { dry = false; },
    /** Everything in hand, for renewing leases. */
    held() { return [...hand]; },
    /** Drops the tasks waiting here and returns their items (to release them). */
    drain() { const ids = ready.splice(0).flat().map((i) => i.id); for (const id of ids) hand.delete(id); return ids; },
    get depth() { return ready.length; },
    get busy() { return filling !== null; },
  };
}

/**
 * Keeps the leases in hand alive: renews every half of the shortest lease the server has
 * stated (`leaseSeconds`, what is left by its own clock), so no lease runs out while its
 * labeler works, however short the deployment sets it (LOUPE_TASK_LEASE_S) and whatever the
 * client's clock says. A shorter lease than before renews at once, then on the shorter beat.
 * @param {() => void} renew sends the renewal of everything in hand
 * @param {{ start: (run: () => void, ms: number) => unknown, stop: (handle: unknown) => void }} [timers]
 */
export function leaseKeeper(renew, timers = { start: (run, ms) => setInterval(run, ms), stop: (handle) => clearInterval(/** @type {number} */ (handle)) }) {
  let period = Infinity;
  /** @type {unknown} */
  let handle = null;
  return {
    /** A lease the server just gave or renewed. @param {number | undefined} seconds */
    leased(seconds) {
      if (!seconds || seconds <= 0) return;
      const half = Math.max(1, Math.floor(Math.round(seconds) / 2)) * 1000; // whole seconds: a reply's latency never restarts the beat
      if (half >= period) return;
      const first = handle === null;
      if (!first) timers.stop(handle);
      period = half;
      handle = timers.start(renew, period);
      if (!first) renew(); // the old beat's next renewal may come too late for the new length
    },
    stop() { if (handle !== null) timers.stop(handle); handle = null; },
    /** Milliseconds between renewals (Infinity before any lease). */
    get period() { return period; },
  };
}
