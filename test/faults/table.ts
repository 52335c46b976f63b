import * as fs from "node:fs";
import * as path from "node:path";

// Each fault file writes its rows to test-results/faults/<file>.md; `faults.md` beside them
// joins them in file order, as docs/safety.md's table.

export interface FaultRow {
  fault: string;
  observed: string;
  next: string;
}

const DIR = "test-results/faults";
const HEADER = ["| fault | what is observed | what the next run does |", "|---|---|---|"];

/** A cell of the table: one line, no column separator. */
export const cell = (text: string) => text.replaceAll("\n", " ").replaceAll("|", "\\|");

export function writeFaultRows(file: string, rows: FaultRow[]): void {
  fs.mkdirSync(DIR, { recursive: true });
  const lines = rows.map((r) => `| ${cell(r.fault)} | ${cell(r.observed)} | ${cell(r.next)} |`);
  fs.writeFileSync(path.join(DIR, `${file}.md`), lines.length > 0 ? `${lines.join("\n")}\n` : "");
  const all = fs
    .readdirSync(DIR)
    .filter((name) => name.endsWith(".md"))
    .sort()
    .flatMap((name) => fs.readFileSync(path.join(DIR, name), "utf8").split("\n").filter(Boolean));
  fs.writeFileSync("test-results/faults.md", `${[...HEADER, ...all].join("\n")}\n`);
  console.log([...HEADER, ...lines].join("\n"));
}
