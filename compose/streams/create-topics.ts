/**
 * topic-init: the one-shot job that creates the stream tier's topics (topics.ts) on the
 * 3-broker cluster, then exits 0 — compose.yml's `topic-init` service and the harness's
 * `topicInitService()` both run this file, so the topics are created one way only. The brokers
 * never auto-create topics. Run again on an existing cluster it checks the topics instead
 * (partitions, replication factor, min.insync.replicas) and fails naming any that differ.
 *
 *   KAFKA_BROKERS=kafka-1:9092,kafka-2:9092,kafka-3:9092 node compose/streams/create-topics.ts
 *
 * Environment: KAFKA_BROKERS (required), TOPIC_PREFIX (default bss), TOPIC_REPLICATION (default 3),
 * CONNECT_ATTEMPTS (default 30, one a second).
 */
import kafkajs from 'kafkajs';
import { streamTopics, TOPIC_REPLICATION, type TopicSpec, topicSpecs } from './topics.ts';

const { Kafka, logLevel } = kafkajs;
const log = (line: string): void => console.log(`topic-init: ${line}`);

function fail(message: string): never {
  console.error(`topic-init: ${message}`);
  process.exit(1);
}

const brokers = (process.env.KAFKA_BROKERS ?? '')
  .split(',')
  .map((b) => b.trim())
  .filter(Boolean);
if (brokers.length === 0 || brokers.some((b) => !/^[\w.-]+:\d+$/.test(b)))
  fail(`KAFKA_BROKERS="${process.env.KAFKA_BROKERS ?? ''}" is not a list of host:port; set e.g. KAFKA_BROKERS=kafka-1:9092,kafka-2:9092`);
const replication = Number(process.env.TOPIC_REPLICATION ?? TOPIC_REPLICATION);
if (!Number.isInteger(replication) || replication < 1)
  fail(`TOPIC_REPLICATION="${process.env.TOPIC_REPLICATION}" is not a positive integer`);
const attempts = Number(process.env.CONNECT_ATTEMPTS ?? 30);
const wanted: TopicSpec[] = topicSpecs(streamTopics(process.env.TOPIC_PREFIX || 'bss'), replication);

const admin = new Kafka({ clientId: 'bss-topic-init', brokers, logLevel: logLevel.NOTHING }).admin();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (let attempt = 1; ; attempt += 1) {
  try {
    await admin.connect();
    break;
  } catch (error) {
    if (attempt >= attempts) fail(`no broker of ${brokers.join(',')} answered after ${attempts} attempts: ${(error as Error).message}`);
    await sleep(1_000);
  }
}

/**
 * Creates what is missing. Bounded retries: a broker reports healthy before the controller has
 * registered every broker, and until then a replication factor of 3 is refused
 * (INVALID_REPLICATION_FACTOR) or the request times out. Each refusal is logged with its reason.
 */
async function createMissing(): Promise<TopicSpec[]> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const existing = new Set(await admin.listTopics());
      const missing = wanted.filter((t) => !existing.has(t.name));
      if (missing.length > 0) {
        await admin.createTopics({
          waitForLeaders: false,
          timeout: 30_000,
          topics: missing.map((t) => ({
            topic: t.name,
            numPartitions: t.partitions,
            replicationFactor: t.replicationFactor,
            configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
          })),
        });
      }
      return missing;
    } catch (error) {
      const reason = `${(error as { type?: string }).type ?? (error as Error).name}: ${(error as Error).message}`;
      if (attempt >= CREATE_ATTEMPTS) throw new Error(`creating topics failed ${attempt} times, last: ${reason}`, { cause: error });
      log(`attempt ${attempt} of ${CREATE_ATTEMPTS} refused (${reason}); retrying in 2 s`);
      await sleep(2_000);
    }
  }
}
const CREATE_ATTEMPTS = 15;

try {
  const missing = await createMissing();
  // KRaft propagates new topics to every broker asynchronously: wait (bounded) for a leader of every partition.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const metadata = await admin.fetchTopicMetadata({ topics: wanted.map((t) => t.name) }).catch(() => undefined);
    if (metadata?.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) {
      const problems: string[] = [];
      const configs = await admin.describeConfigs({
        includeSynonyms: false,
        resources: wanted.map((t) => ({ type: kafkajs.ConfigResourceTypes.TOPIC, name: t.name, configNames: ['min.insync.replicas'] })),
      });
      for (const t of wanted) {
        const found = metadata.topics.find((m) => m.name === t.name)!;
        const rf = Math.min(...found.partitions.map((p) => p.replicas.length));
        const minIsr = configs.resources.find((r) => r.resourceName === t.name)?.configEntries[0]?.configValue;
        if (found.partitions.length !== t.partitions)
          problems.push(`${t.name} has ${found.partitions.length} partitions, want ${t.partitions}`);
        if (rf !== t.replicationFactor) problems.push(`${t.name} has replication factor ${rf}, want ${t.replicationFactor}`);
        if (minIsr !== t.config?.['min.insync.replicas'])
          problems.push(`${t.name} has min.insync.replicas ${minIsr}, want ${t.config?.['min.insync.replicas']}`);
        else
          log(
            `${t.name}: ${t.partitions} partitions, replication factor ${t.replicationFactor}, min.insync.replicas ${minIsr}${missing.includes(t) ? ' (created)' : ' (existed)'}`,
          );
      }
      if (problems.length > 0) fail(`existing topics differ from topics.ts: ${problems.join('; ')} (delete them or fix topics.ts)`);
      break;
    }
    if (Date.now() > deadline) fail(`topics ${wanted.map((t) => t.name).join(', ')} have no leader 30 s after creation`);
    await sleep(200);
  }
} catch (error) {
  fail((error as Error).message);
} finally {
  await admin.disconnect();
}
log('done');
