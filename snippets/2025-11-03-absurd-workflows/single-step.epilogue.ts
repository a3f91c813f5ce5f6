
export { singleStep };

// Run by itself: one step on the prompt given as the argument, printed as JSON.
if (import.meta.main) {
  const messages = [{ role: "user" as const, content: process.argv[2] }];
  console.log(JSON.stringify(await singleStep(messages)));
}
