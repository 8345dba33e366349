// Runs a browser script unchanged in a jsdom page whose URL is on the service's origin, so the
// script's XMLHttpRequest is a spec-conforming one (the method and headers a browser sends) and
// same-origin. What the script logs goes to stdout.
// Usage: node run_in_page.mjs PAGE_URL SCRIPT_FILE
import { readFileSync } from "node:fs";
import { JSDOM, VirtualConsole } from "jsdom";

const [pageUrl, scriptFile] = process.argv.slice(2);
const virtualConsole = new VirtualConsole();
virtualConsole.on("log", (...args) => process.stdout.write(args.join(" ") + "\n"));
virtualConsole.on("error", (...args) => process.stderr.write(args.join(" ") + "\n"));
virtualConsole.on("jsdomError", (error) => {
  process.stderr.write(`jsdom: ${error.message}\n`);
  process.exitCode = 1;
});
const dom = new JSDOM("<!doctype html><title>seed</title>", {
  url: pageUrl,
  runScripts: "outside-only",
  virtualConsole,
});
dom.window.eval(readFileSync(scriptFile, "utf8"));
