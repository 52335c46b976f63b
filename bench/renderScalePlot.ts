// Renders docs/benchmarks/scale.svg from the figures in bench/scaleMeasured.ts, with the
// function bench:scale calls at the end of a run:
//   npx ts-node --transpile-only bench/renderScalePlot.ts
import { writeScalePlot } from "./scalePlot";
import { MEASURED, MEASURED_CAPTION } from "./scaleMeasured";

console.log(`wrote ${writeScalePlot(MEASURED, MEASURED_CAPTION)}`);
