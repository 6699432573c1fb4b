import { describe, expect, it } from 'vitest';
import { customerAnalytics, orderAnalytics, parseCloudEvent } from './transform.ts';

const now = new Date('2025-11-04T12:00:01.000Z');
const bytes = (o: unknown): Buffer => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o));
const customer = {
  specversion: '1.0',
  type: 'com.droid.bss.customer.created',
  source: 'urn:test',
  id: 'test-123',
  time: '2025-11-04T12:00:00Z',
  data: { customerId: 'cust-999', name: 'Test User' },
};
const order = {
  specversion: '1.0',
  type: 'com.droid.bss.order.paid',
  source: 'urn:test',
  id: 'o-1',
  time: '2025-11-04T12:00:00Z',
  data: { orderId: 'order-456', customerId: 'cust-123', status: 'paid', amount: 299.99 },
};

function parsed(o: unknown) {
  const p = parseCloudEvent(bytes(o), 65_536);
  if (!p.ok) throw new Error(p.detail);
  return p.value;
}

describe('stream processor transformations', () => {
  it("customer event → the document's customer.analytics example", () => {
    const out = customerAnalytics(parsed(customer), now);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    const json = out.value.toJSON();
    expect(json).toMatchObject({
      specversion: '1.0',
      type: 'customer.analytics',
      source: 'urn:bss:stream:customer-analytics',
      id: 'cust-999-test-123',
    });
    expect(json.time).toBe('2025-11-04T12:00:01.000Z');
    expect(out.value.data).toEqual({
      customerId: 'cust-999',
      customerName: 'Test User',
      eventType: 'created',
      analyticsType: 'customer_behavior',
      timestamp: '2025-11-04T12:00:00Z',
      processed: true,
    });
  });

  it('order event → order.analytics with the status upper-cased and the amount kept', () => {
    const out = orderAnalytics(parsed(order), now);
    expect(out.ok && out.value.data).toEqual({
      orderId: 'order-456',
      customerId: 'cust-123',
      status: 'PAID',
      amount: 299.99,
      analyticsType: 'order_processing',
      timestamp: '2025-11-04T12:00:00Z',
      processed: true,
    });
    expect(out.ok && out.value.type).toBe('order.analytics');
    expect(out.ok && out.value.source).toBe('urn:bss:stream:order-processor');
  });

  it('test-only overrides change type and source (negative controls)', () => {
    const out = customerAnalytics(parsed(customer), now, { type: 'x.y', source: 'urn:x' });
    expect(out.ok && [out.value.type, out.value.source]).toEqual(['x.y', 'urn:x']);
  });

  it.each([
    ['not-json', bytes('{"a":')],
    ['not-json', Buffer.alloc(0)],
    ['not-a-cloudevent', bytes([1, 2])],
    ['not-a-cloudevent', bytes({ hello: 'world' })],
    ['not-a-cloudevent', bytes({ ...customer, id: undefined })],
    ['not-a-cloudevent', bytes({ ...customer, specversion: '0.3' })],
    ['oversized', bytes({ ...customer, data: { customerId: 'c', name: 'x'.repeat(70_000) } })],
  ])('rejects %s input', (reason, input) => {
    const p = parseCloudEvent(input, 65_536);
    expect(p.ok ? 'accepted' : p.reason).toBe(reason);
  });

  it('rejects the wrong type and missing fields with the reason', () => {
    const wrongType = customerAnalytics(parsed(order), now);
    expect(wrongType.ok ? 'accepted' : wrongType.reason).toBe('wrong-type');
    const missing = customerAnalytics(parsed({ ...customer, data: { name: 'no id' } }), now);
    expect(missing.ok ? 'accepted' : missing.reason).toBe('missing-fields');
    const badAmount = orderAnalytics(parsed({ ...order, data: { ...order.data, amount: 'lots' } }), now);
    expect(badAmount.ok ? 'accepted' : badAmount.reason).toBe('missing-fields');
    expect(orderAnalytics(parsed(customer), now).ok).toBe(false);
  });
});
