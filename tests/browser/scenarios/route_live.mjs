// A route added on /config/routes while a call is in progress: a new
// route block, one match rule and one target, then Save. The page must say
// it applies to new calls at once (no restart). Screenshot route_saved.png.
import { check } from "../browser.mjs";

async function logIn(page, env) {
  await page.goto(`${env.PBXGATE_URL}/login`);
  await page.fill("#login-user", env.PBXGATE_USER);
  await page.fill("#login-password", env.PBXGATE_PASSWORD);
  await Promise.all([page.waitForURL(`${env.PBXGATE_URL}/`), page.click("#login-submit")]);
  console.log("logged in");
}

// "Add a ..." posts the form and the page comes back with the new block.
async function add(page, button, block) {
  await Promise.all([page.waitForSelector(block), page.click(button)]);
}

export async function run(context, env) {
  const page = await context.newPage();
  await logIn(page, env);
  await page.goto(`${env.PBXGATE_URL}/config/routes`);
  const n = await page.locator("#f-route > fieldset.entry").count();
  console.log(`routes page: ${n} route(s)`);

  await add(page, "#f-route-add", `#f-route-${n}`);
  await add(page, `#f-route-${n}-match-add`, `#f-route-${n}-match-0`);
  await add(page, `#f-route-${n}-targets-add`, `#f-route-${n}-targets-0`);
  console.log(`added route[${n}] with a match rule and a target`);

  await page.fill(`#f-route-${n}-name`, env.ROUTE);
  await page.fill(`#f-route-${n}-match-0-header`, env.MATCH_HEADER);
  await page.fill(`#f-route-${n}-match-0-equals`, env.MATCH_EQUALS);
  await page.fill(`#f-route-${n}-targets-0-uri`, env.TARGET);
  console.log(`filled: ${env.ROUTE}: ${env.MATCH_HEADER} = ${env.MATCH_EQUALS} -> ${env.TARGET}`);

  await Promise.all([page.waitForSelector(".notice#saved"), page.click("#save-route")]);
  const notice = await page.textContent(".notice#saved");
  const restart = await page.locator("#needs-restart li").count();
  check(restart === 0, `the save asks for a restart: ${notice}`);
  check(
    (await page.inputValue(`#f-route-${n}-name`)) === env.ROUTE,
    "the saved page does not show the new route",
  );
  console.log(`saved: ${notice.trim()}`);
  await page.screenshot({ path: `${env.SCREENSHOT_DIR}/route_saved.png`, fullPage: true });
}
