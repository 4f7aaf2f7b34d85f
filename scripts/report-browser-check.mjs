// Opens a `latlab report` page in headless Chromium and checks what a reader's browser does
// with it: no console errors, no uncaught exceptions, no request other than the page itself
// (fonts, images, scripts, anything), every SVG plot rendered with visible paths, and no
// horizontal overflow at a 1280-pixel window. Prints a JSON summary; exits 1 if a check fails,
// 2 if it cannot run.
//
//   node scripts/report-browser-check.mjs RUN_DIR/report.html [--expect-svgs N] [--screenshot FILE]
//
// Needs playwright-core (scripts/test-deps.sh installs it into ~/.cache/latlab/node; point
// NODE_PATH at its node_modules) and Chromium (CHROMIUM, default /usr/bin/chromium).
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
let chromium;
try {
  ({ chromium } = require("playwright-core"));
} catch (e) {
  console.error(`cannot load playwright-core (${e.code ?? e.message}); run scripts/test-deps.sh and set NODE_PATH`);
  process.exit(2);
}

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const expectSvgs = opt("--expect-svgs");
const screenshot = opt("--screenshot");
if (args.length !== 1) {
  console.error("usage: report-browser-check.mjs REPORT.html [--expect-svgs N] [--screenshot FILE]");
  process.exit(2);
}
const url = pathToFileURL(resolve(args[0])).href;

const profile = mkdtempSync(join(tmpdir(), "latlab-report-chromium-"));
const failures = [];
const consoleErrors = [];
const requests = [];
let result = {};
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    chromiumSandbox: false,
    viewport: { width: 1280, height: 900 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  context.on("request", (r) => {
    if (r.url() !== url) requests.push(`${r.method()} ${r.url()}`);
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") consoleErrors.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => consoleErrors.push(`uncaught: ${e.message}`));
  const response = await page.goto(url, { waitUntil: "load" });
  if (response && !response.ok()) failures.push(`loading the page: status ${response.status()}`);
  // Give anything deferred (lazy images, late fetches) a moment to show itself.
  await page.waitForTimeout(500);

  result = await page.evaluate(() => {
    const svgs = [...document.querySelectorAll("svg")];
    return {
      title: document.title,
      svgs: svgs.length,
      scripts: document.querySelectorAll("script").length,
      // A plot counts as drawn when it has a visible box and at least one path with a length.
      drawn: svgs.filter((s) => {
        const box = s.getBoundingClientRect();
        const paths = [...s.querySelectorAll("path")];
        return box.width > 200 && box.height > 100 && paths.some((p) => p.getTotalLength() > 0);
      }).length,
      scrollWidth: document.documentElement.scrollWidth,
      clientWidth: document.documentElement.clientWidth,
      height: document.documentElement.scrollHeight,
    };
  });
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
} catch (e) {
  failures.push(`browser: ${e.message}`);
} finally {
  if (context) await context.close();
  rmSync(profile, { recursive: true, force: true });
}

if (consoleErrors.length) failures.push(`${consoleErrors.length} console errors or warnings`);
if (requests.length) failures.push(`${requests.length} requests besides the page`);
if (result.scripts) failures.push(`${result.scripts} script elements`);
if (result.drawn !== result.svgs) failures.push(`${result.svgs - result.drawn} of ${result.svgs} plots not drawn`);
if (expectSvgs !== undefined && result.svgs !== Number(expectSvgs))
  failures.push(`${result.svgs} plots, expected ${expectSvgs}`);
if (result.scrollWidth > result.clientWidth)
  failures.push(`the page is ${result.scrollWidth} px wide in a ${result.clientWidth} px window`);

console.log(JSON.stringify({ url, ...result, consoleErrors, requests, failures }, null, 2));
process.exit(failures.length ? 1 : 0);
