// MirrorMaker 2 helpers, as the Rust SDK's `mm2` module: the run's mirror found by the host
// (by connector class, whatever the names), connector health, waiting and timing reactions,
// and the tracked load every MM2 scenario shares.

import * as mm2Host from 'kscen:scenario/mm2@0.3.0';

import {
  Load,
  ScenarioError,
  connect,
  createTopic,
  endOffsets,
  endPhase,
  event,
  figure,
  grants,
  host,
  monotonicNow,
  param,
  phase,
  sleep,
  spec,
  warn,
  wallNowMs,
} from './index.js';

const ROLES = ['source', 'checkpoint', 'heartbeat'];

/** The run's mirror (the profile's `[mm2]` choice, or the only one Connect runs). */
function mirror() {
  return host(() => mm2Host.runMirror());
}

/** The name of `mirror`'s connector in `role` ('source', 'checkpoint', 'heartbeat'). */
function connectorName(mirror, role) {
  if (!ROLES.includes(role)) {
    throw new ScenarioError(
      `${JSON.stringify(role)} is not a MirrorMaker 2 connector role (source, checkpoint, heartbeat)`,
    );
  }
  const found = mirror.connectors.find((c) => c.role === role);
  if (!found) {
    throw new ScenarioError(
      `mirror ${mirror.label} runs no ${role} connector (see kscen describe-deployment)`,
    );
  }
  return found.name;
}

const connectorNames = (mirror) => mirror.connectors.map((c) => c.name);

/** RUNNING on a live worker, and so is every task. */
function healthy(status) {
  return (
    status.state === 'running' &&
    status.workerAlive &&
    status.tasks.every((t) => t.state === 'running' && t.workerAlive)
  );
}

/** `connector/task` of every FAILED task. */
function failedTasks(statuses) {
  return statuses.flatMap((s) =>
    s.tasks.filter((t) => t.state === 'failed').map((t) => `${s.name}/${t.id}`),
  );
}

const statuses = (connectors) => connectors.map((c) => connect.status(c));

/**
 * Calls `check` every `everyMs` until it returns true (→ the ms it took) or `timeoutMs` passed
 * (→ undefined).
 */
function waitUntil(timeoutMs, everyMs, check) {
  const start = monotonicNow();
  for (;;) {
    if (check()) return monotonicNow() - start;
    if (monotonicNow() - start >= timeoutMs) return undefined;
    sleep(everyMs);
  }
}

/** Waits until every connector is healthy: the ms it took, undefined on timeout. */
const waitHealthy = (connectors, timeoutMs, everyMs) =>
  waitUntil(timeoutMs, everyMs, () => statuses(connectors).every(healthy));

/** Where each connector and task runs and in which state: what a reaction changes. */
function shape(statuses) {
  return JSON.stringify(
    statuses
      .flatMap((s) => [
        [s.name, -1, s.workerId, s.state],
        ...s.tasks.map((t) => [s.name, t.id, t.workerId, t.state]),
      ])
      .sort((a, b) => (a[0] === b[0] ? a[1] - b[1] : a[0] < b[0] ? -1 : 1)),
  );
}

/**
 * Watches `connectors` after an action taken at `since` (monotonicNow ms): when their status
 * first differs from `baseline` (detected), when `recovered(statuses)` holds after that, the
 * load's lag peak and the tasks seen FAILED. With `quietMs`, a change that has not shown that
 * long after the action while `recovered` holds will not show: the reaction ends undetected.
 */
function watchReaction({ connectors, baseline, since, load, quietMs, timeoutMs, everyMs, recovered }) {
  const before = shape(baseline);
  const reaction = { lagPeakRecords: 0, lagPeakMs: 0, failedTasks: [] };
  for (;;) {
    const elapsed = monotonicNow() - since;
    // The lag first: a slow status call could otherwise let the lag at the action drain before
    // it is read.
    const replication = load?.status().replication;
    if (replication) {
      reaction.lagPeakRecords = Math.max(reaction.lagPeakRecords, replication.lagRecords);
      reaction.lagPeakMs = Math.max(reaction.lagPeakMs, replication.lagMs);
    }
    const current = statuses(connectors);
    if (reaction.detected === undefined && shape(current) !== before) reaction.detected = elapsed;
    for (const failed of failedTasks(current)) {
      if (!reaction.failedTasks.includes(failed)) reaction.failedTasks.push(failed);
    }
    if (reaction.detected !== undefined && recovered(current)) {
      reaction.recovered = elapsed;
      return reaction;
    }
    const quiet = quietMs !== undefined && reaction.detected === undefined && elapsed >= quietMs;
    if ((quiet && recovered(current)) || elapsed >= timeoutMs) return reaction;
    sleep(everyMs);
  }
}

/** A reaction as figures `<prefix>_detected_ms`, `<prefix>_ms`, lag peaks and failed tasks. */
function recordReaction(prefix, reaction) {
  if (reaction.detected !== undefined) figure(`${prefix}_detected_ms`, reaction.detected, 'ms');
  if (reaction.recovered !== undefined) figure(`${prefix}_ms`, reaction.recovered, 'ms');
  figure(`${prefix}_lag_peak_records`, reaction.lagPeakRecords, 'records');
  figure(`${prefix}_lag_peak_ms`, reaction.lagPeakMs, 'ms');
  figure(`${prefix}_failed_tasks`, reaction.failedTasks.length, 'tasks');
  for (const failed of reaction.failedTasks) event('task-failed', failed);
}

