#!/usr/bin/env node
// `npx montagu-backup ...`: runs cli/bin.ts through ts-node, as this project's other scripts run.
const path = require("node:path");
require("ts-node").register({ transpileOnly: true, project: path.join(__dirname, "..", "tsconfig.json") });
require("../cli/bin").run();
