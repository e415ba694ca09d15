// The status page during a live call: the account's registration, and the
// call's row with both legs' Call-IDs, its route, target and codec.
// Screenshot status.png while the call is up.
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

  const reg = page.locator(`#registrations tr.registration[data-account="${env.ACCOUNT}"]`);
  await reg.waitFor({ timeout: 10000 });
  const state = (await reg.locator("td.state").textContent()).trim();
  check(state === "registered", `account ${env.ACCOUNT} is '${state}', not registered`);
  console.log(`registration: ${env.ACCOUNT} ${state}`);

  // status.js redraws the table every 2 s; the call's row is there at once
  // (the page is drawn with it) or at the next redraw.
  const row = page.locator(`#calls-active tr.call[data-call-id="${env.CALL_ID}"]`);
  await row.waitFor({ timeout: 10000 });
  const legs = await row.locator("td.leg").allTextContents();
  check(legs.length === 2, `the row has ${legs.length} leg cells`);
  check(legs[0].includes(env.CALLER_CALL_ID), `caller leg cell: ${legs[0]}`);
  check(legs[1].includes(env.CALLEE_CALL_ID), `callee leg cell: ${legs[1]}`);
  check(legs[0].includes("+15551230000"), `the caller's From: ${legs[0]}`);
  console.log(`call ${env.CALL_ID}: caller leg ${env.CALLER_CALL_ID}, callee leg ${env.CALLEE_CALL_ID}`);
  const route = (await row.locator("td.route").textContent()).trim();
  check(route === env.ROUTE, `route '${route}', not '${env.ROUTE}'`);
  const target = (await row.locator("td.target").textContent()).trim();
  check(target === env.TARGET, `target '${target}', not '${env.TARGET}'`);
  const codec = (await row.locator("td.codec").textContent()).trim();
  check(codec === "PCMU", `codec '${codec}'`);
  const media = await row.locator("td.media").textContent();
  check(media.includes("pkts"), `media cell: ${media}`);
  console.log(`route ${route}, target ${target}, codec ${codec}, media ${media}`);

  await page.screenshot({ path: `${env.SCREENSHOT_DIR}/status.png`, fullPage: true });
  console.log("screenshot status.png");
}
