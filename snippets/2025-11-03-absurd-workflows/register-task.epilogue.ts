
// Run by itself: spawn one task with the prompt given as the argument, work it, print its id.
if (import.meta.main) {
  await absurd.createQueue();
  const { taskID } = await absurd.spawn("my-agent", { prompt: process.argv[2] });
  await absurd.workBatch();
  await absurd.close();
  console.log(JSON.stringify({ taskID }));
}
