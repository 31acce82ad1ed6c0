// Every public function, class and Tensor method (the names test/api-fuzz-targets.ts lists) has an
// @example in its JSDoc in the published type declarations (the d.ts files, which keep the
// comments). Each name is followed from the package's index.d.ts through its re-exports and
// namespaces (`export { x } from`, `export * from`, `export * as ns from`, a local
// `export { x }` of an import) to the declaration; Tensor methods are looked up in
// `declare class Tensor` and in every `interface Tensor` of a `declare module './tensor'`
// augmentation. For overloads, one overload's block having the example is enough. A name whose
// declaration cannot be found fails too, so the check cannot pass by finding nothing.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as assert from 'uvu/assert';

import { targets } from './api-fuzz-targets';
import { suite } from './harness';

const s = suite('jsdoc');
const LIB = join(__dirname, '..', 'lib');
const INDEX = join(LIB, 'index.d.ts');
const TENSOR = join(LIB, 'tensor.d.ts');

const texts = new Map<string, string>();
function source(file: string): string {
  let t = texts.get(file);
  if (t === undefined) {
    t = readFileSync(file, 'utf8');
    texts.set(file, t);
  }
  return t;
}

/** The d.ts file an import specifier names, relative to `from`: x.d.ts or x/index.d.ts. */
function moduleFile(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const base = resolve(dirname(from), spec.replace(/\.(js|d\.ts)$/, ''));
  for (const f of [`${base}.d.ts`, join(base, 'index.d.ts')]) if (existsSync(f)) return f;
  return null;
}

function escape(name: string): string {
  return name.replace(/\$/g, '\\$');
}

/**
 * The index just past the bracket that closes the one at `open`, skipping comments and string
 * literals (JSDoc text such as `{shape, dtype}` must not count).
 */
function blockEnd(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '/' && text[i + 1] === '*') {
      const e = text.indexOf('*/', i + 2);
      i = e < 0 ? text.length : e + 1;
    } else if (c === '/' && text[i + 1] === '/') {
      const e = text.indexOf('\n', i);
      i = e < 0 ? text.length : e;
    } else if (c === "'" || c === '"' || c === '`') {
      for (i++; i < text.length && text[i] !== c; i++) if (text[i] === '\\') i++;
    } else if (c === '{') {
      depth++;
    } else if (c === '}') {
      if (--depth === 0) return i + 1;
    }
  }
  return text.length;
}

/** The JSDoc block ending right above the line that starts at `lineStart` (only whitespace between), or null. */
function docAbove(text: string, lineStart: number, floor = 0): string | null {
  const before = text.slice(floor, lineStart).replace(/\s+$/, '');
  if (!before.endsWith('*/')) return null;
  const prevEnd = before.lastIndexOf('*/', before.length - 3);
  const start = before.indexOf('/**', prevEnd < 0 ? 0 : prevEnd + 2);
  return start < 0 ? null : before.slice(start);
}

interface Found {
  /** Where the declarations are, for the failure message. */
  where: string;
  /** The JSDoc block above each declaration (null where there is none). */
  docs: (string | null)[];
}

function rel(file: string): string {
  return file.slice(LIB.length + 1).replace(/\\/g, '/');
}

/** The top-level declarations of `name` in `file` (export declare function/class/const, overloads included). */
function localDeclarations(file: string, name: string): Found | null {
  const text = source(file);
  const re = new RegExp(`^(?:export )?(?:default )?declare (?:abstract )?(?:function|class|const|let|var) ${escape(name)}\\b`, 'gm');
  const docs: (string | null)[] = [];
  for (let m = re.exec(text); m !== null; m = re.exec(text)) docs.push(docAbove(text, m.index));
  return docs.length > 0 ? { where: rel(file), docs } : null;
}

/** The specifiers of an export or import list: [exported (or local) name, name in the source module]. */
function specifiers(list: string): [string, string][] {
  return list
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '' && !p.startsWith('type '))
    .map((p) => {
      const m = /^([\w$]+)(?:\s+as\s+([\w$]+))?$/.exec(p);
      return m === null ? ['', ''] : [m[2] ?? m[1], m[1]];
    });
}

/** Follows `name` as `file` exports it to its declarations. */
function resolveName(file: string, name: string, seen = new Set<string>()): Found | null {
  const key = `${file}#${name}`;
  if (seen.has(key)) return null;
  seen.add(key);
  const local = localDeclarations(file, name);
  if (local !== null) return local;
  const text = source(file);
  // export { a, b as c } from './x'
  for (const m of text.matchAll(/^export \{([^}]*)\} from '([^']+)';/gm)) {
    const hit = specifiers(m[1]).find(([exported]) => exported === name);
    if (hit === undefined) continue;
    const target = moduleFile(file, m[2]);
    return target === null ? null : resolveName(target, hit[1], seen);
  }
  // export { a }; of an imported a
  for (const m of text.matchAll(/^export \{([^}]*)\};/gm)) {
    const hit = specifiers(m[1]).find(([exported]) => exported === name);
    if (hit === undefined) continue;
    for (const im of text.matchAll(/^import \{([^}]*)\} from '([^']+)';/gm)) {
      const imp = specifiers(im[1]).find(([local]) => local === hit[1]);
      if (imp === undefined) continue;
      const target = moduleFile(file, im[2]);
      return target === null ? null : resolveName(target, imp[1], seen);
    }
  }
  // export * from './x'
  for (const m of text.matchAll(/^export \* from '([^']+)';/gm)) {
    const target = moduleFile(file, m[1]);
    const r = target === null ? null : resolveName(target, name, seen);
    if (r !== null) return r;
  }
  return null;
}

