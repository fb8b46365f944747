// Resilience test 5.3 in JavaScript: restart each MirrorMaker 2 connector — alone, then with its
// tasks — and pause/resume it, under tracked load. The same parameters and figures as the Rust
// `connector-restart` plugin.

import {
  Describe,
  connect,
  figure,
  mm2,
  monotonicNow,
  param,
  phase,
  scenario,
  sleep,
  spec,
} from 'kscen-sdk';

/** How often Connect's status is read while it reacts, ms. */
const POLL = 100;
/** A reaction that has not shown in Connect's status this long after the call will not show. */
const QUIET = 5000;

const described = new Describe(
  'connector-restart-js',
  'Restart and pause/resume each MM2 connector under load (5.3, JavaScript)',
)
  .description(
    "For each of the run's mirror's connectors in `roles` (found by class, whatever their " +
      'names): a restart of the connector alone, a restart with its tasks (includeTasks=true), ' +
      "and a pause held for `pause` then a resume. Each action's reaction is measured: Connect's " +
      'status change, the time until every task is RUNNING on a live worker again ' +
      '(`<role>_<action>_ms`, e.g. `source_resume_ms`), the lag it induced, and (after a resume) ' +
      'the time until the lag is back under `caught_up_lag` (`<role>_catch_up_ms`).',
  )
  .param(
    spec.text(
      'roles',
      'source,checkpoint,heartbeat',
      "the mirror's connectors to act on, by role (comma-separated)",
    ),
  )
  .param(spec.duration('pause', '30s', 'how long each connector stays paused'))
  .param(spec.duration('settle', '10s', 'steady load between actions'))
  .param(spec.duration('timeout', '2m', 'longest wait for each reaction'))
  .param(spec.int('caught_up_lag', 1000, 'lag (records) under which the target has caught up'))
  .apply((d) => mm2.trackedLoadParams(d))
  .cluster('source')
  .cluster('target')
  .connect();

function main() {
  const mirror = mm2.mirror();
  const all = mm2.connectorNames(mirror);
  const actedOn = param
    .text('roles')
    .split(',')
    .map((role) => [role.trim(), mm2.connectorName(mirror, role.trim())]);
  const timeout = param.duration('timeout');
  const settle = param.duration('settle');

  phase('before');
  const { load } = mm2.startTrackedLoad();
  if (mm2.waitHealthy(all, 120000, POLL) === undefined) throw new Error('MM2 is not healthy');
  sleep(settle);

  for (const [role, connector] of actedOn) {
    for (const [action, includeTasks] of [
      ['restart', false],
      ['restart_with_tasks', true],
    ]) {
      phase(`${role} ${action}`);
      react(`${role}_${action}`, all, load, timeout, () => connect.restart(connector, includeTasks));
      sleep(settle);
    }

    phase(`${role} pause`);
    connect.pause(connector);
    sleep(param.duration('pause'));
    phase(`${role} resume`);
    const at = monotonicNow();
    react(`${role}_resume`, all, load, timeout, () => connect.resume(connector));
    const caughtUpLag = param.int('caught_up_lag');
    const caughtUp = mm2.waitUntil(
      timeout,
      POLL,
      () => (load.status().replication?.lagRecords ?? Infinity) <= caughtUpLag,
    );
    if (caughtUp !== undefined) figure(`${role}_catch_up_ms`, monotonicNow() - at, 'ms');
    sleep(settle);
  }

  mm2.finishTrackedLoad(load);
}

/**
 * Acts on Connect and records how it reacted, under `name`: until every task of `connectors`
 * runs on a live worker again (a connector-only restart may leave every task as it was).
 */
function react(name, connectors, load, timeoutMs, act) {
  const baseline = mm2.statuses(connectors);
  const since = monotonicNow();
  act();
  const reaction = mm2.watchReaction({
    connectors,
    baseline,
    since,
    load,
    quietMs: QUIET,
    timeoutMs,
    everyMs: POLL,
    recovered: (statuses) => statuses.every(mm2.healthy),
  });
  mm2.recordReaction(name, reaction);
}

export const { describe, optionalCapabilities, run } = scenario(described, main);
