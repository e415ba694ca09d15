// System page: sends the chosen update bundle as the body of
// POST /api/v1/system/update with the session's CSRF token in a header, so
// the box streams it to disk (no multipart form to parse), and shows the
// answer: what was installed and what happens next, or why it was refused.
// A block of its own: the System page loads several scripts, and top-level
// consts of classic scripts share one scope (a second `file` is an error).
{
  const form = document.getElementById("form-update");
  const file = document.getElementById("update-file");
  const out = document.getElementById("update-result");
  const button = document.getElementById("update-submit");
  if (form && file && out && button) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = file.files && file.files[0];
      if (!f) {
        out.textContent = "Choose a .raucb file first.";
        return;
      }
      if (f.size > Number(form.dataset.max)) {
        out.textContent = "That file is larger than an update can be.";
        return;
      }
      button.disabled = true;
      out.textContent = "Uploading and installing; this takes a few minutes. Keep this page open.";
      try {
        const r = await fetch(form.dataset.action, {
          method: "POST",
          headers: {
            "Content-Type": "application/octet-stream",
            "X-CSRF-Token": document.getElementById("update-csrf").value,
          },
          body: f,
        });
        const answer = await r.json().catch(() => ({ error: "the box answered " + r.status }));
        out.textContent = r.ok ? answer.next : "Not installed: " + answer.error;
        out.className = r.ok ? "notice" : "error";
      } catch (e) {
        out.textContent = "The upload broke off: " + e;
        out.className = "error";
      } finally {
        button.disabled = false;
      }
    });
  }
}
