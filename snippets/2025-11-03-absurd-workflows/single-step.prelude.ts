// Harness of 03-single-step.js: the Vercel AI SDK (ai 5.0, @ai-sdk/anthropic 2.0) and the
// getWeather the block calls but does not show. The provider reads ANTHROPIC_BASE_URL and
// ANTHROPIC_API_KEY from the environment: the test points it at the local Messages API server.
import { generateText, jsonSchema } from "ai";
import { anthropic } from "@ai-sdk/anthropic";

// A stand-in: fixed, made-up conditions (nothing outside the machine is reachable).
async function getWeather({ city }: { city: string }): Promise<string> {
  return `${city}: sunny, 21 °C`;
}

