// Sleeps SLEEP_SECONDS (default 600) before writing dist/. With
// SLOW_ONLY_ONCE=true only the first run sleeps: a marker in the persistent
// npm cache tells later runs (retries) to build at once.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const marker = join(process.env.npm_config_cache ?? '.', 'slow-build-started');
const sleepy = !(process.env.SLOW_ONLY_ONCE === 'true' && existsSync(marker));
if (sleepy) {
  mkdirSync(process.env.npm_config_cache ?? '.', { recursive: true });
  writeFileSync(marker, new Date().toISOString());
  const seconds = Number(process.env.SLEEP_SECONDS ?? 600);
  console.log(`working for ${seconds}s`);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
}
mkdirSync('dist', { recursive: true });
writeFileSync('dist/index.html', '<!doctype html><h1>slow build done</h1>\n');
console.log('done');
