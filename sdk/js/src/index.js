// kscen-sdk for JavaScript: the Rust SDK's shape over the kscen:scenario@0.5.0 imports, for
// scenarios compiled to a component with ComponentizeJS. Bundle a scenario with `build.mjs`.
//
// Conventions: durations are milliseconds (numbers); the host's u64 counters are turned into
// numbers (exact up to 2^53, far beyond any run); a failed host call throws a ScenarioError
// whose message is the run's error string.

import * as clock from 'kscen:scenario/clock@0.1.0';
import * as connectHost from 'kscen:scenario/connect@0.1.0';
import * as grantsHost from 'kscen:scenario/grants@0.5.0';
import * as kafka from 'kscen:scenario/kafka@0.1.0';
import * as log from 'kscen:scenario/log@0.1.0';
import * as metrics from 'kscen:scenario/metrics@0.1.0';
import * as params from 'kscen:scenario/params@0.1.0';

export { mm2 } from './mm2.js';

/** A scenario's failure: its message becomes the run's error string. */
export class ScenarioError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ScenarioError';
  }
}

/**
 * Calls a host function, turning its `error` variant into a ScenarioError worded as the Rust
 * SDK words it (`kafka: ...`, `connect: HTTP 409: ...`).
 * @template T
 * @param {() => T} call
 * @returns {T}
 */
export function host(call) {
  try {
    return call();
  } catch (thrown) {
    const error = thrown?.payload;
    if (error?.tag === undefined) throw thrown;
    const message =
      error.tag === 'connect'
        ? `connect: HTTP ${error.val.status}: ${error.val.message}`
        : `${error.tag.replace('-', ' ')}: ${error.val}`;
    const wrapped = new ScenarioError(message);
    wrapped.kind = error.tag;
    throw wrapped;
  }
}

/** The host's u64 fields as numbers, recursively (records, lists, options). */
function numbers(value) {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(numbers);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, numbers(v)]));
  }
  return value;
}

// ---------------------------------------------------------------- describe

/** Parameter declarations: the default is written as the scenario file would write it. */
export const spec = {
  int: (name, dflt, help) => paramSpec(name, 'int', String(Math.trunc(dflt)), help),
  float: (name, dflt, help) => paramSpec(name, 'float', floatText(dflt), help),
  text: (name, dflt, help) => paramSpec(name, 'text', JSON.stringify(dflt), help),
  flag: (name, dflt, help) => paramSpec(name, 'flag', String(Boolean(dflt)), help),
  /** `dflt` as written in TOML: "5m", "500ms". */
  duration: (name, dflt, help) => paramSpec(name, 'duration', JSON.stringify(dflt), help),
  /** `dflt` as written in TOML: "1024", "1MiB". */
  size: (name, dflt, help) => paramSpec(name, 'size', JSON.stringify(dflt), help),
  floatList: (name, dflt, help) =>
    paramSpec(name, 'float-list', `[${dflt.map(floatText).join(', ')}]`, help),
  sizeList: (name, dflt, help) => paramSpec(name, 'size-list', `[${dflt.join(', ')}]`, help),
  /** A parameter the scenario file must set; `kind` is a WIT param-kind ('int', 'size-list'...). */
  required: (name, kind, help) => paramSpec(name, kind, undefined, help),
};

function paramSpec(name, kind, dflt, help) {
  return { name, kind, default: dflt, help };
}

/** TOML reads `1000` as an integer: a float default keeps its decimal point. */
function floatText(value) {
  return Number.isInteger(value) ? value.toFixed(1) : String(value);
}

