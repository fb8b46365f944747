// Builds one JavaScript scenario into a kscen plugin component:
//   node sdk/js/build.mjs plugins/burst-js/scenario.js plugins/dist/burst-js.wasm [work-dir]
// esbuild bundles the scenario and this SDK into one ES module (the host's interfaces stay
// imports); ComponentizeJS compiles that module into the WIT world `scenario` of
// wit/scenario@0.5.0. `cargo xtask build-plugins` runs it for every plugins/<name>-js/.

import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { componentize } from '@bytecodealliance/componentize-js';
import { build } from 'esbuild';

const sdk = dirname(fileURLToPath(import.meta.url));
// The WIT the Rust SDK carries too: in a checkout (a link to wit/) and in an installed kscen.
const wit = resolve(sdk, '../wit/scenario@0.5.0');

const [source, output, work = join(dirname(resolve(output ?? '.')), '.js-build')] =
  process.argv.slice(2);
if (!source || !output) {
  console.error('usage: node build.mjs <scenario.js> <out.wasm> [work-dir]');
  process.exit(1);
}

const bundle = join(resolve(work), `${basename(output, '.wasm')}.bundle.js`);
await mkdir(dirname(bundle), { recursive: true });
await build({
  entryPoints: [source],
  outfile: bundle,
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  // The host's interfaces, resolved by ComponentizeJS against the WIT world.
  external: ['kscen:*'],
  alias: { 'kscen-sdk': join(sdk, 'src/index.js') },
  logLevel: 'warning',
});

// ComponentizeJS maps the source's folder as the guest's `/` but passes the path unchanged
// unless it lies under the current folder: work from the bundle's folder.
const out = resolve(output);
process.chdir(dirname(bundle));
const { component } = await componentize({
  sourcePath: bundle,
  witPath: wit,
  worldName: 'scenario',
  // The host links WASI preview 2 without wasi:http: a scenario reaches Kafka through kscen.
  disableFeatures: ['http', 'fetch-event'],
});
await mkdir(dirname(out), { recursive: true });
await writeFile(out, component);
console.error(`${output}: ${component.byteLength} bytes`);
