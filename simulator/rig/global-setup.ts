import { clearBuildCache } from "../harness/applier/buildCache";
import { prepareRig, removeRig } from "./hosts";
import { gatewayBinary } from "./s3";

export async function setup() {
  // What a run killed before its teardown left (a benchmark's hosts stay).
  await removeRig();
  // Each run builds every image from apt once; the hosts after the first load it.
  clearBuildCache();
  await prepareRig();
  await gatewayBinary();
  return async () => {
    if (process.env.RIG_KEEP !== "1") await removeRig();
  };
}
