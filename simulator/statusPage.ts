import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { outer, RIG_NETWORK, rigContainer, type SimulatedHost } from "./rig/hosts";

// The freshness monitor's status page as a real browser sees it: headless Chromium (Debian's
// `chromium`) on this machine loads it from the rig host's address, keeps a screenshot, and
// gives back the DOM it built, whose text the tests read.

/** Where the rig host `host` answers from this machine: its address on the rig's network. */
export async function rigAddress(host: SimulatedHost): Promise<string> {
  return (await outer.out("inspect", "-f", `{{(index .NetworkSettings.Networks "${RIG_NETWORK}").IPAddress}}`, rigContainer(host.name))).trim();
}

function chromium(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (err += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", (error) => reject(new Error(`chromium: ${error.message} (Debian's chromium package)`)));
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`chromium exited ${code}: ${err.slice(-2000)}`));
    });
  });
}

export interface BrowsedPage {
  /** Each backup's card as the DOM has it: its id and the state its text shows. */
  cards: { backup: string; state: string; text: string }[];
  screenshot: string;
}

/** Loads `url` at `width`×`height`, keeps a screenshot at `screenshot`, and reads the cards out of the DOM Chromium built. */
export async function browse(url: string, width: number, height: number, screenshot: string): Promise<BrowsedPage> {
  fs.mkdirSync(path.dirname(screenshot), { recursive: true });
  const size = `--window-size=${width},${height}`;
  await chromium([size, `--screenshot=${screenshot}`, url]);
  const dom = await chromium([size, "--dump-dom", url]);
  const cards = [...dom.matchAll(/<section class="backup" data-backup="([^"]+)"[^>]*>([^]*?)<\/section>/g)].map((match) => {
    const text = match[2].replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim();
    return { backup: match[1].replaceAll("&amp;", "&"), state: /^(\S+)/.exec(text)![1], text };
  });
  return { cards, screenshot };
}
