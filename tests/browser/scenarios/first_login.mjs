// Acceptance 1 of issue 19, all in the browser: the login page; a wrong
// password refused; the one-time password ($PBXGATE_ONE_TIME) leading only
// to "Set your password", which refuses to keep it and takes
// $PBXGATE_PASSWORD; after logging out, the one-time password refused; then
// failures up to $PBXGATE_LOGIN_FAILURES and the right password answered
// "Too many failed logins". The Rust test checks the rest from elsewhere.
import { check } from "../browser.mjs";

export async function run(context, env) {
  const url = env.PBXGATE_URL;
  const user = env.PBXGATE_USER || "admin";
  const oneTime = env.PBXGATE_ONE_TIME;
  const mine = env.PBXGATE_PASSWORD;
  const limit = Number(env.PBXGATE_LOGIN_FAILURES || "5");
  check(url && oneTime && mine, "PBXGATE_URL, PBXGATE_ONE_TIME, PBXGATE_PASSWORD");
  const page = await context.newPage();

  const logIn = async (password) => {
    await page.goto(`${url}/login`);
    await page.fill("#login-user", user);
    await page.fill("#login-password", password);
    const [response] = await Promise.all([
      page.waitForNavigation(),
      page.click("#login-submit"),
    ]);
    return response;
  };
  const errorText = async () =>
    (await page.locator("#login-error").count()) === 1
      ? (await page.textContent("#login-error")).trim()
      : null;

  // Anything asks for a login first.
  await page.goto(`${url}/`);
  check(new URL(page.url()).pathname === "/login", `/ led to ${page.url()}, not /login`);
  check(await page.isVisible("form#login"), "no form#login");
  await page.screenshot({ path: `${env.SCREENSHOT_DIR}/login.png`, fullPage: true });
  console.log("login page shown (login.png)");

  // A wrong password.
  await logIn("not the password");
  check(new URL(page.url()).pathname === "/login", `a wrong password led to ${page.url()}`);
  const wrong = await errorText();
  check(wrong && /wrong/i.test(wrong), `no refusal in #login-error: ${wrong}`);
  console.log(`wrong password refused: ${wrong}`);

  // The one-time password: only "Set your password" is reachable.
  await logIn(oneTime);
  check(
    new URL(page.url()).pathname === "/first-password",
    `the one-time password led to ${page.url()}, not /first-password`,
  );
  for (const path of ["/", "/config/listeners", "/calls", "/test-call"]) {
    await page.goto(`${url}${path}`);
    check(
      new URL(page.url()).pathname === "/first-password",
      `${path} was reachable before the password change (${page.url()})`,
    );
  }
  console.log("one-time password logged in; every page leads to /first-password");

  // It cannot be kept as the new password.
  await page.fill("#new-password", oneTime);
  await page.fill("#confirm-password", oneTime);
  await Promise.all([page.waitForNavigation(), page.click("#first-password-submit")]);
  const rule = page.locator('p.field-error[data-field="password"]');
  check((await rule.count()) === 1, "keeping the one-time password was not refused at the field");
  console.log(`keeping the one-time password refused: ${(await rule.textContent()).trim()}`);
  await page.screenshot({ path: `${env.SCREENSHOT_DIR}/first-password.png`, fullPage: true });

  await page.fill("#new-password", mine);
  await page.fill("#confirm-password", mine);
  await Promise.all([page.waitForNavigation(), page.click("#first-password-submit")]);
  check(new URL(page.url()).pathname === "/", `after the change: ${page.url()}, not /`);
  check(await page.isVisible("table#registrations"), "the status page did not come");
  const who = (await page.textContent("span#user")).trim();
  check(who.includes(user), `span#user says ${who}`);
  console.log(`own password set; status page shown for ${who}`);

  // Log out; the one-time password worked once.
  await Promise.all([page.waitForNavigation(), page.click("form.logout button")]);
  check(new URL(page.url()).pathname === "/login", `logout led to ${page.url()}`);
  await logIn(oneTime);
  check(new URL(page.url()).pathname === "/login", `the one-time password logged in again: ${page.url()}`);
  const spent = await errorText();
  check(spent && /wrong/i.test(spent), `the spent one-time password: ${spent}`);
  console.log("logged out; the one-time password is refused now (failure 1)");

  // More failures up to the limit, then even the right password is refused.
  for (let i = 2; i <= limit; i++) {
    const r = await logIn(`guess ${i}`);
    check(r.status() === 401, `failure ${i} answered ${r.status()}`);
  }
  console.log(`${limit} failures`);
  const r = await logIn(mine);
  check(r.status() === 429, `after ${limit} failures the right password was answered ${r.status()}`);
  const limited = await errorText();
  check(limited && /too many failed logins/i.test(limited), `no limit message: ${limited}`);
  check(new URL(page.url()).pathname === "/login", `limited, yet at ${page.url()}`);
  await page.screenshot({ path: `${env.SCREENSHOT_DIR}/login-limited.png`, fullPage: true });
  console.log(`limited: ${limited}`);
}
