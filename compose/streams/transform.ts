/**
 * The two processors' event transformations as pure functions: bytes in, an analytics
 * CloudEvent or a dead-letter reason out. No Kafka, no clock (the caller passes `now`), so
 * they are unit-tested without a broker (transform.test.ts).
 */
import cloudevents from 'cloudevents';
import type { CloudEvent as CloudEventType } from 'cloudevents';

const { CloudEvent } = cloudevents;

export const CUSTOMER_TYPE_PREFIX = 'com.droid.bss.customer.';
export const ORDER_TYPE_PREFIX = 'com.droid.bss.order.';
export const CUSTOMER_OUTPUT = { type: 'customer.analytics', source: 'urn:bss:stream:customer-analytics' } as const;
export const ORDER_OUTPUT = { type: 'order.analytics', source: 'urn:bss:stream:order-processor' } as const;

/** Why an input went to the dead-letter topic (kept in the `bss-dlq-reason` header). */
export type RejectReason = 'oversized' | 'not-json' | 'not-a-cloudevent' | 'wrong-type' | 'missing-fields';

export type Outcome<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: RejectReason; readonly detail: string };

const reject = (reason: RejectReason, detail: string): Outcome<never> => ({ ok: false, reason, detail });

type Input = CloudEventType<Record<string, unknown>>;

/** Bytes → a CloudEvents 1.0 event validated by the SDK, or why not. */
export function parseCloudEvent(bytes: Buffer | null, maxBytes: number): Outcome<Input> {
  if (!bytes || bytes.length === 0) return reject('not-json', 'empty value');
  if (bytes.length > maxBytes) return reject('oversized', `${bytes.length} bytes > ${maxBytes}`);
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    return reject('not-json', (error as Error).message);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return reject('not-a-cloudevent', 'not a JSON object');
  const fields = raw as Record<string, unknown>;
  // The SDK fills in a missing id and time by itself: an input without them is not a CloudEvent.
  const missing = ['specversion', 'id', 'source', 'type'].filter((k) => typeof fields[k] !== 'string' || fields[k] === '');
  if (missing.length) return reject('not-a-cloudevent', `missing ${missing.join(', ')}`);
  if (fields.specversion !== '1.0') return reject('not-a-cloudevent', `specversion ${String(fields.specversion)} is not 1.0`);
  try {
    return { ok: true, value: new CloudEvent<Record<string, unknown>>(fields as never, true) };
  } catch (error) {
    return reject('not-a-cloudevent', errorText(error));
  }
}

function errorText(error: unknown): string {
  const e = error as { message?: string; errors?: unknown };
  return `${e.message ?? String(error)}${e.errors ? ` ${JSON.stringify(e.errors)}` : ''}`.slice(0, 300);
}

function dataOf(event: Input): Record<string, unknown> | undefined {
  const data = event.data as unknown;
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) return data as Record<string, unknown>;
  if (typeof data === 'string') {
    try {
      const parsed = JSON.parse(data) as unknown;
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

const nonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

export interface OutputOverrides {
  /** Test-only: a deliberately wrong type/source (negative controls). */
  readonly type?: string;
  readonly source?: string;
}

/** The output's id: the entity and the input's id, so the pair (source, id) is unique per input. */
function outputId(entity: string, input: Input): string {
  return `${entity}-${input.id}`;
}

export interface CustomerAnalyticsData {
  readonly customerId: string;
  readonly customerName: string;
  readonly eventType: string;
  readonly analyticsType: 'customer_behavior';
  readonly timestamp: string;
  readonly processed: true;
}

/** customer lifecycle event → `customer.analytics` (the document's example). */
export function customerAnalytics(
  input: Input,
  now: Date,
  overrides: OutputOverrides = {},
): Outcome<CloudEventType<CustomerAnalyticsData>> {
  if (!input.type.startsWith(CUSTOMER_TYPE_PREFIX) || input.type.length === CUSTOMER_TYPE_PREFIX.length) {
    return reject('wrong-type', `type ${input.type} is not ${CUSTOMER_TYPE_PREFIX}<event>`);
  }
  const data = dataOf(input);
  const customerId = data?.customerId;
  const name = data?.name ?? data?.customerName;
  if (!nonEmptyString(customerId) || !nonEmptyString(name)) return reject('missing-fields', 'data.customerId and data.name are required');
  const timestamp = input.time ?? now.toISOString();
  return {
    ok: true,
    value: new CloudEvent<CustomerAnalyticsData>(
      {
        specversion: '1.0',
        type: overrides.type ?? CUSTOMER_OUTPUT.type,
        source: overrides.source ?? CUSTOMER_OUTPUT.source,
        id: outputId(customerId, input),
        time: now.toISOString(),
        datacontenttype: 'application/json',
        data: {
          customerId,
          customerName: name,
          eventType: input.type.slice(CUSTOMER_TYPE_PREFIX.length),
          analyticsType: 'customer_behavior',
          timestamp,
          processed: true,
        },
      },
      true,
    ),
  };
}

export interface OrderAnalyticsData {
  readonly orderId: string;
  readonly customerId: string;
  readonly status: string;
  readonly amount: number;
  readonly analyticsType: 'order_processing';
  readonly timestamp: string;
  readonly processed: true;
}

/** order lifecycle event → `order.analytics`; the status is the order's, upper-cased (PROCESSED, CREATED, …). */
export function orderAnalytics(input: Input, now: Date, overrides: OutputOverrides = {}): Outcome<CloudEventType<OrderAnalyticsData>> {
  if (!input.type.startsWith(ORDER_TYPE_PREFIX) || input.type.length === ORDER_TYPE_PREFIX.length) {
    return reject('wrong-type', `type ${input.type} is not ${ORDER_TYPE_PREFIX}<event>`);
  }
  const data = dataOf(input);
  const { orderId, customerId, status } = data ?? {};
  const amount = typeof data?.amount === 'string' && data.amount.trim() !== '' ? Number(data.amount) : data?.amount;
  if (
    !nonEmptyString(orderId) ||
    !nonEmptyString(customerId) ||
    !nonEmptyString(status) ||
    typeof amount !== 'number' ||
    !Number.isFinite(amount)
  ) {
    return reject('missing-fields', 'data.orderId, data.customerId, data.status and a numeric data.amount are required');
  }
  return {
    ok: true,
    value: new CloudEvent<OrderAnalyticsData>(
      {
        specversion: '1.0',
        type: overrides.type ?? ORDER_OUTPUT.type,
        source: overrides.source ?? ORDER_OUTPUT.source,
        id: outputId(orderId, input),
        time: now.toISOString(),
        datacontenttype: 'application/json',
        data: {
          orderId,
          customerId,
          status: status.toUpperCase(),
          amount,
          analyticsType: 'order_processing',
          timestamp: input.time ?? now.toISOString(),
          processed: true,
        },
      },
      true,
    ),
  };
}

/** The structured-mode Kafka value of an event (the JSON envelope the document shows). */
export function structuredValue(event: CloudEventType<unknown>): string {
  return JSON.stringify(event.toJSON());
}
