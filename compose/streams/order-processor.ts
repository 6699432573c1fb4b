/**
 * order-processor: bss.order.events → bss.analytics.events (type order.analytics), consumer
 * group bss-order-processor, with the order metrics the design promises (count and amount per
 * status) on /metrics. Configured by environment variables only (see docs/streams.md):
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 node compose/streams/order-processor.ts
 */
import { ORDER_PROCESSOR } from './definitions.ts';
import { runProcessor } from './processor.ts';

await runProcessor(ORDER_PROCESSOR);
