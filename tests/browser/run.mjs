// node tests/browser/run.mjs SCENARIO: runs scenarios/SCENARIO.mjs against the
// gateway at $PBXGATE_URL; exit 0 when every check passed. Scenarios read what
// they need from the environment (the Rust test sets it) and print one line per
// step, so a failure says where it stopped.
import { launch } from "./browser.mjs";

const name = process.argv[2];
if (!name || !/^[a-z0-9_-]+$/.test(name)) {
  console.error("usage: node run.mjs SCENARIO");
  process.exit(2);
}
const scenario = await import(`./scenarios/${name}.mjs`);
const context = await launch();
let code = 0;
try {
  await scenario.run(context, process.env);
  console.log(`scenario ${name}: ok`);
} catch (e) {
  console.error(`scenario ${name}: FAILED: ${e.stack || e}`);
  code = 1;
} finally {
  await context.close();
}
process.exit(code);
