/**
 * The two stream processors as definitions: name, consumer group, default topics, transform and
 * their own metrics. Each entry point (customer-analytics.ts, order-processor.ts) runs one.
 */
import promClient from 'prom-client';
import type { ProcessorDefinition } from './processor.ts';
import { type CustomerAnalyticsData, customerAnalytics, type OrderAnalyticsData, orderAnalytics } from './transform.ts';

export const CUSTOMER_ANALYTICS: ProcessorDefinition<CustomerAnalyticsData> = {
  name: 'customer-analytics',
  defaultGroup: 'bss-customer-analytics',
  defaultInput: 'bss.customer.events',
  defaultDeadLetter: 'bss.customer-analytics.dlq',
  transform: customerAnalytics,
};

/** With the order metrics the design promises (count and amount per status) on /metrics. */
export const ORDER_PROCESSOR: ProcessorDefinition<OrderAnalyticsData> = {
  name: 'order-processor',
  defaultGroup: 'bss-order-processor',
  defaultInput: 'bss.order.events',
  defaultDeadLetter: 'bss.order-processor.dlq',
  transform: orderAnalytics,
  registerMetrics(registry) {
    const orders = new promClient.Counter({
      name: 'bss_orders_total',
      help: 'Orders processed, by status',
      labelNames: ['status'],
      registers: [registry],
    });
    const amount = new promClient.Counter({
      name: 'bss_order_amount_total',
      help: 'Sum of processed order amounts, by status',
      labelNames: ['status'],
      registers: [registry],
    });
    return (acknowledged) => {
      for (const event of acknowledged) {
        orders.inc({ status: event.data!.status });
        amount.inc({ status: event.data!.status }, event.data!.amount);
      }
    };
  },
};
