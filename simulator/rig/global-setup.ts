import { prepareRig, removeRig } from "./hosts";

export async function setup() {
  await prepareRig();
  return async () => {
    if (process.env.RIG_KEEP !== "1") await removeRig();
  };
}
