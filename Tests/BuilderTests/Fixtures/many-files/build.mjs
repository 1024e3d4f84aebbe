// Generates a 200-file site: 150 HTML pages, 30 hashed scripts and styles,
// 20 binary images, deterministic (the same bytes on every run).
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';

const pages = Number(process.env.PAGES ?? 150);
rmSync('dist', { recursive: true, force: true });
mkdirSync('dist/assets', { recursive: true });
mkdirSync('dist/blog', { recursive: true });
mkdirSync('dist/img', { recursive: true });
const hash = (data) => createHash('sha256').update(data).digest('hex').slice(0, 8);
let files = 0;

for (let i = 0; i < 30; i++) {
  const body = `/* module ${i} */\n` + `export function f${i}(x) { return x * ${i} + ${i * 7}; }\n`.repeat(40 + i * 3);
  const ext = i % 3 === 0 ? 'css' : 'js';
  writeFileSync(`dist/assets/chunk-${i}-${hash(body)}.${ext}`, body);
  files++;
}
let seed = 42;
const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
for (let i = 0; i < 20; i++) {
  const bytes = Buffer.alloc(2048 + i * 512);
  for (let j = 0; j < bytes.length; j++) bytes[j] = random() & 0xff;
  writeFileSync(`dist/img/photo-${i}.png`, bytes);
  files++;
}
for (let i = 0; i < pages; i++) {
  const paragraph = `<p>Post ${i}: Slipway publishes every file of this generated site. </p>\n`;
  const html = `<!doctype html>\n<html><head><title>Post ${i}</title></head><body>\n<h1>Post ${i}</h1>\n${paragraph.repeat(10 + (i % 40))}</body></html>\n`;
  writeFileSync(i === 0 ? 'dist/index.html' : `dist/blog/post-${i}.html`, html);
  files++;
}
console.log(`generated ${files} files`);
