/**
 * customer-analytics: bss.customer.events → bss.analytics.events (type customer.analytics),
 * consumer group bss-customer-analytics. Configured by environment variables only (see README):
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 node compose/streams/customer-analytics.ts
 */
import { runProcessor } from './processor.ts';
import { customerAnalytics } from './transform.ts';

await runProcessor({
  name: 'customer-analytics',
  defaultGroup: 'bss-customer-analytics',
  defaultInput: 'bss.customer.events',
  defaultDeadLetter: 'bss.customer-analytics.dlq',
  transform: customerAnalytics,
});
