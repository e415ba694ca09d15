// The browser itself works: a page renders and a screenshot is written.
import { check } from "../browser.mjs";

export async function run(context, env) {
  const page = await context.newPage();
  await page.setContent("<h1 id=t>pbxgate</h1>");
  check((await page.textContent("#t")) === "pbxgate", "the page did not render");
  if (env.SCREENSHOT_DIR) {
    await page.screenshot({ path: `${env.SCREENSHOT_DIR}/smoke.png` });
  }
}
