/**
 * order-processor: bss.order.events → bss.analytics.events (type order.analytics), consumer
 * group bss-order-processor, with the order metrics the design promises (count and amount per
 * status) on /metrics. Configured by environment variables only (see README):
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 node compose/streams/order-processor.ts
 */
import promClient from 'prom-client';
import { runProcessor } from './processor.ts';
import { orderAnalytics } from './transform.ts';

await runProcessor({
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
});
