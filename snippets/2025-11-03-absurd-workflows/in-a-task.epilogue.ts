});

// Run by itself: spawn the task for the user id given as the argument (if any), then work one run.
if (import.meta.main) {
  await absurd.createQueue();
  if (process.argv[2]) console.log(JSON.stringify(await absurd.spawn("block", { userId: process.argv[2] })));
  await absurd.workBatch();
  await absurd.close();
}
