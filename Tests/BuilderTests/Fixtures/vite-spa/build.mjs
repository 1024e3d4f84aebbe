// A dependency-free stand-in for `vite build`: bundles src/ into content-hashed
// assets under dist/assets/, rewrites index.html to point at them and copies
// public/ (including _headers and _redirects) as it is.
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const hash = (text) => createHash('sha256').update(text).digest('hex').slice(0, 8);
const started = Date.now();

rmSync('dist', { recursive: true, force: true });
mkdirSync('dist/assets', { recursive: true });

const js = ['src/router.js', 'src/main.js'].map((file) => readFileSync(file, 'utf8')).join('\n');
const css = readFileSync('src/style.css', 'utf8');
const jsName = `assets/index-${hash(js)}.js`;
const cssName = `assets/index-${hash(css)}.css`;
writeFileSync(join('dist', jsName), js);
writeFileSync(join('dist', cssName), css);

const html = readFileSync('index.html', 'utf8')
  .replace('/src/main.js', `/${jsName}`)
  .replace('/src/style.css', `/${cssName}`);
writeFileSync('dist/index.html', html);
cpSync('public', 'dist', { recursive: true });

const count = (dir) => readdirSync(dir).reduce((n, name) => {
  const path = join(dir, name);
  return n + (statSync(path).isDirectory() ? count(path) : 1);
}, 0);
console.log(`dist/${jsName}  ${js.length} bytes`);
console.log(`dist/${cssName}  ${css.length} bytes`);
console.log(`built ${count('dist')} files in ${Date.now() - started}ms`);
