// A build that breaks the way real ones do: some output, an error, status 3.
console.log('vite v5.4.0 building for production...');
console.log('transforming (12) src/main.ts');
console.error('error: Could not resolve "./missing-module" from "src/main.ts"');
process.exit(3);
