// A direct upload to the operations bucket: S3 keeps the chosen file's name as the
// object's metadata (URL-encoded: S3 metadata is ASCII). No inline script: strict CSP.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("import-upload-form");
  const file = document.getElementById("id_file");
  const name = document.getElementById("id_filename");
  if (!form || !file || !name) {
    return;
  }
  const remember = () => {
    name.value = file.files.length ? encodeURIComponent(file.files[0].name) : "";
  };
  file.addEventListener("change", remember);
  form.addEventListener("submit", remember);
});
