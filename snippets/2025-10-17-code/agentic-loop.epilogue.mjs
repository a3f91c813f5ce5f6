
// Run: node <this module> TASK_ID STEPS: the loop on a task that takes STEPS steps; prints the final state.
const [taskID, steps] = process.argv.slice(2);
console.log(JSON.stringify(myAgenticLoop(taskID, { steps: Number(steps), log: [], done: false })));