/** Waits for a followed load's first record on the target: the ms it took. */
function waitFirstReplicated(load, timeoutMs) {
  const took = waitUntil(timeoutMs, 200, () => (load.status().replication?.replicated ?? 0) > 0);
  if (took === undefined) {
    throw new ScenarioError(
      `no record reached the target within ${timeoutMs} ms: is MirrorMaker 2 replicating this topic?`,
    );
  }
  return took;
}

/** The verdict of a followed load as figures `lost` and `duplicates`. */
function recordVerdict(status) {
  if (status.replication) {
    figure('lost', status.replication.lost, 'records');
    figure('duplicates', status.replication.duplicates, 'records');
  }
}

// ---------------------------------------------------------------- producer tests, mirror optional

/**
 * Declares a producer test that follows its records across the mirror where the environment
 * has a `target` cluster and Connect, and runs producer-only elsewhere.
 */
function followWhenMirrored(describe) {
  return describe
    .optionalCluster('target')
    .optionalConnect()
    .param(
      spec.int(
        'grace_s',
        60,
        'through a mirror: a record not on the target this many seconds after its ack is lost',
      ),
    )
    .param(
      spec.int('discovery_timeout_s', 660, 'through a mirror: seconds to wait for it to carry a new topic'),
    );
}

/**
 * The mirror to follow `topic` across (after waiting until it carries the topic), or undefined
 * where the environment has none: the scenario then runs producer-only, and says so.
 */
function mirrorToFollow(topic) {
  const without = (why) => {
    const message = `producer-only: ${why}; no record is followed across a mirror`;
    event('mirror', message);
    warn(message);
    return undefined;
  };
  if (!grants.cluster('target')) return without('this environment has no cluster `target`');
  let found;
  try {
    found = mirror();
  } catch (error) {
    if (error.kind === 'not-found') return without(error.message.replace(/^not found: /, ''));
    throw error;
  }
  event('mirror', `following every record across ${found.label}`);
  if (grants.connect()) {
    const failed = failedTasks(statuses(connectorNames(found)));
    if (failed.length > 0) {
      throw new ScenarioError(
        `the mirror ${found.label} is failing before the run starts: ${failed.join(', ')} FAILED; ` +
          'fix it (or restart its tasks) first',
      );
    }
  }
  awaitDiscovery(topic, Math.max(1, param.int('discovery_timeout_s')) * 1000);
  return found;
}

/** Until the mirror carries `topic`: a trickle of followed records until the first arrives. */
function awaitDiscovery(topic, timeoutMs) {
  const remote = host(() => mm2Host.remoteTopic(topic));
  try {
    endOffsets('target', remote);
    event('mirror', `${topic} is mirrored as ${remote} already`);
    return;
  } catch {
    // Not on the target yet: wait for the mirror to discover it.
  }
  phase('mirror-discovery');
  const trickle = Load.to('source', topic).rate(10).recordSize(64).replicateTo('target').start();
  let took;
  try {
    took = waitFirstReplicated(trickle, timeoutMs);
  } finally {
    trickle.stop();
    endPhase();
  }
  event('mirror', `the mirror carries ${topic} as ${remote} after ${Math.round(took)} ms`);
}

/** `load` following records across `mirror` when there is one (grace from `grace_s`). */
function followed(load, mirror) {
  return mirror ? load.replicateTo('target').grace(Math.max(0, param.int('grace_s')) * 1000) : load;
}

// ---------------------------------------------------------------- the tracked load of MM2 tests

/** The parameters of the tracked load; `defaults`: topic, rate, partitions, grace. */
function trackedLoadParams(describe, defaults = {}) {
  const { topic = 'test-mm2-perf', rate = 1000, partitions = 8, grace = '60s' } = defaults;
  return describe
    .param(spec.text('topic', topic, 'source topic (a fresh suffix is added per run)'))
    .param(spec.float('rate', rate, 'records per second'))
    .param(spec.size('record_size', '1024', 'record value size (at least 32 bytes)'))
    .param(spec.int('partitions', partitions, 'partitions of the source topic'))
    .param(spec.duration('grace', grace, 'a record not on target this long after its ack is lost'));
}

/** A fresh topic, a followed load on it, once its first record is on the target: {load, topic}. */
function startTrackedLoad(topicConfig = {}) {
  const topic = `${param.text('topic')}-${wallNowMs()}`;
  createTopic('source', topic, param.int('partitions'), topicConfig);
  const load = Load.to('source', topic)
    .rate(param.float('rate'))
    .recordSize(param.size('record_size'))
    .replicateTo('target')
    .grace(param.duration('grace'))
    .start();
  const took = waitFirstReplicated(load, 120000);
  event('mirror', `first record of ${topic} replicated after ${Math.round(took)} ms`);
  return { load, topic };
}

/** Stops the tracked load, ends the phase and records the verdict. */
function finishTrackedLoad(load) {
  const status = load.stop();
  endPhase();
  recordVerdict(status);
}

export const mm2 = {
  ROLES,
  mirror,
  mirrors: () => host(() => mm2Host.allMirrors()),
  remoteTopic: (topic) => host(() => mm2Host.remoteTopic(topic)),
  connectorName,
  connectorNames,
  healthy,
  failedTasks,
  statuses,
  waitUntil,
  waitHealthy,
  watchReaction,
  recordReaction,
  waitFirstReplicated,
  recordVerdict,
  followWhenMirrored,
  mirrorToFollow,
  followed,
  trackedLoadParams,
  startTrackedLoad,
  finishTrackedLoad,
};
