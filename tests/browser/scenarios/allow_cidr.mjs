// Acceptance 2 of issue 19: on /config/listeners, the WAN listener's allow
// list (listener[0].allow). ALLOW_CIDR_STEP=invalid types a line that is not
// a network (10.0.0.0/33) and saves: the page must come back 422 with the
// error inside that field's div.field, naming the line, and keep what was
// typed (the Rust test checks the file did not change). ALLOW_CIDR_STEP=valid
// saves 192.0.2.0/24 instead and must show the saved notice.
import { check } from "../browser.mjs";

const FIELD = "#f-listener-0-allow";

export async function run(context, env) {
  const url = env.PBXGATE_URL;
  const step = env.ALLOW_CIDR_STEP;
  check(url && env.PBXGATE_PASSWORD, "PBXGATE_URL and PBXGATE_PASSWORD");
  check(step === "invalid" || step === "valid", `ALLOW_CIDR_STEP=${step}`);
  const page = await context.newPage();

  await page.goto(`${url}/login`);
  await page.fill("#login-user", env.PBXGATE_USER || "admin");
  await page.fill("#login-password", env.PBXGATE_PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click("#login-submit")]);
  check(new URL(page.url()).pathname === "/", `login led to ${page.url()}`);
  console.log("logged in");

  await page.goto(`${url}/config/listeners`);
  check(await page.isVisible("form#form-listener"), "no form#form-listener");
  const before = await page.inputValue(FIELD);
  console.log(`listener[0].allow holds: ${JSON.stringify(before)}`);
  check(before.includes("127.0.0.0/8"), "the WAN allow list is not the test's");
  // The list is written out, not left to the side's default.
  const useDefault = page.locator(`${FIELD}-default`);
  if ((await useDefault.count()) === 1 && (await useDefault.isChecked())) {
    await useDefault.uncheck();
  }

  const lines = step === "invalid" ? "127.0.0.0/8\n10.0.0.0/33" : "127.0.0.0/8\n192.0.2.0/24";
  await page.fill(FIELD, lines);
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.click("#save-listener"),
  ]);
  console.log(`saved ${JSON.stringify(lines)}: ${response.status()}`);

  if (step === "invalid") {
    check(response.status() === 422, `the invalid list was answered ${response.status()}`);
    check((await page.locator("#saved").count()) === 0, "the page says it saved");
    // The error sits in the allow field's own block, next to the list.
    const atField = page.locator(`div.field:has(${FIELD}) p.field-error`);
    check((await atField.count()) >= 1, "no p.field-error in the allow field's div.field");
    const field = await atField.first().getAttribute("data-field");
    const text = (await atField.first().textContent()).trim();
    check(field && field.startsWith("listener[0].allow"), `the error is for ${field}`);
    check(text.includes("10.0.0.0/33"), `the error does not name the line: ${text}`);
    check(await atField.first().isVisible(), "the error is not visible");
    // What was typed comes back, to be corrected.
    const kept = (await page.inputValue(FIELD)).replace(/\r\n/g, "\n");
    check(kept.includes("10.0.0.0/33"), `the typed list was lost: ${JSON.stringify(kept)}`);
    await page.locator(`div.field:has(${FIELD})`).scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${env.SCREENSHOT_DIR}/allow-cidr-error.png`, fullPage: true });
    console.log(`error at ${field}: ${text} (allow-cidr-error.png)`);
  } else {
    check(response.status() === 200, `the valid list was answered ${response.status()}`);
    check(await page.isVisible("#saved"), "no #saved notice");
    check((await page.locator("p.field-error").count()) === 0, "an error after a valid save");
    await page.goto(`${url}/config/listeners`);
    const now = await page.inputValue(FIELD);
    check(now.includes("192.0.2.0/24"), `after the save the page shows ${JSON.stringify(now)}`);
    await page.screenshot({ path: `${env.SCREENSHOT_DIR}/allow-cidr-saved.png`, fullPage: true });
    console.log(`saved; the page shows ${JSON.stringify(now)} (allow-cidr-saved.png)`);
  }
}
