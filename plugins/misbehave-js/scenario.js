// Test fixture: a JavaScript scenario that misbehaves on purpose while a load job runs, so the
// host's guard rails are tested on a StarlingMonkey component too. Not a scenario to ship.

import { Describe, Load, createTopic, param, phase, scenario, sleep, spec } from 'kscen-sdk';

const described = new Describe('misbehave-js', 'Test fixture: spins, hoards memory or fails, under load')
  .param(spec.text('mode', 'hoard', 'spin | hoard | denied (a host call the run may not make)'))
  .param(spec.duration('after', '500ms', 'how long the load runs before misbehaving'))
  .cluster('source');

function main() {
  const mode = param.text('mode');
  createTopic('source', 'misbehave-js', 1);
  phase('before');
  Load.to('source', 'misbehave-js').rate(1000).recordSize(100).start();
  sleep(param.duration('after'));
  if (mode === 'spin') for (;;);
  else if (mode === 'hoard') hoard();
  // A cluster the scenario did not ask for: the host refuses, the run fails with why.
  else if (mode === 'denied') createTopic('target', 'misbehave-js', 1);
  else throw new Error(`unknown mode ${JSON.stringify(mode)}`);
}

/** Keeps 1 MiB buffers (written to, so each page is really used) until the cap stops it. */
function hoard() {
  const kept = [];
  for (;;) {
    const buffer = new Uint8Array(1 << 20);
    buffer.fill(kept.length & 0xff);
    kept.push(buffer);
  }
}

export const { describe, optionalCapabilities, run } = scenario(described, main);
