#!/usr/bin/env node
// The package's `install` script: builds the native addon with `cmake-js compile --log-level warn`
// (extra arguments are passed on), printing one short line per stage instead of CMake's and the
// compiler's ~70 lines. The whole output is kept in <build folder>/install.log and printed only
// when the build fails. HAYATE_INSTALL_VERBOSE=1 (or npm's --loglevel verbose) shows it all as it
// runs, unfiltered.
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const args = ['compile', '--log-level', 'warn', ...process.argv.slice(2)];
const verbose = process.env.HAYATE_INSTALL_VERBOSE === '1' || ['verbose', 'silly'].includes(process.env.npm_config_loglevel ?? '');

let cmakeJs;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js');
} catch {
  console.error('hayate: cannot find cmake-js (a dependency of hayate): reinstall the package, then run `npm rebuild hayate`');
  process.exit(1);
}

const outIndex = args.findIndex((a) => a === '--out' || a === '-O');
const buildDir = path.resolve(outIndex >= 0 && args[outIndex + 1] ? args[outIndex + 1] : 'build');
const started = Date.now();
const say = (line) => console.log(`hayate: ${line}`);

const child = spawn(process.execPath, [cmakeJs, ...args], { stdio: verbose ? 'inherit' : ['ignore', 'pipe', 'pipe'] });

const log = [];
const seen = new Set();
if (!verbose) {
  const once = (key, line) => {
    if (!seen.has(key)) {
      seen.add(key);
      say(line);
    }
  };
  const onLine = (line) => {
    log.push(line);
    let m;
    if (/^-- /.test(line)) once('configure', 'configuring the native addon (CMake)');
    // The build flavour CMakeLists.txt announces ("hayate: CUDA build for architectures ...").
    if ((m = /^-- hayate: (.*)$/.exec(line))) say(m[1]);
    // Ninja's "[1/32] Building CXX object ..." (not its "[0/2] Re-checking globbed directories"), or Make's "[ 3%] Building ...".
    if ((m = /^\[\s*\d+\/(\d+)\] (Building|Linking)/.exec(line))) once('compile', `compiling (${m[1]} build steps)`);
    else if (/^\[\s*\d+%\] (Building|Linking)/.test(line)) once('compile', 'compiling');
    if (/^ninja: no work to do/.test(line)) once('uptodate', 'the native addon is up to date');
  };
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      const lines = (rest + chunk).split(/\r?\n/);
      rest = lines.pop() ?? '';
      lines.forEach(onLine);
    });
    stream.on('end', () => {
      if (rest !== '') onLine(rest);
      rest = '';
    });
  }
}

function saveLog() {
  if (verbose || !fs.existsSync(buildDir)) return undefined;
  const file = path.join(buildDir, 'install.log');
  try {
    fs.writeFileSync(file, log.join('\n') + '\n');
    return file;
  } catch {
    return undefined;
  }
}

child.on('error', (e) => {
  console.error(`hayate: cannot run cmake-js: ${e.message}`);
  process.exit(1);
});

child.on('close', (code, signal) => {
  const saved = saveLog();
  if (code === 0) {
    if (seen.has('uptodate')) return;
    const addon = path.relative(process.cwd(), path.join(buildDir, 'Release', 'hayate.node'));
    say(`built ${addon} in ${Math.round((Date.now() - started) / 1000)} s${saved ? ` (full log: ${path.relative(process.cwd(), saved)})` : ''}`);
    return;
  }
  const how = signal ? `was stopped by ${signal}` : `exited with code ${code}`;
  if (!verbose) {
    console.error(`hayate: the native build failed (cmake-js compile ${how}). Its output:`);
    console.error(log.join('\n'));
  }
  console.error(
    'hayate: building the addon needs CMake 3.18+ and a C++17 compiler (g++ or clang), and for the GPU the CUDA toolkit (nvcc on PATH); ' +
      'fix the cause above, then run `npm rebuild hayate`.',
  );
  process.exit(code || 1);
});
