// PERF-03 in JavaScript: bursts at the burst rate alternating with pauses at the nominal rate,
// N cycles. The same parameters, phases and figures as the Rust `burst` plugin.

import {
  Describe,
  Load,
  ScenarioError,
  createTopic,
  endPhase,
  figure,
  mm2,
  param,
  phase,
  scenario,
  sleep,
  spec,
} from 'kscen-sdk';

const described = new Describe(
  'burst-js',
  'Bursts at burst_rate alternating with nominal pauses, N cycles (PERF-03, JavaScript)',
)
  .description(
    'One load job alternates `burst_duration` at `burst_rate` with `pause_duration` at ' +
      '`nominal_rate`, `cycles` times. Phases: burst-1, pause-1, burst-2, ... Where the ' +
      'environment has a `target` cluster and a mirror, every record is followed across it, and ' +
      'the replication lag is recorded before, at the end of, and after each burst (figures ' +
      '`burst-N.lag_before`, `burst-N.lag_at_end`, `burst-N.lag_after`, in records, and the same ' +
      "with `_ms` for the oldest record's wait). Elsewhere it runs producer-only and says so.",
  )
  .param(spec.text('topic', 'test-mm2-perf', 'topic to produce to'))
  .param(spec.float('nominal_rate', 1000, 'records per second between bursts'))
  .param(spec.float('burst_rate', 3000, 'records per second during a burst'))
  .param(spec.duration('burst_duration', '5m', 'length of each burst'))
  .param(spec.duration('pause_duration', '5m', 'length of each nominal pause'))
  .param(spec.int('cycles', 3, 'number of burst + pause cycles'))
  .param(spec.size('record_size', '1024', 'record value size'))
  .param(spec.int('partitions', 6, 'partitions when the topic is created'))
  .cluster('source')
  .apply(mm2.followWhenMirrored);

function main() {
  const topic = param.text('topic');
  const nominal = param.float('nominal_rate');
  const burst = param.float('burst_rate');
  const burstDuration = param.duration('burst_duration');
  const pauseDuration = param.duration('pause_duration');
  const cycles = param.int('cycles');
  if (cycles < 1) throw new ScenarioError('cycles must be at least 1');
  createTopic('source', topic, param.int('partitions'));
  const mirror = mm2.mirrorToFollow(topic);

  phase('burst-1');
  const builder = Load.to('source', topic).rate(burst).recordSize(param.size('record_size'));
  const load = mm2.followed(builder, mirror).start();
  // The load has only just started: about 0, the baseline the later figures compare with.
  recordLag(load, 'burst-1.lag_before');
  for (let cycle = 1; cycle <= cycles; cycle++) {
    if (cycle > 1) {
      phase(`burst-${cycle}`);
      recordLag(load, `burst-${cycle}.lag_before`);
      load.setRate(burst);
    }
    sleep(burstDuration);
    phase(`pause-${cycle}`);
    load.setRate(nominal);
    recordLag(load, `burst-${cycle}.lag_at_end`);
    sleep(pauseDuration);
    recordLag(load, `burst-${cycle}.lag_after`);
  }
  const status = load.stop();
  endPhase();
  mm2.recordVerdict(status);
}

/** The replication lag now as figures `name` (records) and `name_ms`; none when not followed. */
function recordLag(load, name) {
  const replication = load.status().replication;
  if (replication) {
    figure(name, replication.lagRecords, 'records');
    figure(`${name}_ms`, replication.lagMs, 'ms');
  }
}

export const { describe, optionalCapabilities, run } = scenario(described, main);
