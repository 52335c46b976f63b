import * as path from "node:path";
import { PROJECT_DIR } from "../harness/stackConfig";
import { ensureNetwork, outer, RIG_LABEL, RIG_NETWORK, rigContainer } from "./hosts";

// A mail server on the rig's network, which every simulated host's containers reach by its
// name: the alerts the stacks send arrive in its Maildir, and the tests read them there.

const MAIL_IMAGE = "montagu-rig-mail:latest";

export interface Mail {
  from: string;
  to: string;
  subject: string;
  body: string;
}

export interface MailServer {
  /** The name the simulated hosts reach it by, on port 25. */
  host: string;
  port: number;
  /** Every message received so far, oldest first. */
  messages(): Promise<Mail[]>;
}

const READ_MAILDIR = `
import json, mailbox
box = mailbox.Maildir("/mail", create=False)
print(json.dumps([{"from": m["From"], "to": m["To"], "subject": m["Subject"], "body": m.get_payload(decode=True).decode(), "date": m["Date"]} for m in box]))
`;

/** Starts an empty mail server named `name` (an earlier one of that name is removed). */
export async function startMailServer(name = "mail"): Promise<MailServer> {
  await outer.run(["build", "--quiet", "--tag", MAIL_IMAGE, path.join(PROJECT_DIR, "simulator/rig/mail")], { env: { DOCKER_BUILDKIT: "0" } });
  const container = rigContainer(name);
  await outer.run(["rm", "--force", container], { allowFailure: true });
  await ensureNetwork();
  await outer.run(["run", "--detach", "--name", container, "--label", `${RIG_LABEL}=test`, "--network", RIG_NETWORK, "--network-alias", name, MAIL_IMAGE]);
  return {
    host: name,
    port: 25,
    async messages() {
      const listed = JSON.parse(await outer.out("exec", container, "python3", "-c", READ_MAILDIR)) as (Mail & { date: string })[];
      return listed.sort((a, b) => Date.parse(a.date) - Date.parse(b.date)).map(({ date: _date, ...mail }) => mail);
    },
  };
}
