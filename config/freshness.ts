// The monitor's plan is config/plan/freshness.ts; components/freshness still imports its type
// from this older path.
export type { FreshnessPlan } from "./plan/freshness";
