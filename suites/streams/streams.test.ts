/**
 * Stream tier: the 3-broker KRaft cluster with the document's topics and the two TypeScript
 * stream processors. Starts only Kafka; each test starts the processors it needs (the shipped
 * ones on the document's topics, broken variants on topics of their own) and stops them.
 */
import type { StartedTestContainer } from 'testcontainers';
import { afterAll, describe, expect } from 'vitest';
import {
  auditDelivery,
  errorsVerdict,
  type ErrorCase,
  faultToleranceVerdict,
  formatVerdict,
  type FormatCase,
  hostWindow,
  latencyVerdict,
  type LatencyRun,
  orderMetricProblems,
  parseTopicDescribe,
  recoverySeconds,
  type ThroughputStep,
  throughputVerdict,
  stepSustained,
  topicsVerdict,
} from '#fixtures/checks/streams.js';
import { metric } from '#fixtures/checks/metric.js';
import { percentile } from '#fixtures/checks/statistics.js';
import { compilerCores, type ThreadPools, threadWindow } from '#fixtures/support/thread-cpu.js';
import { cpuSnapshot, machineCores, perfStep, producerCeiling, type QuietWait, untilQuiet } from '#fixtures/clients/kafka-perf.js';
import {
  endOffsets,
  nowMs,
  openLoop,
  parsePrometheusText,
  sendAll,
  type SentEvent,
  TopicRecorder,
} from '#fixtures/clients/kafka-streams.js';
import { kill, gracefulStop, start as startContainer } from '#fixtures/faults/faults.js';
import { boundValue } from '#fixtures/report/bounds.js';
import { printSummary, recordVerdict } from '#fixtures/report/measurements.js';
import { byProfile, currentProfile } from '#fixtures/run/profile.js';
import { progress } from '#fixtures/run/progress.js';
import { describeEnvironment, writeRunFile } from '#fixtures/run/run-folder.js';
import type { StartedKafka } from '#fixtures/services/kafka.js';
import {
  KAFKA,
  logsOf,
  type ProcessorOptions,
  SHIPPED_TOPICS,
  startStreamProcessor,
  streamsTier,
  streamTopics,
  type StreamTopics,
  TOPIC_MIN_ISR,
  TOPIC_INIT,
  TOPIC_PARTITIONS,
  TOPIC_REPLICATION,
  topicSpecs,
} from '#fixtures/services/streams.js';
import type { Topology } from '#fixtures/topology/topology.js';
import { topologyTest } from '#fixtures/vitest/topology-test.js';
import {
  CUSTOMER_EXPECTATION,
  CUSTOMER_KINDS,
  customerEvent,
  keyRing,
  ORDER_EXPECTATION,
  ORDER_STATUSES,
  orderEvent,
  outputsOf,
  RUN,
} from './events.js';

const test = topologyTest('streams', streamsTier(), { only: [TOPIC_INIT] });
const LATENCY_BOUND_MS = boundValue('streams.latency', 'p99'); // the claims registry: "< 100 ms end-to-end"
const CLAIMED_RATE = boundValue('streams.throughput', 'rate'); // the claims registry: "10,000+ events/sec per stream"
const SIGKILL_RECOVERY_BOUND_S = 10; // issue target; kafkajs' default 30 s session could not meet it
const GRACEFUL_RECOVERY_BOUND_S = 5; // "a graceful stop recovers in a few seconds"
const PROFILE = currentProfile();
/** Input rate while faults are injected: steady, well inside what one instance handles here. */
const STEADY_RATE = 100;

afterAll(() => printSummary('streams'));

const kafkaOf = (topology: Topology) => topology.get<StartedKafka>(KAFKA);

/** A broken variant's own topics (so it never mixes with the shipped pipeline's traffic). */
async function isolatedTopics(topology: Topology, name: string): Promise<StreamTopics> {
  const topics = streamTopics(`neg-${name}-${RUN}`);
  await kafkaOf(topology).createTopics(topicSpecs(topics));
  return topics;
}

async function processor(topology: Topology, options: ProcessorOptions) {
  progress(options.alias ?? options.processor, 'starting processor…');
  const t0 = performance.now();
  const started = await startStreamProcessor(topology, options);
  progress(options.alias ?? options.processor, 'processor healthy', (performance.now() - t0) / 1000);
  return started;
}

/** Starts several processors at once; if one fails, the others are stopped before the error is thrown. */
async function processors(topology: Topology, ...all: ProcessorOptions[]) {
  const outcomes = await Promise.allSettled(all.map((options) => processor(topology, options)));
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  const started = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  if (failed) {
    await Promise.allSettled(started.map((p) => p.stop()));
    throw failed.reason;
  }
  return started;
}

/** Waits (bounded) until the recorder holds everything written to its topic so far. */
async function caughtUp(recorder: TopicRecorder, until: () => boolean | Promise<boolean>, timeout = 60_000): Promise<void> {
  await expect.poll(async () => (await until()) && (await recorder.caughtUp()), { timeout, interval: 250 }).toBe(true);
}

/** One streams.latency window: where, how fast, how long (and how much of it is warm-up), its tag, and whose CPU to read. */
type LatencyWindow = [
  topics: StreamTopics,
  ratePerSecond: number,
  durationMs: number,
  warmUpMs: number,
  tag: string,
  ours: readonly StartedTestContainer[],
];

/** One chunk of the warm load before streams.latency's windows: what the brokers' JIT still did. */
interface WarmChunk {
  readonly ratePerSecond: number;
  readonly sent: number;
  readonly p99Ms: number;
  readonly compilerCores: number;
  readonly host: unknown;
  readonly threads: ThreadPools;
}

interface FormatSide {
  readonly input: string;
  readonly cases: readonly FormatCase[];
  readonly recorder: TopicRecorder;
  /** Only outputs of inputs whose id holds this tag are this side's (the shipped analytics topic is shared). */
  readonly tag?: string;
}

const asOutputs = (r: TopicRecorder) => r.records.map((x) => ({ key: x.key, value: x.value.toString('utf8') }));

/**
 * Sends the shipped and the control cases, each to its own input topic, and waits (30 s at most
 * each) until each analytics topic has an output per case: both sides get the same treatment.
 */
async function sendAndCollect(brokers: string[], ...sides: FormatSide[]): Promise<Array<ReturnType<typeof asOutputs>>> {
  for (const side of sides) {
    await sendAll(
      brokers,
      side.input,
      side.cases.map((c) => ({ key: c.key, value: JSON.stringify(c.input) })),
    );
  }
  for (const { recorder, tag, cases } of sides) {
    const mine = () => outputsOf(recorder.records).filter((o) => tag === undefined || o.inputId.includes(tag)).length >= cases.length;
    await caughtUp(recorder, mine, 30_000);
  }
  return sides.map((side) => asOutputs(side.recorder));
}

