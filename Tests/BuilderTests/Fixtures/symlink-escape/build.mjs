// Publishes a symlink that leaves the output directory.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';

mkdirSync('dist', { recursive: true });
writeFileSync('dist/index.html', '<!doctype html><h1>innocent</h1>\n');
symlinkSync('/etc/passwd', 'dist/x');
console.log('dist/x -> /etc/passwd');
