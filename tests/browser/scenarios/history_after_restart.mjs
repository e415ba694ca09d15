// After a restart, a finished call is in the history: its row on /calls
// (found by its Retreaver UUID) and its own page with both legs' Call-IDs
// and the X-PH headers the caller sent. Screenshots calls.png, call.png.
import { check } from "../browser.mjs";

async function logIn(page, env) {
  await page.goto(`${env.PBXGATE_URL}/login`);
  await page.fill("#login-user", env.PBXGATE_USER);
  await page.fill("#login-password", env.PBXGATE_PASSWORD);
  await Promise.all([page.waitForURL(`${env.PBXGATE_URL}/`), page.click("#login-submit")]);
  console.log("logged in");
}

export async function run(context, env) {
  const page = await context.newPage();
  await logIn(page, env);

  await page.goto(`${env.PBXGATE_URL}/calls`);
  const row = page.locator(`#calls tr.call[data-call-id="${env.CALL_ID}"]`);
  await row.waitFor({ timeout: 5000 });
  const text = await row.textContent();
  check(text.includes(env.UUID), `the row has no UUID ${env.UUID}: ${text}`);
  check(text.includes(env.AFID), `the row has no AFID ${env.AFID}: ${text}`);
  check(text.includes(env.ROUTE), `the row has no route ${env.ROUTE}: ${text}`);
  check(!text.includes("in progress"), `the call is still in progress: ${text}`);
  console.log(`/calls: row ${env.CALL_ID} with UUID ${env.UUID}, AFID ${env.AFID}`);
  await page.screenshot({ path: `${env.SCREENSHOT_DIR}/calls.png`, fullPage: true });

  // The search by UUID finds it too.
  await page.fill("#search [name=uuid]", env.UUID);
  await Promise.all([page.waitForURL(/\/calls\?.*uuid=/), page.click("#search [type=submit]")]);
  const found = await page.locator("#calls tr.call[data-call-id]").evaluateAll((rows) =>
    rows.map((r) => r.dataset.callId),
  );
  check(
    found.length === 1 && found[0] === env.CALL_ID,
    `search by UUID found ${JSON.stringify(found)}`,
  );
  console.log("search by UUID: the one call");

  await Promise.all([
    page.waitForURL(`${env.PBXGATE_URL}/calls/${env.CALL_ID}`),
    page.locator(`#calls tr.call[data-call-id="${env.CALL_ID}"] a`).first().click(),
  ]);
  const callerLeg = (await page.textContent("#call-caller-call-id")).trim();
  const calleeLeg = (await page.textContent("#call-callee-call-id")).trim();
  check(callerLeg === env.CALLER_CALL_ID, `caller Call-ID '${callerLeg}'`);
  check(calleeLeg === env.CALLEE_CALL_ID, `callee Call-ID '${calleeLeg}'`);
  const xh = await page.textContent("#x-headers");
  for (const [name, value] of [
    ["X-PH-RetreaverUUID", env.UUID],
    ["X-PH-RetreaverAFID", env.AFID],
    ["X-PH-RetreaverSID", "sub-7"],
  ]) {
    check(xh.includes(name) && xh.includes(value), `#x-headers lacks ${name}: ${value}: ${xh}`);
  }
  const out = await page.textContent("#headers-out");
  check(out.includes("X-Publisher-ID") && out.includes(env.AFID), `#headers-out: ${out}`);
  check((await page.locator("#hangup").count()) === 0, "a finished call offers Hang up");
  console.log(`call page: legs ${callerLeg} / ${calleeLeg}, X-PH values and headers out shown`);
  await page.screenshot({ path: `${env.SCREENSHOT_DIR}/call.png`, fullPage: true });
  console.log("screenshots calls.png, call.png");
}