async function counterOf(metrics: string, name: string): Promise<number> {
  return [...parsePrometheusText(metrics)].filter(([k]) => k === name || k.startsWith(`${name}{`)).reduce((n, [, v]) => n + v, 0);
}

/**
 * Warm-up before measuring: a trickle of events until one comes out (bounded), so a processor's
 * first group join or a coordinator still loading is not counted as the pipeline's latency.
 */
async function pipelineFlowing(brokers: readonly string[], topics: StreamTopics, out: TopicRecorder, tag: string): Promise<void> {
  const abort = new AbortController();
  const { keys, partitionOf } = keyRing(3, tag);
  const trickle = openLoop({
    brokers,
    topic: topics.customer,
    ratePerSecond: 5,
    durationMs: 60_000,
    partitionOf,
    signal: abort.signal,
    event: (n) => {
      const id = `${RUN}-${tag}-${n}`;
      const key = keys[n % 3]!;
      return { key, id, value: (at) => JSON.stringify(customerEvent(id, key, 'Warm-up', 'updated', at)) };
    },
  });
  try {
    await expect
      .poll(() => outputsOf(out.records).some((o) => o.inputId.startsWith(`${RUN}-${tag}-`)), { timeout: 60_000, interval: 200 })
      .toBe(true);
  } finally {
    abort.abort();
    await trickle;
  }
}

