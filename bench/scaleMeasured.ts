// The last measured bench:scale figures (docs/benchmarks.md), from which the committed
// docs/benchmarks/scale.svg was rendered: BENCH_SCALE_GB=1,4 (22:00-22:11 UTC) and
// BENCH_SCALE_GB=2 (22:14-22:25 UTC) on 2026-11-27, 2 cores and one shared disk.
// After a new run, put its figures here and render again (bench/renderScalePlot.ts):
// test/unit/scalePlot.test.ts checks that the committed plot is these figures'.
import type { ScalePoint } from "./scalePlot";

export const MEASURED_CAPTION = "run of 2026-11-27, 2 cores, one shared disk";

export const MEASURED: readonly ScalePoint[] = [
  { gigabytes: 2.11, drillSeconds: 43.5, drillSecondsPerGb: 20.6, rawOverDrill: 0.76, refreshOverFull: 0.3 },
  { gigabytes: 4.17, drillSeconds: 66.7, drillSecondsPerGb: 16.0, rawOverDrill: 0.77, refreshOverFull: 0.23 },
  { gigabytes: 8.29, drillSeconds: 97.5, drillSecondsPerGb: 11.8, rawOverDrill: 0.87, refreshOverFull: 0.19 },
];
