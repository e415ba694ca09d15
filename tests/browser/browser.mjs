// Debian's Chromium driven by playwright-core: never a downloaded browser
// (`playwright install` fails here and would not be the browser users have).
import { chromium } from "playwright-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A headless Chromium with a fresh profile; the gateway's self-signed
 *  certificate is accepted (the tests check its fingerprint elsewhere). */
export async function launch() {
  const userDataDir = mkdtempSync(join(tmpdir(), "pbxgate-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 900 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return context;
}

/** Fails the scenario with `message` unless `cond`. */
export function check(cond, message) {
  if (!cond) {
    throw new Error(message);
  }
}