describe('stream tier', () => {
  test('streams.topics: 3 partitions, replication factor 3, all replicas in sync, min.insync.replicas 2 (read with kafka-topics)', async ({
    topology,
  }) => {
    const kafka = kafkaOf(topology);
    // Negative control: the same topic created with replication factor 1.
    const rf1 = `neg-rf1-${RUN}.customer.events`;
    await kafka.createTopics([{ name: rf1, partitions: TOPIC_PARTITIONS, replicationFactor: 1 }]);
    const text = await kafka.tool('org.apache.kafka.tools.TopicCommand', [
      '--bootstrap-server',
      kafka.internalBootstrapServers()[0]!,
      '--describe',
      '--exclude-internal',
    ]);
    const described = parseTopicDescribe(text);
    const want = { partitions: TOPIC_PARTITIONS, replicationFactor: TOPIC_REPLICATION, minInsyncReplicas: TOPIC_MIN_ISR };
    const shipped = recordVerdict(topicsVerdict(Object.values(SHIPPED_TOPICS), described, want), { described, raw: text });
    const control = recordVerdict(
      topicsVerdict([rf1], described, want),
      { described: described.filter((d) => d.name === rf1) },
      'replication-factor-1',
    );
    expect(shipped.status, shipped.reason ?? shipped.measured).toBe('met');
    expect(control.status, control.measured).toBe('not met');
  });

  test('streams.customer.format: every output is a CloudEvents 1.0 customer.analytics event with the data of its input; wrong type is caught', async ({
    topology,
  }) => {
    const kafka = kafkaOf(topology);
    const brokers = kafka.bootstrapServers();
    const wrong = await isolatedTopics(topology, 'type');
    const { keys } = keyRing(6);
    const cases = (topics: StreamTopics, tag: string): FormatCase[] =>
      Array.from({ length: 30 }, (_, i) => ({
        key: keys[i % keys.length]!,
        input: customerEvent(`${RUN}-${tag}-${i}`, keys[i % keys.length]!, `Customer ${i} Ünïcode`, CUSTOMER_KINDS[i % 3]!, Date.now()),
      })).map((c) => ({ ...c, topic: topics.customer }));
    const [shippedStarted, brokenStarted] = await processors(
      topology,
      { processor: 'customer-analytics' },
      {
        processor: 'customer-analytics',
        alias: 'customer-analytics-wrong-type',
        topics: wrong,
        environment: { GROUP_ID: `neg-type-${RUN}`, TEST_OUTPUT_TYPE: 'customer.analytic' },
      },
    );
    await using shipped = shippedStarted!;
    await using broken = brokenStarted!;
    void [shipped, broken]; // running until the test ends
    await using out = await TopicRecorder.start(brokers, SHIPPED_TOPICS.analytics);
    await using wrongOut = await TopicRecorder.start(brokers, wrong.analytics);
    const good = cases(SHIPPED_TOPICS, 'fmt');
    const bad = cases(wrong, 'neg');
    const [outputs = [], wrongOutputs = []] = await sendAndCollect(
      brokers,
      { input: SHIPPED_TOPICS.customer, cases: good, recorder: out, tag: `${RUN}-fmt-` },
      { input: wrong.customer, cases: bad, recorder: wrongOut },
    );
    const result = formatVerdict(CUSTOMER_EXPECTATION, good, outputs);
    recordVerdict(result.verdict, { inputs: good.length, problems: result.problems, example: outputs[0] });
    const control = formatVerdict(CUSTOMER_EXPECTATION, bad, wrongOutputs);
    recordVerdict(control.verdict, { problems: control.problems.slice(0, 5) }, 'wrong-type');
    expect(result.verdict.status, result.verdict.reason).toBe('met');
    expect(control.verdict.status).toBe('not met');
  });

  test('streams.order.format: every output is a CloudEvents 1.0 order.analytics event, order metrics add up; wrong source is caught', async ({
    topology,
  }) => {
    const kafka = kafkaOf(topology);
    const brokers = kafka.bootstrapServers();
    const wrong = await isolatedTopics(topology, 'source');
    const cases = (tag: string): FormatCase[] =>
      Array.from({ length: 40 }, (_, i) => {
        const orderId = `order-${RUN}-${tag}-${i % 10}`;
        return {
          key: orderId,
          input: orderEvent(
            `${RUN}-${tag}-${i}`,
            orderId,
            `cust-${i % 7}`,
            ORDER_STATUSES[i % 4]!,
            Math.round((10 + i * 7.37) * 100) / 100,
            Date.now(),
          ),
        };
      });
    const [shippedStarted, brokenStarted] = await processors(
      topology,
      { processor: 'order-processor' },
      {
        processor: 'order-processor',
        alias: 'order-processor-wrong-source',
        topics: wrong,
        environment: { GROUP_ID: `neg-source-${RUN}`, TEST_OUTPUT_SOURCE: 'urn:bss:stream:order-processr' },
      },
    );
    await using shipped = shippedStarted!;
    await using broken = brokenStarted!;
    void broken; // running until the test ends
    const before = parsePrometheusText(await shipped.metricsText());
    await using out = await TopicRecorder.start(brokers, SHIPPED_TOPICS.analytics);
    await using wrongOut = await TopicRecorder.start(brokers, wrong.analytics);
    const good = cases('ord');
    const bad = cases('neg');
    const [outputs = [], wrongOutputs = []] = await sendAndCollect(
      brokers,
      { input: SHIPPED_TOPICS.order, cases: good, recorder: out, tag: `${RUN}-ord-` },
      { input: wrong.order, cases: bad, recorder: wrongOut },
    );
    const after = parsePrometheusText(await shipped.metricsText());
    const counted = new Map<string, { count: number; amount: number }>();
    for (const status of ORDER_STATUSES.map((s) => s.toUpperCase())) {
      const key = (name: string) => `${name}{status="${status}",processor="order-processor"}`;
      const delta = (name: string) => (after.get(key(name)) ?? 0) - (before.get(key(name)) ?? 0);
      counted.set(status, { count: delta('bss_orders_total'), amount: Math.round(delta('bss_order_amount_total') * 100) / 100 });
    }
    const sentTotals = good.map((c) => ({
      status: String((c.input.data as { status: string }).status).toUpperCase(),
      amount: (c.input.data as { amount: number }).amount,
    }));
    const metricProblems = orderMetricProblems(sentTotals, counted);
    const result = formatVerdict(ORDER_EXPECTATION, good, outputs, {
      problems: metricProblems,
      metrics: [
        metric(
          'orders.counted',
          [...counted.values()].reduce((n, c) => n + c.count, 0),
          'count',
          'informational',
        ),
      ],
    });
    recordVerdict(result.verdict, {
      inputs: good.length,
      problems: result.problems,
      orderMetrics: Object.fromEntries(counted),
      example: outputs[0],
    });
    const control = formatVerdict(ORDER_EXPECTATION, bad, wrongOutputs);
    recordVerdict(control.verdict, { problems: control.problems.slice(0, 5) }, 'wrong-source');
    expect(result.verdict.status, result.verdict.reason).toBe('met');
    expect(control.verdict.status).toBe('not met');
  });

  test('streams.errors: malformed input goes to the dead-letter topic with its reason and bytes, valid events all processed; a dropping processor is caught', async ({
    topology,
  }) => {
    const kafka = kafkaOf(topology);
    const brokers = kafka.bootstrapServers();
    const dropping = await isolatedTopics(topology, 'drop');
    const mix = (tag: string): ErrorCase[] => {
      const { keys } = keyRing(5, `err-${tag}`);
      const malformed: Array<[string, Buffer]> = [
        ['not-json', Buffer.from('{"specversion": "1.0", "id": ')],
        ['not-json', Buffer.from([0xff, 0xfe, 0x00, 0x01])],
        ['not-a-cloudevent', Buffer.from(JSON.stringify({ hello: 'world', customerId: 'c' }))],
        ['not-a-cloudevent', Buffer.from(JSON.stringify({ ...customerEvent('x', 'c', 'n', 'created', Date.now()), specversion: '0.3' }))],
        ['wrong-type', Buffer.from(JSON.stringify(orderEvent(`${RUN}-wt`, 'o-1', 'c-1', 'created', 5, Date.now())))],
        [
          'missing-fields',
          Buffer.from(JSON.stringify({ ...customerEvent(`${RUN}-mf`, 'c', 'n', 'created', Date.now()), data: { name: 'no id' } })),
        ],
        ['oversized', Buffer.from(JSON.stringify(customerEvent(`${RUN}-big`, 'c-big', 'x'.repeat(100_000), 'created', Date.now())))],
      ];
      const cases: ErrorCase[] = [];
      for (let i = 0; i < 42; i++) {
        const key = keys[i % keys.length]!;
        if (i % 3 === 2) {
          const [reason, bytes] = malformed[Math.floor(i / 3) % malformed.length]!;
          cases.push({ id: `${RUN}-${tag}-bad-${i}`, key, bytes, expectedReason: reason });
        } else {
          const id = `${RUN}-${tag}-ok-${i}`;
          cases.push({ id, key, bytes: Buffer.from(JSON.stringify(customerEvent(id, key, `Valid ${i}`, 'updated', Date.now()))) });
        }
      }
      return cases;
    };
    const [shippedStarted, brokenStarted] = await processors(
      topology,
      { processor: 'customer-analytics' },
      {
        processor: 'customer-analytics',
        alias: 'customer-analytics-dropping',
        topics: dropping,
        environment: { GROUP_ID: `neg-drop-${RUN}`, TEST_DROP_ONE_IN: '7' },
      },
    );
    await using shipped = shippedStarted!;
    await using broken = brokenStarted!;
    const run = async (topics: StreamTopics, cases: ErrorCase[], service: typeof shipped) => {
      const out = await TopicRecorder.start(brokers, topics.analytics);
      const dlq = await TopicRecorder.start(brokers, topics.customerDeadLetter);
      try {
        const inBefore = await counterOf(await service.metricsText(), 'bss_stream_events_in_total');
        await sendAll(
          brokers,
          topics.customer,
          cases.map((c) => ({ key: c.key, value: c.bytes })),
        );
        await expect
          .poll(async () => (await counterOf(await service.metricsText(), 'bss_stream_events_in_total')) - inBefore, {
            timeout: 30_000,
            interval: 250,
          })
          .toBeGreaterThanOrEqual(cases.length);
        await caughtUp(out, () => true, 15_000);
        await caughtUp(dlq, () => true, 15_000);
        const up = await service.healthy();
        const outputs = outputsOf(out.records);
        const deadLetters = dlq.records.map((r) => ({ key: r.key, value: r.value, reason: r.headers['bss-dlq-reason'] }));
        return {
          verdict: errorsVerdict(cases, outputs, deadLetters, up),
          deadLetters: dlq.records.map((r) => ({ key: r.key, headers: r.headers, bytes: r.value.length })),
        };
      } finally {
        await out.stop();
        await dlq.stop();
      }
    };
    const shippedResult = await run(SHIPPED_TOPICS, mix('ok'), shipped);
    const result = recordVerdict(shippedResult.verdict, { deadLetters: shippedResult.deadLetters });
    const controlResult = await run(dropping, mix('drop'), broken);
    const control = recordVerdict(controlResult.verdict, {}, 'drops-one-in-7');
    expect(result.status, result.reason).toBe('met');
    expect(control.status).toBe('not met');
  });

  test('streams.latency: open-loop input at a low rate and 1,000 events/s, p99 of receive − intended send time < 100 ms beside the machine floor (no processor); a processor slowed by 150 ms/event is caught', async ({
    topology,
    annotate,
  }) => {
    const kafka = kafkaOf(topology);
    const brokers = kafka.bootstrapServers();
    const slowTopics = await isolatedTopics(topology, 'slow');
    const rates = byProfile({ quick: [50, 1_000], nightly: [50, 1_000, 2_000], release: [50, 1_000, 2_000, 5_000] });
    // "p99 < 100 ms at a stated rate" (claims guide): the bound is judged at the low, stated rate;
    // the higher rates are measured in the same run and reported as figures of streams.throughput.
    const STATED_RATES = [rates[0]!];
    const durationMs = byProfile({ quick: 10_000, nightly: 30_000, release: 60_000 });
    const warmUpMs = byProfile({ quick: 2_000, nightly: 5_000, release: 10_000 });
    const { keys, partitionOf } = keyRing(30, 'lat');
    /** One open-loop run against a pipeline; latency per event from its first output. */
    const measure = async (...window: LatencyWindow): Promise<LatencyRun & { lateTicks: number; threads: ThreadPools }> => {
      const [topics, , , , tag] = window;
      await using out = await TopicRecorder.start(brokers, topics.analytics);
      await pipelineFlowing(brokers, topics, out, `${tag}-warm`);
      // `return await`: the recorder is disposed when this function returns, so the run must end first.
      return await measureOn(out, ...window);
    };
    /** The same run on a recorder that already sees the pipeline flowing (the warm loop's chunks share one). */
    const measureOn = async (
      out: TopicRecorder,
      ...[topics, rate, ms, warmUp, tag, ours]: LatencyWindow
    ): Promise<LatencyRun & { lateTicks: number; threads: ThreadPools }> => {
      progress('latency', `${tag}: ${rate} events/s for ${ms / 1000} s`);
      // Where the window's CPU goes, by thread pool (C2 compiler, request handlers, GC …): the
      // evidence for a slow window, which a core count alone cannot explain.
      const threads = await threadWindow(
        ours.map((c, i) => ({ name: i < kafka.brokers.length ? `kafka-${i + 1}` : 'processor', id: c.getId() })),
      );
      const before = await cpuSnapshot(ours);
      const loop = await openLoop({
        brokers,
        topic: topics.customer,
        ratePerSecond: rate,
        durationMs: ms,
        partitionOf,
        event: (n) => {
          const key = keys[n % keys.length]!;
          const id = `${RUN}-${tag}-${n}`;
          return { key, id, value: (at) => JSON.stringify(customerEvent(id, key, `Latency ${n}`, 'updated', at)) };
        },
      });
      const host = hostWindow(before, await cpuSnapshot(ours), machineCores());
      const busiest = await threads.stop();
      progress('latency', `${tag}: machine during the window: ${JSON.stringify(host)}`);
      const measured = loop.sent.filter((e) => e.intendedAt >= loop.startedAt + warmUp);
      const ids = new Set(measured.map((e) => e.id));
      // Bounded drain: until every measured event came out, or 10 s after the last was due.
      await expect
        .poll(() => outputsOf(out.records).filter((o) => ids.has(o.inputId)).length, { timeout: 10_000, interval: 200 })
        .toBeGreaterThanOrEqual(measured.length)
        .catch(() => undefined);
      const first = new Map<string, number>();
      for (const o of outputsOf(out.records)) if (ids.has(o.inputId) && !first.has(o.inputId)) first.set(o.inputId, o.receivedAt);
      const latenciesMs = measured.filter((e) => first.has(e.id)).map((e) => first.get(e.id)! - e.intendedAt);
      return { ratePerSecond: rate, sent: measured.length, latenciesMs, lateTicks: loop.lateTicks, host, threads: busiest };
    };
    /**
     * The machine's floor at a rate: the same generator, rate, topic settings (3 partitions, RF 3,
     * acks=all) and cluster with no processor — producer → topic → recorder, the record itself timed.
     * What no processor could beat here: a broker that is slow is the system's, a floor above the
     * bound is the machine's share.
     */
    const measureFloor = async (topics: StreamTopics, rate: number, ms: number, warmUp: number): Promise<LatencyRun> => {
      await using seen = await TopicRecorder.start(brokers, topics.customer);
      progress('latency', `floor: ${rate} events/s for ${ms / 1000} s, no processor (producer → ${topics.customer} → recorder)`);
      const before = await cpuSnapshot([...kafka.brokers]);
      const loop = await openLoop({
        brokers,
        topic: topics.customer,
        ratePerSecond: rate,
        durationMs: ms,
        partitionOf,
        event: (n) => {
          const key = keys[n % keys.length]!;
          const id = `${RUN}-floor${rate}-${n}`;
          return { key, id, value: (at) => JSON.stringify(customerEvent(id, key, `Floor ${n}`, 'updated', at)) };
        },
      });
      const host = hostWindow(before, await cpuSnapshot([...kafka.brokers]), machineCores());
      const measured = loop.sent.filter((e) => e.intendedAt >= loop.startedAt + warmUp);
      const ids = new Set(measured.map((e) => e.id));
      const first = (): Map<string, number> => {
        const at = new Map<string, number>();
        for (const r of seen.records) {
          const id = (() => {
            try {
              return (JSON.parse(r.value.toString('utf8')) as { id?: string }).id;
            } catch {
              return undefined;
            }
          })();
          if (id !== undefined && ids.has(id) && !at.has(id)) at.set(id, r.receivedAt);
        }
        return at;
      };
      await expect
        .poll(() => first().size, { timeout: 10_000, interval: 200 })
        .toBeGreaterThanOrEqual(measured.length)
        .catch(() => undefined);
      const at = first();
      return {
        ratePerSecond: rate,
        sent: measured.length,
        latenciesMs: measured.filter((e) => at.has(e.id)).map((e) => at.get(e.id)! - e.intendedAt),
        host,
      };
    };
    const runs: Array<LatencyRun & { lateTicks: number; threads: ThreadPools }> = [];
    let settle: QuietWait | undefined;
    const warmLoad: WarmChunk[] = [];
    // Principle written before the figures: the document's latency is a running system's, so the
    // windows open once the brokers' JIT compilers (C1 + C2, all brokers) use under 0.05 cores —
    // 2.5 % of this machine — over one chunk of load at the top rate. Idle does not warm a JIT:
    // quiet at rest, the C2 threads resumed at 0.14–0.31 cores per broker as soon as traffic began.
    const WARM_CHUNK_MS = 10_000;
    const COMPILERS_QUIET_CORES = 0.05;
    const maxWarmChunks = byProfile({ quick: 4, nightly: 9, release: 18 });
    const brokerNames = kafka.brokers.map((_, i) => `kafka-${i + 1}`);
    {
      await using shipped = await processor(topology, { processor: 'customer-analytics' });
      const ours = [...kafka.brokers, shipped.container];
      // One recorder and one flowing check for every chunk: a fresh consumer group per chunk would
      // spend a second of each on joining, and add its own start-up to the JIT being watched. It is
      // stopped with the warm loop, so it reads nothing during the judged windows.
      const warmOut = await TopicRecorder.start(brokers, SHIPPED_TOPICS.analytics);
      try {
        await pipelineFlowing(brokers, SHIPPED_TOPICS, warmOut, 'warm-load');
        for (let chunk = 1; chunk <= maxWarmChunks; chunk++) {
          // Each chunk matches its own event ids; the earlier chunks' records only cost parsing time.
          warmOut.records.splice(0);
          const warm = await measureOn(warmOut, SHIPPED_TOPICS, rates.at(-1)!, WARM_CHUNK_MS, 0, `warm-load-${chunk}`, ours);
          const compilers = compilerCores(warm.threads, brokerNames);
          warmLoad.push({
            ratePerSecond: warm.ratePerSecond,
            sent: warm.sent,
            p99Ms: percentile(warm.latenciesMs, 99),
            compilerCores: compilers,
            host: warm.host,
            threads: warm.threads,
          });
          progress(
            'latency',
            `warm-load ${chunk}/${maxWarmChunks}: brokers' JIT compilers ${compilers} cores (quiet under ${COMPILERS_QUIET_CORES})`,
          );
          if (compilers < COMPILERS_QUIET_CORES) break;
        }
      } finally {
        await warmOut.stop();
      }
      // Then start-up's leftovers drain: brokers and processor idle before the first window
      // (principle: under 0.5 cores together — their idle cost is ~0.25, docs/idle-cost.md — read
      // over 2 s, 120 s at most).
      settle = await untilQuiet(ours, { belowCores: 0.5 });
      progress(
        'latency',
        `${settle.settled ? 'settled' : 'NOT settled'} after ${settle.waitedMs} ms (cores per 2 s window: ${settle.windows.join(', ')})`,
      );
      for (const rate of rates) runs.push(await measure(SHIPPED_TOPICS, rate, durationMs, warmUpMs, `lat${rate}`, ours));
      void shipped;
    }
    // The floor at the judged rate, right after the system's runs, on topics of its own.
    const floorTopics = await isolatedTopics(topology, 'floor');
    const floorRuns: LatencyRun[] = [];
    for (const rate of STATED_RATES) floorRuns.push(await measureFloor(floorTopics, rate, durationMs, warmUpMs));
    const result = latencyVerdict(runs, LATENCY_BOUND_MS, STATED_RATES, floorRuns);
    recordVerdict(result.verdict, {
      profile: PROFILE,
      durationMs,
      warmUpMs,
      figures: result.figures,
      floor: result.floor,
      lateTicks: runs.map((r) => r.lateTicks),
      threadsByRun: runs.map((r) => ({ ratePerSecond: r.ratePerSecond, threads: r.threads })),
      warmLoad,
      compilersQuiet: warmLoad.at(-1)!.compilerCores < COMPILERS_QUIET_CORES,
      settle,
    });
    writeRunFile('benchmark/streams-latency.json', {
      environment: describeEnvironment(),
      profile: PROFILE,
      figures: result.figures,
      floor: result.floor,
    });

    // Negative control: the same processor slowed by 150 ms per event, at a rate it can keep up with.
    {
      await using slow = await processor(topology, {
        processor: 'customer-analytics',
        alias: 'customer-analytics-slowed',
        topics: slowTopics,
        environment: { GROUP_ID: `neg-slow-${RUN}`, TEST_PROCESSING_DELAY_MS: '150' },
      });
      const slowRun = await measure(slowTopics, 5, 6_000, 1_000, 'slow', [...kafka.brokers, slow.container]);
      const control = latencyVerdict([slowRun], LATENCY_BOUND_MS);
      recordVerdict(control.verdict, { figures: control.figures, host: slowRun.host }, 'slowed-150ms');
      // The checker never passes the slowed processor; it calls it 'not met' unless it refused to
      // judge a window the machine's other tenants held (then the annotation says so).
      expect(control.verdict.status, control.verdict.measured).not.toBe('met');
      if (control.verdict.status === 'not measured') {
        expect(control.verdict.reason).toMatch(/^machine saturated/);
        await annotate(`negative control not judged: ${control.verdict.reason}`, 'warning');
      }
      void slow;
    }
    // The verdict is recorded as measured — met, not met, or not judged (other tenants held over half
    // the machine) — and the claim report counts it. What fails this test is what the host's speed
    // cannot explain: a missing event (never excused), or the checker missing the slowed control (above).
    // A late event is the claim's verdict, not the build's: on this 2-core machine the tier sits at its
    // knee at 50/s (p99 23 ms at 11:02, 111–385 ms from 12:20 with the same commit), as with
    // streams.throughput and mesh.performance.
    const missing = result.figures.reduce((n, f) => n + f.missing, 0);
    expect(missing, result.verdict.measured).toBe(0);
    expect(
      result.figures.every((f) => f.count > 0),
      result.verdict.measured,
    ).toBe(true);
    if (result.verdict.status !== 'met') {
      await annotate(
        `streams.latency ${result.verdict.status.toUpperCase()}: ${result.verdict.reason ?? ''}; measured ${result.verdict.measured}`,
        'warning',
      );
    }
  });

  test('streams.throughput: highest rate each processor sustains with p99 < 100 ms, driven by kafka-producer-perf-test, CPU recorded', async ({
    topology,
  }) => {
    const kafka = kafkaOf(topology);
    const brokers = kafka.bootstrapServers();
    // From 250/s: on 2 shared cores the knee sits below 1,000/s, and steps starting there read
    // only "below 1000 events/s". The steps stop at the first one not sustained.
    const rates = byProfile({
      quick: [250, 500, 1_000, 3_000, 10_000],
      nightly: [250, 500, 1_000, 2_000, 3_000, 5_000, 7_500, 10_000, 15_000],
      release: [250, 500, 1_000, 2_000, 3_000, 5_000, 7_500, 10_000, 15_000, 20_000],
    });
    const windowMs = byProfile({ quick: 6_000, nightly: 20_000, release: 30_000 });
    const steps: ThroughputStep[] = [];
    const toolSummaries: unknown[] = [];
    const toolBroker = kafka.brokers[0]!;
    const payloads = {
      'customer-analytics': Array.from({ length: 500 }, (_, i) =>
        JSON.stringify(customerEvent(`${RUN}-perf-${i}`, `cust-perf-${i}`, `Perf ${i}`, CUSTOMER_KINDS[i % 3]!, Date.now())),
      ),
      'order-processor': Array.from({ length: 500 }, (_, i) =>
        JSON.stringify(
          orderEvent(`${RUN}-perf-${i}`, `order-perf-${i}`, `cust-${i % 50}`, ORDER_STATUSES[i % 4]!, 10 + (i % 90), Date.now()),
        ),
      ),
    } as const;
    await toolBroker.copyContentToContainer(
      Object.entries(payloads).map(([name, lines]) => ({
        content: `${lines.join('\n')}\n`,
        target: `/tmp/bss-perf/${name}.txt`,
        mode: 0o644,
      })),
    );
    for (const name of ['customer-analytics', 'order-processor'] as const) {
      const input = name === 'customer-analytics' ? SHIPPED_TOPICS.customer : SHIPPED_TOPICS.order;
      await using proc = await processor(topology, { processor: name });
      const cpuOf = { [name]: proc.container, ...Object.fromEntries(kafka.brokers.map((b, i) => [`kafka-${i + 1}`, b])) };
      for (const rate of rates) {
        progress('throughput', `${name}: ${rate} events/s through kafka-producer-perf-test`);
        // Probe events ride along at a low fixed rate; their latency is the step's p99.
        await using out = await TopicRecorder.start(brokers, SHIPPED_TOPICS.analytics);
        const { keys, partitionOf } = keyRing(9, 'probe');
        const abort = new AbortController();
        const probe = openLoop({
          brokers,
          topic: input,
          ratePerSecond: 20,
          durationMs: windowMs + 20_000,
          partitionOf,
          signal: abort.signal,
          event: (n) => {
            const key = keys[n % keys.length]!;
            const id = `${RUN}-probe-${name}-${rate}-${n}`;
            const value = (at: number) =>
              JSON.stringify(
                name === 'customer-analytics'
                  ? customerEvent(id, key, 'Probe', 'updated', at)
                  : orderEvent(id, key, 'cust-probe', 'paid', 1, at),
              );
            return { key, id, value };
          },
        });
        let result;
        try {
          result = await perfStep({
            brokers,
            toolContainer: toolBroker,
            internalBootstrap: kafka.internalBootstrapServers().join(','),
            inputTopic: input,
            outputTopic: SHIPPED_TOPICS.analytics,
            payloadFile: `/tmp/bss-perf/${name}.txt`,
            ratePerSecond: rate,
            windowMs,
            cpuOf,
          });
        } finally {
          abort.abort();
        }
        const sent = (await probe).sent.filter((e) => e.intendedAt >= result.windowStartedAt && e.intendedAt <= result.windowEndedAt);
        // Drain (bounded) before judging the probe, so a backlog shows up as latency, not as loss.
        const ids = new Set(sent.map((e) => e.id));
        await expect
          .poll(() => outputsOf(out.records).filter((o) => ids.has(o.inputId)).length, { timeout: 30_000, interval: 250 })
          .toBeGreaterThanOrEqual(sent.length)
          .catch(() => undefined);
        const first = new Map<string, number>();
        for (const o of outputsOf(out.records)) if (ids.has(o.inputId) && !first.has(o.inputId)) first.set(o.inputId, o.receivedAt);
        const latency = latencyVerdict([
          {
            ratePerSecond: rate,
            sent: sent.length,
            latenciesMs: sent.filter((e) => first.has(e.id)).map((e) => first.get(e.id)! - e.intendedAt),
          },
        ]);
        const figures = latency.figures[0]!;
        const step: ThroughputStep = {
          processor: name,
          targetRate: rate,
          inputRate: Math.round(result.inputRate),
          outputRate: Math.round(result.outputRate),
          backlog: Math.max(0, result.inputRecords - result.outputRecords),
          inputRecords: result.inputRecords,
          probeP99: figures.missing > 0 ? Number.POSITIVE_INFINITY : figures.p99,
          cpu: result.cpu,
        };
        steps.push(step);
        toolSummaries.push({ processor: name, rate, summary: result.toolSummary, probe: figures });
        progress(
          'throughput',
          `${name} @${rate}: in ${step.inputRate}/s, out ${step.outputRate}/s, probe p99 ${figures.p99} ms, CPU ${JSON.stringify(step.cpu)}`,
        );
        // Let the backlog drain (bounded) so the next step starts clean.
        await expect
          .poll(async () => (await endOffsets(brokers, SHIPPED_TOPICS.analytics)).size > 0 && (await out.caughtUp()), { timeout: 30_000 })
          .toBe(true)
          .catch(() => undefined);
        if (!stepSustained(step, LATENCY_BOUND_MS)) break;
      }
    }
    // The input side's ceiling on the same cluster, no processor: the producer at acks=all,
    // unthrottled, into topics of its own with the shipped settings (nothing later reads them).
    const ceilingTopics = await isolatedTopics(topology, 'ceiling');
    progress('throughput', `producer alone: kafka-producer-perf-test unthrottled, acks=all → ${ceilingTopics.customer}`);
    const producer = await producerCeiling(
      {
        toolContainer: toolBroker,
        internalBootstrap: kafka.internalBootstrapServers().join(','),
        inputTopic: ceilingTopics.customer,
        payloadFile: '/tmp/bss-perf/customer-analytics.txt',
      },
      byProfile({ quick: 20_000, nightly: 100_000, release: 200_000 }),
    );
    progress('throughput', `producer alone: ${Math.round(producer.recordsPerSecond)} records/s, p99 ${producer.p99Ms} ms`);
    const result = recordVerdict(throughputVerdict(steps, CLAIMED_RATE, LATENCY_BOUND_MS, producer), {
      profile: PROFILE,
      windowMs,
      steps,
      toolSummaries,
      producer,
    });
    writeRunFile('benchmark/streams-throughput.json', {
      environment: describeEnvironment(),
      profile: PROFILE,
      steps,
      toolSummaries,
      producer,
    });
    // The 10,000/s claim may be out of reach on 2 shared cores: the verdict then says so with the figure.
    expect(['met', 'not met']).toContain(result.status);
    expect(
      steps.every((s) => s.outputRate > 0),
      'a step produced no output at all: the pipeline is broken, not slow',
    ).toBe(true);
  });

  test('streams.fault-tolerance: SIGKILL of one of two instances, a graceful stop and a broker kill lose nothing; recovery timed; commit-before-produce is caught', async ({
    topology,
  }) => {
    const kafka = kafkaOf(topology);
    const brokers = kafka.bootstrapServers();
    const partitions = [0, 1, 2];
    const cbpTopics = await isolatedTopics(topology, 'cbp');

    /** Steady open-loop input while `scenario` injects faults; then a bounded drain and the audit. */
    const underLoad = async (
      topics: StreamTopics,
      tag: string,
      rate: number,
      maxMs: number,
      scenario: (loopStart: number) => Promise<void>,
    ): Promise<{ sent: SentEvent[]; outputs: ReturnType<typeof outputsOf> }> => {
      const { keys, partitionOf } = keyRing(30, `ft-${tag}`);
      await using out = await TopicRecorder.start(brokers, topics.analytics);
      const abort = new AbortController();
      const loopStart = nowMs();
      const loop = openLoop({
        brokers,
        topic: topics.customer,
        ratePerSecond: rate,
        durationMs: maxMs,
        partitionOf,
        signal: abort.signal,
        event: (n) => {
          const key = keys[n % keys.length]!;
          const id = `${RUN}-${tag}-${n}`;
          return { key, id, value: (at) => JSON.stringify(customerEvent(id, key, `Steady ${n}`, 'updated', at)) };
        },
      });
      try {
        await scenario(loopStart);
      } finally {
        abort.abort();
      }
      const { sent } = await loop;
      const ids = new Set(sent.map((e) => e.id));
      await expect
        .poll(
          () =>
            new Set(
              outputsOf(out.records)
                .filter((o) => ids.has(o.inputId))
                .map((o) => o.inputId),
            ).size,
          { timeout: 45_000, interval: 500 },
        )
        .toBeGreaterThanOrEqual(sent.length)
        .catch(() => undefined);
      return { sent, outputs: outputsOf(out.records).filter((o) => ids.has(o.inputId)) };
    };
    const recovered = async (
      faultAt: number,
      sentSoFar: () => SentEvent[],
      outputs: () => ReturnType<typeof outputsOf>,
      boundS: number,
      /** The partitions the fault took away (the stopped instance's); default: all. */
      affected: readonly number[] = partitions,
    ) => {
      const watched = affected.length ? affected : partitions;
      await expect
        .poll(() => recoverySeconds(faultAt, sentSoFar(), outputs(), watched), { timeout: (boundS + 20) * 1000, interval: 250 })
        .toBeLessThan(Number.POSITIVE_INFINITY)
        .catch(() => undefined);
      return recoverySeconds(faultAt, sentSoFar(), outputs(), watched);
    };

    // The shipped processor: two instances in group bss-customer-analytics.
    const instance = (alias: string, topics = SHIPPED_TOPICS, environment: Record<string, string> = { TRACE_BATCHES: '1' }) =>
      processor(topology, { processor: 'customer-analytics', alias, topics, environment });
    const phases: Array<{ name: string; recoverySeconds: number; recoveryBoundSeconds?: number }> = [];
    let liveSent: () => SentEvent[] = () => [];
    let liveOut: () => ReturnType<typeof outputsOf> = () => [];
    // TRACE_BATCHES only adds log lines (each batch's offsets, each commit): a loss can be traced in the kept logs.
    const shippedInstance = (alias: string): ProcessorOptions => ({
      processor: 'customer-analytics',
      alias,
      environment: { TRACE_BATCHES: '1' },
    });
    const [a, b] = (await processors(topology, shippedInstance('customer-analytics-a'), shippedInstance('customer-analytics-b'))) as [
      Awaited<ReturnType<typeof instance>>,
      Awaited<ReturnType<typeof instance>>,
    ];
    let c: Awaited<ReturnType<typeof instance>> | undefined;
    try {
      // The recorder and loop live inside underLoad; a shared view lets the scenario poll recovery.
      const shippedRun = await (async () => {
        const { keys, partitionOf } = keyRing(30, 'ft');
        const inputStart = await endOffsets(brokers, SHIPPED_TOPICS.customer);
        await using out = await TopicRecorder.start(brokers, SHIPPED_TOPICS.analytics);
        const abort = new AbortController();
        const sentView: SentEvent[] = [];
        const loop = openLoop({
          brokers,
          topic: SHIPPED_TOPICS.customer,
          ratePerSecond: STEADY_RATE,
          durationMs: 150_000,
          partitionOf,
          signal: abort.signal,
          event: (n) => {
            const key = keys[n % keys.length]!;
            const id = `${RUN}-ft-${n}`;
            sentView.push({ id, key, partition: partitionOf(key), seq: 0, intendedAt: nowMs(), value: '' });
            return { key, id, value: (at) => JSON.stringify(customerEvent(id, key, `Steady ${n}`, 'updated', at)) };
          },
        });
        liveSent = () => sentView;
        liveOut = () => outputsOf(out.records);
        try {
          await expect.poll(() => liveOut().length, { timeout: 30_000 }).toBeGreaterThan(2 * STEADY_RATE);
          // Both instances must own input partitions, or killing one proves nothing.
          await expect
            .poll(async () => [(await a.partitions()).length, (await b.partitions()).length].every((n) => n > 0), {
              timeout: 30_000,
              interval: 500,
            })
            .toBe(true);
          const ownedByA = await a.partitions();
          progress('fault-tolerance', `SIGKILL customer-analytics-a (partitions ${ownedByA.join(',')})`);
          // From the moment docker reports the process dead: until then it may still be producing,
          // and an event it handled in the last milliseconds would read as an instant recovery.
          await kill(a.container);
          let at = nowMs();
          phases.push({
            name: 'sigkill',
            recoverySeconds: await recovered(at, liveSent, liveOut, SIGKILL_RECOVERY_BOUND_S, ownedByA),
            recoveryBoundSeconds: SIGKILL_RECOVERY_BOUND_S,
          });
          c = await instance('customer-analytics-c');
          // Caught up on the backlog of the outage (within two seconds of input) before the next fault.
          await expect
            .poll(() => liveOut().length, { timeout: 90_000, interval: 500 })
            .toBeGreaterThan(liveSent().length - 2 * STEADY_RATE);
          await expect
            .poll(async () => [(await b.partitions()).length, (await c!.partitions()).length].every((n) => n > 0), {
              timeout: 30_000,
              interval: 500,
            })
            .toBe(true);
          const ownedByB = await b.partitions();
          progress('fault-tolerance', `graceful stop of customer-analytics-b (partitions ${ownedByB.join(',')})`);
          at = nowMs();
          await gracefulStop(b.container);
          phases.push({
            name: 'graceful-stop',
            recoverySeconds: await recovered(at, liveSent, liveOut, GRACEFUL_RECOVERY_BOUND_S, ownedByB),
            recoveryBoundSeconds: GRACEFUL_RECOVERY_BOUND_S,
          });
          progress('fault-tolerance', 'SIGKILL broker kafka-2, then start it again');
          const broker = kafka.brokers[1]!;
          at = nowMs();
          await kill(broker);
          phases.push({ name: 'broker-kill', recoverySeconds: await recovered(at, liveSent, liveOut, 30) });
          await startContainer(broker);
          // A restarted broker's JVM takes a minute to rejoin on two busy cores: quick runs check that
          // processing goes on after the restart, longer profiles also wait for the broker to be back.
          if (PROFILE !== 'quick') await expect.poll(async () => kafka.clusterSize(), { timeout: 120_000, interval: 1_000 }).toBe(3);
          const restartedAt = nowMs();
          await expect
            .poll(() => liveOut().filter((o) => o.receivedAt > restartedAt).length, { timeout: 60_000 })
            .toBeGreaterThan(2 * STEADY_RATE);
        } finally {
          abort.abort();
        }
        const { sent } = await loop;
        const ids = new Set(sent.map((e) => e.id));
        await expect
          .poll(
            () =>
              new Set(
                liveOut()
                  .filter((o) => ids.has(o.inputId))
                  .map((o) => o.inputId),
              ).size,
            { timeout: 45_000, interval: 500 },
          )
          .toBeGreaterThanOrEqual(sent.length)
          .catch(() => undefined);
        return { sent, outputs: liveOut().filter((o) => ids.has(o.inputId)), inputStart, outputStart: out.startOffsets };
      })();
      const delivery = auditDelivery(shippedRun.sent, shippedRun.outputs);
      if (delivery.lost.length > 0) {
        // Where the lost events are: their input offsets, and whether a fresh reader finds their outputs (a recorder miss) or not.
        const lost = new Set(delivery.lost);
        await using input = await TopicRecorder.start(brokers, SHIPPED_TOPICS.customer, shippedRun.inputStart);
        await using output = await TopicRecorder.start(brokers, SHIPPED_TOPICS.analytics, shippedRun.outputStart);
        await caughtUp(input, () => true, 30_000).catch(() => undefined);
        await caughtUp(output, () => true, 30_000).catch(() => undefined);
        const inputOffsets = input.records
          .map((r) => ({
            id: (JSON.parse(r.value.toString('utf8')) as { id?: string }).id ?? '',
            partition: r.partition,
            offset: r.offset,
          }))
          .filter((r) => lost.has(r.id));
        const foundOnReread = new Set(outputsOf(output.records).map((o) => o.inputId));
        writeRunFile('benchmark/streams-fault-tolerance-loss.json', {
          lost: delivery.lost.length,
          foundInOutputOnReread: delivery.lost.filter((id) => foundOnReread.has(id)).length,
          foundInInputOnReread: inputOffsets.length,
          reread: { input: input.records.length, output: output.records.length, sent: shippedRun.sent.length },
          inputOffsets,
        });
      }
      const result = recordVerdict(faultToleranceVerdict(delivery, phases), {
        profile: PROFILE,
        phases,
        delivery: { ...delivery, lost: delivery.lost.slice(0, 50) },
        sessionTimeoutMs: 6_000,
        heartbeatIntervalMs: 1_000,
      });
      writeRunFile('benchmark/streams-fault-tolerance.json', {
        environment: describeEnvironment(),
        phases,
        duplicates: delivery.duplicates,
        gaps: delivery.gaps,
      });

      // Negative control: an instance that commits before producing (slowed: 2 s a record between the
      // commit and its outputs), SIGKILLed while its last log line says a batch is committed and not
      // produced; a correct peer in the same group takes its partitions over from the committed offset.
      // (Killed at a moment chosen by the clock, the control missed the window in one CI run: nothing lost.)
      const group = { GROUP_ID: `neg-cbp-${RUN}` };
      const broken = { ...group, TEST_COMMIT_BEFORE_PRODUCE: '1', TEST_PROCESSING_DELAY_MS: '2000', TRACE_BATCHES: '1' };
      const [x, y] = (await processors(
        topology,
        { processor: 'customer-analytics', alias: 'customer-analytics-cbp-1', topics: cbpTopics, environment: broken },
        { processor: 'customer-analytics', alias: 'customer-analytics-cbp-2', topics: cbpTopics, environment: group },
      )) as [Awaited<ReturnType<typeof instance>>, Awaited<ReturnType<typeof instance>>];
      const inWindow = (): boolean => /committed @\d+ before producing/.test(x.lastLogLine());
      try {
        const controlRun = await underLoad(cbpTopics, 'cbp', 10, 30_000, async (loopStart) => {
          // 3 s of load first: the peer has delivered its share, and the slowed instance has a backlog in its window.
          await expect.poll(() => nowMs() - loopStart, { timeout: 10_000, interval: 100 }).toBeGreaterThan(3_000);
          await expect.poll(async () => (await x.partitions()).length, { timeout: 15_000, interval: 200 }).toBeGreaterThan(0);
          await expect.poll(inWindow, { timeout: 15_000, interval: 50 }).toBe(true);
          progress(
            'fault-tolerance',
            `control: SIGKILL customer-analytics-cbp-1 inside its commit-before-produce window (partitions ${(await x.partitions()).join(',')})`,
          );
          await kill(x.container);
        });
        const controlDelivery = auditDelivery(controlRun.sent, controlRun.outputs);
        const control = recordVerdict(
          faultToleranceVerdict(controlDelivery, []),
          { delivery: { ...controlDelivery, lost: controlDelivery.lost.slice(0, 50) } },
          'commit-before-produce',
        );
        expect(control.status, control.measured).toBe('not met');
      } finally {
        await x.stop();
        await y.stop();
      }
      expect(result.status, result.reason ?? result.measured).toBe('met');
    } finally {
      await Promise.allSettled([a.stop(), b.stop(), c?.stop()]);
    }
  });

  test('bad input: unreachable brokers are named in one line per bounded attempt; a missing topic is named', async ({ topology }) => {
    const [unreachable, missing] = (await processors(
      topology,
      {
        processor: 'order-processor',
        alias: 'order-processor-no-broker',
        brokers: ['nowhere-1:9092', 'nowhere-2:9092'],
        environment: { CONNECT_ATTEMPTS: '3', CONNECT_RETRY_MS: '300' },
        waitFor: /gave up/,
      },
      {
        processor: 'customer-analytics',
        alias: 'customer-analytics-missing-topic',
        environment: { INPUT_TOPIC: 'bss.no-such.events', GROUP_ID: `neg-missing-${RUN}` },
        waitFor: /does not exist/,
      },
    )) as [Awaited<ReturnType<typeof processor>>, Awaited<ReturnType<typeof processor>>];
    try {
      let log = '';
      await expect.poll(async () => (log = await logsOf(unreachable.container)), { timeout: 20_000, interval: 1_000 }).toMatch(/gave up/);
      const lines = log.split('\n').filter((l) => l.includes('order-processor:') && !l.includes('kafka warning'));
      expect(lines.filter((l) => /no Kafka broker answers at nowhere-1:9092,nowhere-2:9092 \(attempt \d\/3/.test(l))).toHaveLength(2);
      expect(
        lines.some((l) =>
          /gave up: no Kafka broker answered at nowhere-1:9092,nowhere-2:9092 after 3 attempts .*check KAFKA_BROKERS/.test(l),
        ),
      ).toBe(true);
      await expect
        .poll(() => logsOf(missing.container), { timeout: 20_000, interval: 1_000 })
        .toMatch(/topic bss\.no-such\.events does not exist on .*create it/);
    } finally {
      await unreachable.stop();
      await missing.stop();
    }
  });
});
