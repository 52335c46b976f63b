import { volumeRepositoriesPrefix } from "../sections/offsite";
import type { StackConfig } from "../sections/stack";
import type { Topology } from "../topology";

// Off-site copies made on this stack: the store's addresses as restic and barman-cloud take
// them, and each copy's client and schedule.

/** The bucket every off-site repository is in, and how the stack reaches it. */
export interface OffsiteStore {
  /** restic's repository of `client`'s volume `volume`: s3:<endpoint>/<bucket>/<prefix>/volumes/<client>/<volume>. */
  repositoryBase: string;
  region: string;
  credentialsVaultPath: string;
  /** The volume repositories' password; validation made sure it is there where volumes are copied or restored. */
  passwordVaultPath?: string;
  /** barman's copies: s3://<bucket>/<prefix>/barman, and the endpoint barman-cloud reaches it at. */
  barmanUrl: string;
  endpoint: string;
}

/** One volume copied off-site, on its schedule. */
export interface OffsiteCopy {
  client: string;
  volume: string;
  schedule: string;
  allowEmpty: boolean;
}

/** Off-site copies made on this stack, and the store that restores from off-site read. */
export interface OffsitePlan {
  store: OffsiteStore;
  container: string;
  stateVolume: string;
  copies: OffsiteCopy[];
  /** restic forget's options. */
  keep: string[];
  check: { schedule: string; readDataSubset: string };
  backup?: { id: string };
}

export function offsitePlan(topology: Topology, config: StackConfig): OffsitePlan | undefined {
  const wanted = config.offsite;
  if (wanted === undefined) return undefined;
  const { store } = wanted;
  const clients = topology.clients.filter((c) => config.machines.includes(c.name));
  const copies = wanted.volumes.map((entry) => {
    const client = entry.client ?? clients.find((c) => c.backup.includes(entry.volume))?.name;
    if (client === undefined) throw new Error(`offsite: no client of this stack backs up '${entry.volume}'`);
    const pushed = topology.clients.find((c) => c.name === client)?.schedule?.jobs.find((job) => job.volume === entry.volume);
    const schedule = entry.schedule ?? pushed?.schedule;
    if (schedule === undefined) throw new Error(`offsite: no schedule for '${entry.volume}'`);
    return { client, volume: entry.volume, schedule, allowEmpty: entry.allowEmpty };
  });
  return {
    store: {
      repositoryBase: `s3:${store.endpoint}/${store.bucket}/${volumeRepositoriesPrefix(store)}`,
      region: store.region,
      credentialsVaultPath: store.credentialsVaultPath,
      passwordVaultPath: wanted.passwordVaultPath,
      barmanUrl: `s3://${store.bucket}/${store.prefix}/barman`,
      endpoint: store.endpoint,
    },
    container: wanted.container,
    stateVolume: wanted.stateVolume,
    copies,
    keep: ["--keep-daily", String(wanted.keep.daily), "--keep-weekly", String(wanted.keep.weekly), "--keep-monthly", String(wanted.keep.monthly)],
    check: wanted.check,
    backup: wanted.backup,
  };
}