/** What a scenario is: its parameters, the capabilities it needs and those it can do without. */
export class Describe {
  constructor(name, summary) {
    this.info = { name, summary, description: '', params: [], capabilities: [] };
    this.optional = [];
  }
  description(text) {
    this.info.description = text;
    return this;
  }
  param(declared) {
    this.info.params.push(declared);
    return this;
  }
  cluster(name) {
    this.info.capabilities.push({ tag: 'cluster', val: name });
    return this;
  }
  topic(cluster, pattern) {
    this.info.capabilities.push({ tag: 'topic', val: { cluster, pattern } });
    return this;
  }
  connect() {
    this.info.capabilities.push({ tag: 'connect' });
    return this;
  }
  fault(target) {
    this.info.capabilities.push({ tag: 'fault', val: target });
    return this;
  }
  probe(name) {
    this.info.capabilities.push({ tag: 'probe', val: name });
    return this;
  }
  optionalCluster(name) {
    this.optional.push({ tag: 'cluster', val: name });
    return this;
  }
  optionalProbe(name) {
    this.optional.push({ tag: 'probe', val: name });
    return this;
  }
  optionalConnect() {
    this.optional.push({ tag: 'connect' });
    return this;
  }
  /** Lets a helper declare its parameters and capabilities: `.apply(mm2.followWhenMirrored)`. */
  apply(declare) {
    return declare(this);
  }
}

/**
 * The component's three exports. Use as
 * `export const { describe, optionalCapabilities, run } = scenario(new Describe(...)..., main);`
 * Whatever `main` throws fails the run with its message.
 * @param {Describe} described
 * @param {() => void} main
 */
export function scenario(described, main) {
  return {
    describe: () => described.info,
    optionalCapabilities: () => described.optional,
    run: () => {
      try {
        main();
      } catch (error) {
        // A `result<_, string>` export's error is what the function throws: a string.
        throw error instanceof Error ? error.message : String(error);
      }
    },
  };
}

// ---------------------------------------------------------------- params

function paramValue(name, ...kinds) {
  const value = host(() => params.get(name));
  if (!kinds.includes(value.tag)) {
    throw new ScenarioError(`parameter ${JSON.stringify(name)} is not declared as ${kinds[0]}`);
  }
  return value.val;
}

/** Typed parameter getters; durations in ms, sizes in bytes. */
export const param = {
  int: (name) => Number(paramValue(name, 'int')),
  float: (name) => Number(paramValue(name, 'float', 'int')),
  text: (name) => paramValue(name, 'text'),
  flag: (name) => paramValue(name, 'flag'),
  duration: (name) => Number(paramValue(name, 'duration-ms')),
  size: (name) => Number(paramValue(name, 'size-bytes')),
  floatList: (name) => [...paramValue(name, 'float-list')],
  sizeList: (name) => [...paramValue(name, 'size-list')].map(Number),
  timeScale: () => params.timeScale(),
};

// ---------------------------------------------------------------- metrics, log, clock

export const phase = (name) => metrics.phaseBegin(name);
export const endPhase = () => metrics.phaseEnd();
export const event = (kind, message) => metrics.event(kind, message);
export const figure = (name, value, unit) => metrics.figure(name, value, unit);
export const gauge = (name, value) => metrics.gauge(name, value);
/** Records `value` (a non-negative integer) in the custom histogram `histogram`. */
export const recordValue = (histogram, value) =>
  host(() => metrics.recordValue(histogram, BigInt(Math.round(value))));
export const info = (message) => log.log('info', message);
export const warn = (message) => log.log('warn', message);

/** Sleeps on the host's clock. */
export const sleep = (ms) => clock.sleepMs(BigInt(Math.max(0, Math.round(ms))));
/** The host's monotonic clock, ms since the run started. */
export const monotonicNow = () => Number(clock.monotonicNowNs()) / 1e6;
export const wallNowMs = () => Number(clock.wallNowMs());

// ---------------------------------------------------------------- kafka

/** Creates a topic (an existing one is accepted as it is); replication factor: the cluster's. */
export function createTopic(cluster, topic, partitions, config = {}) {
  host(() => kafka.createTopic(cluster, topic, partitions, 0, Object.entries(config)));
}

export const endOffsets = (cluster, topic) => numbers(host(() => kafka.endOffsets(cluster, topic)));

/**
 * Produces one record and waits for its acknowledgement: `{ partition, offset, latencyUs }`
 * (send to delivery report, measured by the host). `key` and `value` are Uint8Arrays or strings
 * (UTF-8); `key` may be undefined. For load, start a `Load` job: the host paces and measures it.
 */
