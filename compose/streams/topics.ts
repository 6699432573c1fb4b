/**
 * The stream tier's topics, said once: the document's three topics and the two processors'
 * dead-letter topics, each with 3 partitions, replication factor 3 and min.insync.replicas 2.
 * create-topics.ts (the one-shot `topic-init` job, in compose.yml and in the harness) creates
 * them from here; the harness's variants (negative controls on topics of their own) use the
 * same specs with another prefix. Pure: no Kafka client.
 */

export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  /** Topic-level settings, e.g. { 'min.insync.replicas': '2' }. */
  readonly config?: Readonly<Record<string, string>>;
}

/** The topics one pipeline uses; `prefix` gives a negative control its own isolated set. */
export interface StreamTopics {
  readonly customer: string;
  readonly order: string;
  readonly analytics: string;
  readonly customerDeadLetter: string;
  readonly orderDeadLetter: string;
}

export function streamTopics(prefix = 'bss'): StreamTopics {
  return {
    customer: `${prefix}.customer.events`,
    order: `${prefix}.order.events`,
    analytics: `${prefix}.analytics.events`,
    customerDeadLetter: `${prefix}.customer-analytics.dlq`,
    orderDeadLetter: `${prefix}.order-processor.dlq`,
  };
}

export const SHIPPED_TOPICS = streamTopics();
export const TOPIC_PARTITIONS = 3;
export const TOPIC_REPLICATION = 3;
export const TOPIC_MIN_ISR = 2;

/** Every topic of a set as the document deploys it: 3 partitions, RF 3, min.insync.replicas 2. */
export function topicSpecs(topics: StreamTopics, replicationFactor = TOPIC_REPLICATION): TopicSpec[] {
  return Object.values(topics).map((name: string) => ({
    name,
    partitions: TOPIC_PARTITIONS,
    replicationFactor,
    config: { 'min.insync.replicas': String(Math.min(TOPIC_MIN_ISR, replicationFactor)) },
  }));
}
