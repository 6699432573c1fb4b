/**
 * Input events as the BSS services publish them (CloudEvents 1.0, structured JSON), and what
 * the document says the processors must make of them. The expectations are written here from
 * the document, independently of compose/streams.
 */
import type { FormatExpectation } from '#fixtures/checks/streams.js';
import type { ReceivedRecord } from '#fixtures/clients/kafka-streams.js';

export const RUN = Math.random().toString(36).slice(2, 8);
export const CUSTOMER_KINDS = ['created', 'updated', 'deactivated'] as const;
export const ORDER_STATUSES = ['created', 'paid', 'shipped', 'cancelled'] as const;

export function customerEvent(id: string, customerId: string, name: string, kind: string, at: number): Record<string, unknown> {
  return {
    specversion: '1.0',
    type: `com.droid.bss.customer.${kind}`,
    source: 'urn:bss:customer-service',
    id,
    time: new Date(at).toISOString(),
    datacontenttype: 'application/json',
    data: { customerId, name },
  };
}

export function orderEvent(
  id: string,
  orderId: string,
  customerId: string,
  status: string,
  amount: number,
  at: number,
): Record<string, unknown> {
  return {
    specversion: '1.0',
    type: `com.droid.bss.order.${status}`,
    source: 'urn:bss:order-service',
    id,
    time: new Date(at).toISOString(),
    datacontenttype: 'application/json',
    data: { orderId, customerId, status, amount },
  };
}

const field = (o: Readonly<Record<string, unknown>>, k: string): string =>
  String((o.data as Record<string, unknown> | undefined)?.[k] ?? '');

export const CUSTOMER_EXPECTATION: FormatExpectation = {
  claim: 'streams.customer.format',
  type: 'customer.analytics',
  source: 'urn:bss:stream:customer-analytics',
  expectedData: (input) => ({
    customerId: field(input, 'customerId'),
    customerName: field(input, 'name'),
    eventType: String(input.type).replace('com.droid.bss.customer.', ''),
    analyticsType: 'customer_behavior',
    timestamp: input.time,
    processed: true,
  }),
  inputIdOf: (output) => inputIdOf(output, 'customerId'),
};

export const ORDER_EXPECTATION: FormatExpectation = {
  claim: 'streams.order.format',
  type: 'order.analytics',
  source: 'urn:bss:stream:order-processor',
  expectedData: (input) => ({
    orderId: field(input, 'orderId'),
    customerId: field(input, 'customerId'),
    status: field(input, 'status').toUpperCase(),
    amount: (input.data as { amount: number }).amount,
    analyticsType: 'order_processing',
    timestamp: input.time,
    processed: true,
  }),
  inputIdOf: (output) => inputIdOf(output, 'orderId'),
};

/** The output id is "<entity>-<input id>" (the document's example uses the entity and a time). */
function inputIdOf(output: Readonly<Record<string, unknown>>, entityField: string): string | undefined {
  const entity = field(output, entityField);
  const id = typeof output.id === 'string' ? output.id : '';
  return entity && id.startsWith(`${entity}-`) ? id.slice(entity.length + 1) : undefined;
}

/** Output records of the analytics topic → (input id, receive time), for any of the two processors. */
export function outputsOf(
  records: readonly ReceivedRecord[],
): Array<{ inputId: string; receivedAt: number; key: string | null; value: string }> {
  const out: Array<{ inputId: string; receivedAt: number; key: string | null; value: string }> = [];
  for (const r of records) {
    const value = r.value.toString('utf8');
    try {
      const parsed = JSON.parse(value) as Record<string, unknown>;
      const inputId = inputIdOf(parsed, 'customerId') ?? inputIdOf(parsed, 'orderId');
      if (inputId) out.push({ inputId, receivedAt: r.receivedAt, key: r.key, value });
    } catch {
      // not JSON: not an output of ours
    }
  }
  return out;
}

/** Customer keys spread over the 3 partitions: key i goes to partition i % 3. */
export function keyRing(count: number, prefix = 'cust'): { keys: string[]; partitionOf: (key: string) => number } {
  const keys = Array.from({ length: count }, (_, i) => `${prefix}-${RUN}-${i}`);
  const index = new Map(keys.map((k, i) => [k, i]));
  return { keys, partitionOf: (key) => (index.get(key) ?? 0) % 3 };
}
