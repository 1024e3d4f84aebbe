// Prints FLOOD_MEGABYTES (default 24) MiB of output, then builds.
import { mkdirSync, writeFileSync } from 'node:fs';

const megabytes = Number(process.env.FLOOD_MEGABYTES ?? 24);
const line = 'x'.repeat(1023) + '\n';
const chunk = line.repeat(1024);
let written = 0;
const write = () => {
  while (written < megabytes) {
    written += 1;
    if (!process.stdout.write(chunk)) {
      process.stdout.once('drain', write);
      return;
    }
  }
  mkdirSync('dist', { recursive: true });
  writeFileSync('dist/index.html', '<!doctype html><h1>survived the flood</h1>\n');
  console.log('flood over');
};
write();