export function produce(cluster, topic, key, value) {
  return numbers(host(() => kafka.produce(cluster, topic, bytes(key), bytes(value))));
}

const encoder = new TextEncoder();
const bytes = (data) => (typeof data === 'string' ? encoder.encode(data) : data);

/** What the run holds: a listed capability always, an optional one when the environment has it. */
export const grants = {
  cluster: (name) => grantsHost.granted({ tag: 'cluster', val: name }),
  probe: (name) => grantsHost.granted({ tag: 'probe', val: name }),
  connect: () => grantsHost.granted({ tag: 'connect' }),
};

/** A load job on the host: `Load.to('source', topic).rate(1000).recordSize(1024).start()`. */
export class Load {
  /** @returns {LoadBuilder} */
  static to(cluster, topic) {
    return new LoadBuilder(cluster, topic);
  }
  constructor(handle) {
    this.handle = handle;
  }
  /** The job's counters so far (numbers), `replication` when it follows records. */
  status() {
    return numbers(this.handle.status());
  }
  setRate(perSecond) {
    host(() => this.handle.setRate({ tag: 'per-second', val: perSecond }));
  }
  unthrottle() {
    host(() => this.handle.setRate({ tag: 'unthrottled' }));
  }
  /** Stops the job and returns its final status (with the replication verdict). */
  stop() {
    return numbers(this.handle.stop());
  }
  /** Waits for a job with a count or a duration to finish (at most `timeoutMs`). */
  wait(timeoutMs) {
    const timeout = timeoutMs === undefined ? undefined : BigInt(Math.round(timeoutMs));
    return numbers(host(() => this.handle.wait(timeout)));
  }
}

export class LoadBuilder {
  constructor(cluster, topic) {
    this.spec = {
      cluster,
      topic,
      rate: { tag: 'unthrottled' },
      recordSizes: new Uint32Array([1024]),
      keyMode: { tag: 'none' },
      producerConfig: [],
    };
  }
  rate(perSecond) {
    this.spec.rate = { tag: 'per-second', val: perSecond };
    return this;
  }
  unthrottled() {
    this.spec.rate = { tag: 'unthrottled' };
    return this;
  }
  count(records) {
    this.spec.count = BigInt(records);
    return this;
  }
  duration(ms) {
    this.spec.durationMs = BigInt(Math.round(ms));
    return this;
  }
  recordSize(bytes) {
    return this.recordSizes([bytes]);
  }
  recordSizes(sizes) {
    this.spec.recordSizes = new Uint32Array(sizes);
    return this;
  }
  /** Keys: 'none', 'sequential', or a number N for random keys among N values. */
  keys(mode) {
    this.spec.keyMode = typeof mode === 'number' ? { tag: 'random', val: BigInt(mode) } : { tag: mode };
    return this;
  }
  producer(key, value) {
    this.spec.producerConfig.push([key, value]);
    return this;
  }
  /** Follows every record across the mirror to `cluster` (lost after a 60 s grace by default). */
  replicateTo(cluster) {
    this.spec.replication = { cluster, graceMs: 60000n };
    return this;
  }
  remoteTopic(topic) {
    if (this.spec.replication) this.spec.replication.topic = topic;
    return this;
  }
  grace(ms) {
    if (this.spec.replication) this.spec.replication.graceMs = BigInt(Math.round(ms));
    return this;
  }
  /** @returns {Load} */
  start() {
    return new Load(host(() => kafka.startLoad(this.spec)));
  }
}

// ---------------------------------------------------------------- connect

/** Kafka Connect through the host, its errors as ScenarioError. */
export const connect = {
  status: (connector) => host(() => connectHost.status(connector)),
  restart: (connector, includeTasks = false, onlyFailed = false) =>
    host(() => connectHost.restart(connector, includeTasks, onlyFailed)),
  pause: (connector) => host(() => connectHost.pause(connector)),
  resume: (connector) => host(() => connectHost.resume(connector)),
};
