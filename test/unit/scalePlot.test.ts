import * as fs from "node:fs";
import { describe, expect, it } from "vitest";
import { renderScalePlot, SCALE_PLOT_FILE, type ScalePoint } from "../../bench/scalePlot";
import { MEASURED, MEASURED_CAPTION } from "../../bench/scaleMeasured";

// bench:scale's plot (docs/benchmarks/scale.svg): a well-formed SVG document with one point
// per size in each series, and the committed plot is what the function renders from the last
// measured figures (bench/scaleMeasured.ts).

/**
 * The document's elements, checked the way an XML parser would: one root, every tag closed in
 * order, every attribute quoted, no bare `&` or `<` in text. Returns the tags' names and attributes.
 */
function parseXmlish(document: string): { name: string; attributes: Record<string, string> }[] {
  const elements: { name: string; attributes: Record<string, string> }[] = [];
  const open: string[] = [];
  let roots = 0;
  const token = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let consumed = 0;
  for (let match = token.exec(document); match !== null; match = token.exec(document)) {
    consumed = token.lastIndex;
    const [, closing, name, attributeText, selfClosing, textContent] = match;
    if (textContent !== undefined) {
      if (/&(?!(?:amp|lt|gt|quot|apos);)/.test(textContent)) throw new Error(`a bare & in text: ${textContent}`);
      if (open.length === 0 && textContent.trim() !== "") throw new Error(`text outside the root: ${textContent}`);
      continue;
    }
    if (closing) {
      const expected = open.pop();
      if (expected !== name) throw new Error(`</${name}> closes <${expected}>`);
      continue;
    }
    if (open.length === 0) roots += 1;
    const attributes: Record<string, string> = {};
    for (const [, key, value] of attributeText.matchAll(/([\w:-]+)="([^"]*)"/g)) {
      if (key in attributes) throw new Error(`<${name}> has ${key} twice`);
      attributes[key] = value;
    }
    elements.push({ name, attributes });
    if (!selfClosing) open.push(name);
  }
  if (consumed !== document.length) throw new Error(`not markup at offset ${consumed}: ${document.slice(consumed, consumed + 40)}`);
  if (open.length > 0) throw new Error(`unclosed: ${open.join(", ")}`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
  return elements;
}

const points = (elements: ReturnType<typeof parseXmlish>, series: string) =>
  elements.filter((e) => e.attributes.class === `point ${series}`).map((e) => Number(e.attributes["data-gb"]));

describe("bench:scale's plot", () => {
  it("is one SVG document with axes, labels and one point per size in each series", () => {
    const sizes: ScalePoint[] = [
      { gigabytes: 1, drillSeconds: 30, drillSecondsPerGb: 30, rawOverDrill: 0.7, refreshOverFull: 0.4 },
      { gigabytes: 16.6, drillSeconds: 170, drillSecondsPerGb: 10.2, rawOverDrill: 0.9, refreshOverFull: 0.15 },
      { gigabytes: 4.2, drillSeconds: 70, drillSecondsPerGb: 16.7, rawOverDrill: 0.8, refreshOverFull: 0.2 },
    ];
    const svg = renderScalePlot(sizes, "a run & <its> caption");
    const elements = parseXmlish(svg);
    expect(elements[0].name).toBe("svg");
    expect(elements[0].attributes.xmlns).toBe("http://www.w3.org/2000/svg");
    expect(elements.filter((e) => e.attributes.class === "axis")).toHaveLength(4);
    for (const series of ["drill", "raw-over-drill", "refresh-over-full"]) expect(points(elements, series)).toEqual([1, 4.2, 16.6]);
    for (const label of ["30.0 s/GB (30.0 s)", "10.2 s/GB (170.0 s)", "0.90", "0.15", "size restored (GB)", "a run &amp; &lt;its&gt; caption"]) expect(svg).toContain(label);
    // Every point inside the drawing.
    for (const e of elements.filter((x) => x.name === "circle" || x.name === "rect")) {
      for (const [key, limit] of [["cx", 760], ["cy", 340], ["x", 760], ["y", 340]] as const) {
        if (e.attributes[key] === undefined) continue;
        expect(Number(e.attributes[key])).toBeGreaterThanOrEqual(0);
        expect(Number(e.attributes[key])).toBeLessThanOrEqual(limit);
      }
    }
  });

  it("refuses a run with no sizes", () => {
    expect(() => renderScalePlot([], "nothing")).toThrow(/no sizes/);
  });

  it("is committed as the function renders the last measured figures (2.11, 4.17 and 8.29 GB)", () => {
    expect(MEASURED.map((p) => p.gigabytes)).toEqual([2.11, 4.17, 8.29]);
    const committed = fs.readFileSync(SCALE_PLOT_FILE, "utf8");
    expect(committed).toBe(renderScalePlot(MEASURED, MEASURED_CAPTION));
    expect(points(parseXmlish(committed), "drill")).toEqual([2.11, 4.17, 8.29]);
  });
});
