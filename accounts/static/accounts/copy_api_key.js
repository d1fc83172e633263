// Copy the just-issued API key to the clipboard (served from our static files: no inline JS).
document.getElementById("copy-api-key").addEventListener("click", async () => {
  const field = document.getElementById("issued-api-key");
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
  } catch {
    document.execCommand("copy");
  }
  document.getElementById("copy-api-key-done").hidden = false;
});
