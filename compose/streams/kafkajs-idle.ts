/**
 * kafkajs 2.2.4 (the last release) spins while idle: RequestQueue.checkPendingRequests always ends
 * in scheduleCheckPendingRequests, which with nothing pending and no broker throttle arms
 * `setTimeout(check, throttledUntil - now)` — a negative delay, so 1 ms — and the check re-arms it.
 * One 1 ms timer per broker connection, for the life of the process: measured 0.045 cores for an
 * idle backend holding one producer connection (134 ticks in 30 s), against 0 without Kafka
 * (docs/idle-cost.md). Skipping the timer when there is nothing to wait for changes no behaviour:
 * a request that cannot go out at once is queued by push(), which schedules the check itself, and
 * one held back by the in-flight limit is sent when a response frees a slot (fulfillRequest).
 */
import { createRequire } from 'node:module';

interface RequestQueueInternals {
  pending: unknown[];
  throttledUntil: number;
  scheduleCheckPendingRequests(): void;
}

let applied = false;

/** Patches kafkajs's RequestQueue once per process; returns whether the hook was found. */
export function stopIdleRequestQueueTimers(): boolean {
  if (applied) return true;
  const require = createRequire(import.meta.url);
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype?: RequestQueueInternals };
  const proto = RequestQueue.prototype;
  if (typeof proto?.scheduleCheckPendingRequests !== 'function') return false;
  const original = proto.scheduleCheckPendingRequests;
  proto.scheduleCheckPendingRequests = function (this: RequestQueueInternals): void {
    if (this.pending.length === 0 && !(this.throttledUntil > Date.now())) return;
    original.call(this);
  };
  applied = true;
  return true;
}
