// System page: a backup file chosen on the computer is read into the
// restore box, so it is posted as text with the form's CSRF token (no
// multipart upload to parse on the box).
// A block of its own: the System page loads several scripts, and top-level
// consts of classic scripts share one scope (a second `file` is an error).
{
  const file = document.getElementById("restore-file");
  const box = document.getElementById("restore-toml");
  if (file && box) {
    file.addEventListener("change", () => {
      const f = file.files && file.files[0];
      if (!f) return;
      if (f.size > 512 * 1024) {
        box.value = "";
        alert("That file is larger than a configuration can be (512 KiB).");
        return;
      }
      const reader = new FileReader();
      reader.onload = () => { box.value = String(reader.result); };
      reader.readAsText(f);
    });
  }
}
