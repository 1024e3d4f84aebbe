// Allocates memory outside the JS heap until the container's limit kills it.
const blocks = [];
for (let i = 1; ; i++) {
  blocks.push(Buffer.alloc(8 << 20, i & 0xff));
  if (i % 8 === 0) console.log(`holding ${i * 8} MiB`);
}
