// Acceptance 3 of issue 19: "Test a call" with a pasted INVITE
// ($PBXGATE_INVITE, a Retreaver call with the X-PH headers, built by the
// Rust test) names the route taken. Prints `route-taken: NAME` for the Rust
// test, which then makes the real call and checks it went there.
import { check } from "../browser.mjs";

export async function run(context, env) {
  const url = env.PBXGATE_URL;
  const invite = env.PBXGATE_INVITE;
  check(url && env.PBXGATE_PASSWORD && invite, "PBXGATE_URL, PBXGATE_PASSWORD, PBXGATE_INVITE");
  const page = await context.newPage();

  await page.goto(`${url}/login`);
  await page.fill("#login-user", env.PBXGATE_USER || "admin");
  await page.fill("#login-password", env.PBXGATE_PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click("#login-submit")]);
  check(new URL(page.url()).pathname === "/", `login led to ${page.url()}`);
  console.log("logged in");

  await page.goto(`${url}/test-call`);
  check(await page.isVisible("#invite"), "no #invite on /test-call");
  await page.fill("#invite", invite);
  await page.selectOption("#side", "wan");
  const [response] = await Promise.all([page.waitForNavigation(), page.click("#run")]);
  check(response.status() === 200, `Test answered ${response.status()}`);
  check(await page.isVisible("#result"), "no #result");
  console.log("INVITE pasted and tested");

  const taken = page.locator("#route-taken");
  check((await taken.count()) === 1, "no #route-taken");
  const route = await taken.getAttribute("data-route");
  check(route, "no route takes the pasted call");
  check((await taken.textContent()).trim() === route, "#route-taken shows another name");
  const targets = await page.locator("#targets li").allTextContents();
  check(targets.length >= 1, "no targets");
  const headers = await page.locator("#headers-applied tr.header").evaluateAll((trs) =>
    trs.map((tr) => `${tr.cells[0].textContent}: ${tr.cells[1].textContent}`),
  );
  const notMatched = await page.locator("#not-matched li").evaluateAll((lis) =>
    lis.map((li) => li.textContent.trim()),
  );
  check(
    (await page.textContent("#invite-tested")).includes("X-PH-RetreaverAFID"),
    "the INVITE tested lost its X-PH headers",
  );
  await page.screenshot({ path: `${env.SCREENSHOT_DIR}/test-call.png`, fullPage: true });
  console.log(`targets: ${targets.join(", ")}`);
  console.log(`headers to the PBX: ${headers.join(" | ")}`);
  console.log(`not matched: ${notMatched.join(" | ")}`);
  console.log(`route-taken: ${route}`);
}