/** The module `file` exports as namespace `ns` (export * as ns from './x'). */
function resolveNamespace(file: string, ns: string): string | null {
  const m = new RegExp(`^export \\* as ${escape(ns)} from '([^']+)';`, 'm').exec(source(file));
  return m === null ? null : moduleFile(file, m[1]);
}

/** Every d.ts file under dir. */
function dtsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...dtsFiles(p));
    else if (e.endsWith('.d.ts')) out.push(p);
  }
  return out.sort();
}

/** The bodies ([start, end) after the brace) of `declare class Tensor` and of every `interface Tensor` augmenting tensor.d.ts. */
function tensorBodies(): { file: string; start: number; end: number }[] {
  const bodies: { file: string; start: number; end: number }[] = [];
  const text = source(TENSOR);
  const cls = /^export declare class Tensor \{/m.exec(text);
  if (cls !== null) {
    const open = cls.index + cls[0].length - 1;
    bodies.push({ file: TENSOR, start: open + 1, end: blockEnd(text, open) - 1 });
  }
  for (const file of dtsFiles(LIB)) {
    const t = source(file);
    for (const m of t.matchAll(/^declare module '([^']+)' \{/gm)) {
      if (moduleFile(file, m[1]) !== TENSOR) continue;
      const open = m.index! + m[0].length - 1;
      const end = blockEnd(t, open);
      const inner = /^\s*interface Tensor \{/m;
      const block = t.slice(open + 1, end - 1);
      const im = inner.exec(block);
      if (im === null) continue;
      const iopen = open + 1 + im.index + im[0].length - 1;
      bodies.push({ file, start: iopen + 1, end: blockEnd(t, iopen) - 1 });
    }
  }
  return bodies;
}

/** The declarations of method `name` at the top level of the Tensor bodies (not inside nested type literals). */
function tensorMethod(bodies: { file: string; start: number; end: number }[], name: string): Found | null {
  const docs: (string | null)[] = [];
  const where: string[] = [];
  const member = new RegExp(`^[ \\t]*(?:readonly |static |abstract )*${escape(name)}\\??[(<]`);
  for (const b of bodies) {
    const text = source(b.file);
    let depth = 0;
    let atLineStart = true;
    for (let i = b.start; i < b.end; i++) {
      const c = text[i];
      if (atLineStart && depth === 0 && member.test(text.slice(i, i + name.length + 64))) {
        docs.push(docAbove(text, i, b.start));
        if (!where.includes(rel(b.file))) where.push(rel(b.file));
      }
      atLineStart = false;
      if (c === '\n') {
        atLineStart = true;
      } else if (c === '/' && text[i + 1] === '*') {
        const e = text.indexOf('*/', i + 2);
        i = e < 0 ? b.end : e + 1;
      } else if (c === "'" || c === '"' || c === '`') {
        for (i++; i < b.end && text[i] !== c; i++) if (text[i] === '\\') i++;
      } else if (c === '{' || c === '(' || c === '[') {
        depth++;
      } else if (c === '}' || c === ')' || c === ']') {
        depth--;
      }
    }
  }
  return docs.length > 0 ? { where: where.join(', '), docs } : null;
}

function find(name: string, bodies: { file: string; start: number; end: number }[]): Found | null {
  const plain = name.replace(/^new /, '');
  const parts = plain.split('.');
  if (parts[0] === 'Tensor') return parts.length === 2 ? tensorMethod(bodies, parts[1]) : null;
  if (parts[0] !== 'hy') return null;
  let file: string | null = INDEX;
  for (const ns of parts.slice(1, -1)) {
    file = resolveNamespace(file, ns);
    if (file === null) return null;
  }
  return resolveName(file, parts[parts.length - 1]);
}

s('the published type declarations are there to read', () => {
  for (const f of [INDEX, TENSOR]) assert.ok(existsSync(f), `no ${rel(f)} among the published type declarations`);
});

s('every public function, class and Tensor method has an @example in its JSDoc', () => {
  const list = targets();
  assert.ok(list.length > 100, `only ${list.length} public names listed`);
  const bodies = tensorBodies();
  assert.ok(bodies.length >= 2, 'found neither declare class Tensor nor its interface augmentations');
  const missing: string[] = [];
  const undeclared: string[] = [];
  for (const t of list) {
    const found = find(t.name, bodies);
    if (found === null) undeclared.push(t.name);
    else if (!found.docs.some((d) => d !== null && /@example\b/.test(d))) missing.push(`${t.name} (${found.where})`);
  }
  const lines: string[] = [];
  if (missing.length > 0) lines.push(`${missing.length} without an @example:\n  ${missing.join('\n  ')}`);
  if (undeclared.length > 0) lines.push(`${undeclared.length} with no declaration found:\n  ${undeclared.join('\n  ')}`);
  assert.ok(lines.length === 0, lines.join('\n'));
});

s.run();
