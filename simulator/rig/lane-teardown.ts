import { afterAll } from "vitest";
import { removeLane } from "./hosts";

// A setup file of the Docker projects: each test file's lane of the rig is removed when the
// file ends (RIG_KEEP=1 keeps it, to look at after a failure).
afterAll(async () => {
  if (process.env.RIG_KEEP !== "1") await removeLane();
});
