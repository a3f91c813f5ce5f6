
// A worker runs the spawned task (the model is the test's scripted conversation), then lets go.
await absurd.workBatch();
await absurd.close();
