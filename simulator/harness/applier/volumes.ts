import type { ApplierContext, Handler } from "./handler";

export function volumeHandlers(applier: ApplierContext): Record<string, Handler> {
  return {
    "docker:index/volume:Volume": {
      mapped: ["name", "driver", "driverOpts", "labels", "labels.label", "labels.value"],
      create: async (inputs) => {
        const args = ["volume", "create"];
        if (inputs.driver !== undefined) args.push("--driver", inputs.driver);
        for (const [key, value] of Object.entries(inputs.driverOpts ?? {})) args.push("--opt", `${key}=${String(value)}`);
        for (const { label, value } of inputs.labels ?? []) args.push("--label", `${label}=${value}`);
        args.push(inputs.name);
        const name = await applier.docker.out(...args);
        return { name, driver: inputs.driver ?? "local", mountpoint: await applier.docker.out("volume", "inspect", "-f", "{{.Mountpoint}}", name) };
      },
      delete: async ({ outputs }) => {
        await applier.docker.run(["volume", "rm", String(outputs.name)]);
      },
    },
  };
}
