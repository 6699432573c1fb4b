/**
 * customer-analytics: bss.customer.events → bss.analytics.events (type customer.analytics),
 * consumer group bss-customer-analytics. Configured by environment variables only (see
 * docs/streams.md):
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 node compose/streams/customer-analytics.ts
 */
import { CUSTOMER_ANALYTICS } from './definitions.ts';
import { runProcessor } from './processor.ts';

await runProcessor(CUSTOMER_ANALYTICS);
