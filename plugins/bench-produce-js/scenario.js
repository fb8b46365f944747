// `cargo xtask bench`, plugin overhead in JavaScript: what one single-record `produce` host call
// costs a JavaScript scenario on top of the produce itself. The twin of the Rust plugin
// `bench-produce`: the same parameters and figures, measured the same way, so the bench can put
// the languages side by side.

import { Describe, createTopic, figure, monotonicNow, param, produce, scenario, spec } from 'kscen-sdk';

const described = new Describe(
  'bench-produce-js',
  'Cost of the single-record produce host call from JavaScript (cargo xtask bench)',
)
  .description(
    'Calls produce `count` times after `warmup` calls and reports, as figures, the mean wall ' +
      'time of a call, the acknowledgement wait the host measured inside it, the cost of one ' +
      "clock host call, and the difference: the host call's own overhead per record.",
  )
  .param(spec.text('topic', 'kscen-bench-produce', 'topic to produce to'))
  .param(spec.size('record_size', '100', 'record value size'))
  .param(spec.int('count', 20000, 'measured produce calls'))
  .param(spec.int('warmup', 1000, 'produce calls before measuring'))
  .cluster('source');

function main() {
  const topic = param.text('topic');
  const count = Math.max(param.int('count'), 1);
  const value = new Uint8Array(param.size('record_size')).fill(0x41);
  createTopic('source', topic, 1);
  for (let i = 0; i < param.int('warmup'); i++) produce('source', topic, undefined, value);
  const clockCallMs = clockCallMillis(count);
  const overheadsMs = [];
  let callTotalMs = 0;
  let ackTotalMs = 0;
  for (let i = 0; i < count; i++) {
    const before = monotonicNow();
    const delivery = produce('source', topic, undefined, value);
    const callMs = monotonicNow() - before;
    // latencyUs is rounded down to whole microseconds: add back the half it loses on average,
    // as the Rust twin does.
    const ackMs = (delivery.latencyUs + 0.5) / 1000;
    callTotalMs += callMs;
    ackTotalMs += ackMs;
    overheadsMs.push(Math.max(callMs - ackMs - clockCallMs, 0));
  }
  overheadsMs.sort((a, b) => a - b);
  const us = (ms) => ms * 1000;
  figure('produce_calls', count, 'records');
  figure('produce_call_us', us(callTotalMs / count), 'us');
  figure('produce_ack_wait_us', us(ackTotalMs / count), 'us');
  figure('clock_call_us', us(clockCallMs), 'us');
  figure('produce_overhead_us', us(overheadsMs.reduce((a, b) => a + b, 0) / count), 'us');
  figure('produce_overhead_p50_us', us(overheadsMs[Math.floor(overheadsMs.length / 2)]), 'us');
}

/** Mean cost of one clock read as the scenario makes it: each produce call's timing holds one. */
function clockCallMillis(calls) {
  const started = monotonicNow();
  for (let i = 0; i < calls; i++) monotonicNow();
  return (monotonicNow() - started) / calls;
}

export const { describe, optionalCapabilities, run } = scenario(described, main);
