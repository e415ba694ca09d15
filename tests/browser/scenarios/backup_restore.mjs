// System page: the configuration is downloaded without passwords (the
// download is written to BACKUP_OUT), then a file (RESTORE_FILE) is chosen
// in the restore form, read into the box by restore.js, and restored; the
// page must come back with the saved notice.
import { check } from "../browser.mjs";
import { copyFileSync } from "node:fs";

export async function run(context, env) {
  const url = env.PBXGATE_URL;
  check(url && env.PBXGATE_PASSWORD && env.BACKUP_OUT && env.RESTORE_FILE, "environment");
  const page = await context.newPage();
  await page.goto(`${url}/login`);
  await page.fill("#login-user", env.PBXGATE_USER || "admin");
  await page.fill("#login-password", env.PBXGATE_PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click("#login-submit")]);
  check(new URL(page.url()).pathname === "/", `login led to ${page.url()}`);
  console.log("logged in");

  await page.goto(`${url}/system`);
  check(await page.isVisible("#backup-warning"), "no warning that the backup holds passwords");
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.click("#backup-nosecrets"),
  ]);
  const saved = await download.path();
  check(saved, "the download was not saved");
  copyFileSync(saved, env.BACKUP_OUT);
  console.log(`downloaded ${download.suggestedFilename()}`);

  await page.setInputFiles("#restore-file", env.RESTORE_FILE);
  await page.waitForFunction(
    () => document.getElementById("restore-toml").value.includes("[emergency]"),
    null,
    { timeout: 5000 },
  );
  console.log("the chosen file is in the restore box");
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.click("#restore-submit"),
  ]);
  check(response && response.status() === 200, `restore answered ${response && response.status()}`);
  check(await page.isVisible("#saved"), "no saved notice after the restore");
  console.log(`restored: ${(await page.textContent("#saved")).trim().replace(/\s+/g, " ")}`);
}
