
await absurd.close();
